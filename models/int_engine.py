"""The integer LSTM engine: one step = one byte for each of B streams, integer-exact.

Everything that reaches the coder is int32 arithmetic (exact int8 GEMMs, multiply + arithmetic
shift, table look-ups), so the frequency tables are identical for any batch size, thread
count or device. Formats: `models.fixed_point`; bounds are proven by `models.quantize`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from lstmzip.models import fixed_point as fp
from lstmzip.models.exact_matmul import ExactMatmul
from lstmzip.models.quantize import QuantizedModel

_HALF = fp.GATE_ONE // 2  # sigmoid value 0.5 in Q15


@dataclass
class EngineState:
    h: list[torch.Tensor]  # per layer, int8 [B, H], scale 1/128
    c: list[torch.Tensor]  # per layer, int32 [B, H], Q11

    def select(self, idx: torch.Tensor) -> "EngineState":
        return EngineState([h[idx] for h in self.h], [c[idx] for c in self.c])

    @staticmethod
    def concat(states: list["EngineState"]) -> "EngineState":
        layers = len(states[0].h)
        return EngineState([torch.cat([s.h[i] for s in states]) for i in range(layers)],
                           [torch.cat([s.c[i] for s in states]) for i in range(layers)])


class IntegerLSTM:
    def __init__(self, qm: QuantizedModel, device: str | torch.device = "cpu", use_int_mm: bool | None = None):
        self.cfg = qm.cfg
        self.device = torch.device(device)
        t = {k: v.to(self.device) for k, v in qm.tensors.items()}
        self.layers = []
        self._layer_w = [t[f"layer{layer}.w"] for layer in range(self.cfg.layers)]
        self._use_int_mm, self._halves = use_int_mm, None  # (recurrent's split weights)
        for layer in range(self.cfg.layers):
            add = t["layer0.in_table"] if layer == 0 else t[f"layer{layer}.bias"]
            self.layers.append((ExactMatmul(t[f"layer{layer}.w"], self.device, use_int_mm),
                                t[f"layer{layer}.mult"], t[f"layer{layer}.shift"], add))
        self.use_int_mm = self.layers[0][0].use_int_mm
        self.head = ExactMatmul(t["head.w"], self.device, use_int_mm)
        self.head_mult, self.head_shift, self.head_bias = t["head.mult"], t["head.shift"], t["head.bias"]
        self.lut_sigmoid = t["lut.sigmoid"]
        self.lut_exp = t["lut.exp"]

    def initial_state(self, batch: int) -> EngineState:
        H, L = self.cfg.hidden, self.cfg.layers
        return EngineState([torch.zeros(batch, H, dtype=torch.int8, device=self.device) for _ in range(L)],
                           [torch.zeros(batch, H, dtype=torch.int32, device=self.device) for _ in range(L)])

    def start_bytes(self, batch: int) -> torch.Tensor:
        return torch.full((batch,), fp.START_BYTE, dtype=torch.int64, device=self.device)

    def _sigmoid(self, idx: torch.Tensor) -> torch.Tensor:
        idx = idx.clamp_(0, fp.LUT_SIZE - 1)
        return self.lut_sigmoid.index_select(0, idx.view(-1)).view(idx.shape)

    def _cell(self, idx: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """idx: int32 [B, 4H] LUT indices (unclamped); c: Q11 -> new h (int8), new c.

        In-place ops where possible: at CPU batch sizes the allocations cost as much as the math.
        """
        H = self.cfg.hidden
        s = self._sigmoid(idx)  # Q15; the g block holds sigmoid(2x)
        i, f, sg, o = s[:, :H], s[:, H : 2 * H], s[:, 2 * H : 3 * H], s[:, 3 * H :]
        # i*g with g = 2*sg - 1 (Q15): i*(sg - 1/2) is i*g/2 in Q30; >> 3 gives i*g in Q26.
        ig = sg.sub(_HALF).mul_(i).bitwise_right_shift_(3)
        # c' = f*c + i*g: Q26, rounded back to Q11.
        c = f.mul(c).add_(ig).add_(1 << 14).bitwise_right_shift_(15).clamp_(-fp.CELL_MAX, fp.CELL_MAX)
        # tanh(c) = 2*sigmoid(2c) - 1; 2c in LUT steps of 1/256 is c/4 (rounded).
        sc = self._sigmoid(c.add(2 + (fp.LUT_HALF << 2)).bitwise_right_shift_(2))
        # h = o * tanh(c) = 2*o*(sc - 1/2): Q30 -> steps of 1/128 is >> 22 (rounded).
        h = sc.sub_(_HALF).mul_(o).add_(1 << 21).bitwise_right_shift_(22).clamp_(-127, 127).to(torch.int8)
        return h, c

    def step(self, x: torch.Tensor, state: EngineState) -> tuple[torch.Tensor, EngineState]:
        """x: int64 [B] previous bytes -> int32 frequencies [B, 256] (each >= 1), next state."""
        logits, state = self.step_logits(x, state)
        return self.freqs(logits), state

    def freqs(self, logits: torch.Tensor) -> torch.Tensor:
        """int32 logits [B, 256] (1/64 nat) -> int32 frequencies (each >= 1); consumes logits."""
        top = logits.amax(dim=1, keepdim=True)
        d = logits.neg_().add_(top).clamp_(0, fp.EXP_TABLE_SIZE - 1)  # max - logit
        return self.lut_exp.index_select(0, d.view(-1)).view(d.shape)

    def recurrent(self, state: EngineState) -> list[torch.Tensor]:
        """Each layer's product with its own h, scaled (times the layer's mult; a higher layer's
        plus its bias: what is left to add is its input's part): step_logits(x, state, these)
        gives what step_logits(x, state) gives, so these can be worked out before x is known (a
        decoder's child process does, while the byte is decoded; int32 sums in another order,
        the same integers: a part's bound is within the whole's, and wrapping sums agree
        anyway). A higher layer's weights are split in two for it (its input's half and its own
        h's), made on the first call: two half-width products cost one full one on the 2-core
        EPYC (346 rows: 189 us each, 393 us with the concatenation)."""
        if self._halves is None:
            H = self.cfg.hidden
            self._halves = [None] + [(ExactMatmul(w[:, :H].contiguous(), self.device, self._use_int_mm),
                                      ExactMatmul(w[:, H:].contiguous(), self.device, self._use_int_mm))
                                     for w in self._layer_w[1:]]
        mm, mult = self.layers[0][:2]
        return [mm(state.h[0]).mul_(mult)] + [own(h).mul_(mult).add_(add) for (_, own), h, (_, mult, _, add)
                                                in zip(self._halves[1:], state.h[1:], self.layers[1:])]

    def step_logits(self, x: torch.Tensor, state: EngineState, recurrent: list[torch.Tensor] | None = None
                    ) -> tuple[torch.Tensor, EngineState]:
        """x: int64 [B] previous bytes -> int32 logits [B, 256] in 1/64 nat, next state
        (`recurrent`: self.recurrent(state), worked out before; consumed)."""
        hs, cs = [], []
        for layer, (mm, mult, shift, add) in enumerate(self.layers):
            if recurrent is not None:  # (scaled, a higher layer's with its bias)
                part = add.index_select(0, x) if layer == 0 else self._halves[layer][0](hs[-1]).mul_(mult)
                idx = recurrent[layer].add_(part).bitwise_right_shift_(shift)
            else:
                acc = mm(state.h[0] if layer == 0 else torch.cat([hs[-1], state.h[layer]], dim=1))
                idx = acc.mul_(mult).add_(add.index_select(0, x) if layer == 0 else add).bitwise_right_shift_(shift)
            h, c = self._cell(idx, state.c[layer])
            hs.append(h)
            cs.append(c)
        acc = self.head(torch.cat(hs, dim=1) if len(hs) > 1 else hs[0])
        logits = acc.mul_(self.head_mult).add_(self.head_bias).bitwise_right_shift_(self.head_shift)
        return logits, EngineState(hs, cs)
