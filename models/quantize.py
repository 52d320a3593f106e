"""Float model -> integer model: int8 weights, per-row (mult, shift) rescaling, look-up tables.

The integer model is a dict of integer tensors (`QuantizedModel`); `int_engine` runs it.
Quantisation is deterministic (float64 on CPU), so the same float weights always give the
same integer model. Formats: `models.fixed_point`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from lstmzip.models import fixed_point as fp
from lstmzip.models.config import ModelConfig
from lstmzip.models.float_lstm import FloatLSTM

GATE_UNITS = float(1 << fp.LUT_FRAC_BITS)
LOGIT_UNITS = float(1 << fp.LOGIT_FRAC_BITS)
ACC_MAX_PER_K = 127 * 127


@dataclass
class QuantizedModel:
    cfg: ModelConfig
    tensors: dict[str, torch.Tensor]


class QuantizationError(ValueError):
    pass


def _rows(w: np.ndarray, offset: np.ndarray, units: np.ndarray, center: float) -> dict[str, np.ndarray]:
    """Quantise rows of w [N, K] (float64) whose outputs, in `units` steps, get `offset` added.

    Returns int8 q, int32 mult and shift, and the int32 additive term at each row's
    resolution (offset + rounding half + `center`), for each row
        out = (acc * mult + add) >> shift,   acc = sum_k q[r, k] * h_int[k]  (h = h_int/128).
    `offset` may be [N] or [M, N] (one row per input byte for the first layer).
    """
    n, k = w.shape
    acc_max = ACC_MAX_PER_K * k
    wmax = np.abs(w).max(axis=1)
    # index steps per accumulator unit if q used the full +-127 range
    f = wmax / 127.0 / fp.H_SCALE * units
    off_max = np.abs(offset).max(axis=0) if offset.ndim == 2 else np.abs(offset)
    mult = np.zeros(n, dtype=np.int64)
    shift = np.zeros(n, dtype=np.int64)
    for r in range(n):
        budget = fp.INT32_LIMIT // 4  # room for acc*mult and for the additive term, each
        s_cap = int(math.floor(math.log2(budget / (off_max[r] + center + 2.0))))
        if f[r] > 0:
            s = int(math.ceil(math.log2(8.0 / f[r])))  # smallest s with f * 2^s >= 8
        else:
            s = 0
        s = max(0, min(s, s_cap, 30))
        m = int(math.ceil(f[r] * 2.0**s - 1e-12))
        if m > fp.MULT_MAX:  # only when s hit 0 with huge weights
            raise QuantizationError(f"weights too large to quantise (row {r}, max {wmax[r]:.3g})")
        mult[r], shift[r] = max(m, 1), s
    step = mult / 2.0**shift / units * fp.H_SCALE  # weight value of one q step
    q = np.clip(np.round(w / step[:, None]), -127, 127).astype(np.int8)
    add = np.round(offset * units * 2.0**shift) + 2.0 ** (shift - 1) * (shift > 0) + center * 2.0**shift
    worst = acc_max * mult + np.abs(add).max(axis=0) if add.ndim == 2 else acc_max * mult + np.abs(add)
    if worst.max() >= fp.INT32_LIMIT:
        raise QuantizationError("model too large for int32 accumulation")
    return {"w": q, "mult": mult.astype(np.int32), "shift": shift.astype(np.int32), "add": add.astype(np.int32)}


def make_luts() -> dict[str, torch.Tensor]:
    xs = (np.arange(fp.LUT_SIZE, dtype=np.float64) - fp.LUT_HALF) / (1 << fp.LUT_FRAC_BITS)
    sig = np.round(fp.GATE_ONE / (1.0 + np.exp(-xs)))
    d = np.arange(fp.EXP_TABLE_SIZE, dtype=np.float64)
    exp = np.maximum(1, np.round(2.0**fp.EXP_ONE_BITS * np.exp(-d / (1 << fp.LOGIT_FRAC_BITS))))
    return {"lut.sigmoid": torch.from_numpy(sig.astype(np.int32)), "lut.exp": torch.from_numpy(exp.astype(np.int32))}


def gate_input_scale(hidden: int) -> np.ndarray:
    """1 for sigmoid gates, 2 for the tanh gate g (tanh(x) = 2*sigmoid(2x) - 1)."""
    s = np.ones(4 * hidden)
    s[2 * hidden : 3 * hidden] = 2.0
    return s


@torch.no_grad()
def quantize(model: FloatLSTM) -> QuantizedModel:
    cfg = model.cfg
    H = cfg.hidden
    g2 = gate_input_scale(H)
    out: dict[str, torch.Tensor] = make_luts()
    for layer, lstm in enumerate(model.lstms):
        w_ih = lstm.weight_ih_l0.double().numpy()
        w_hh = lstm.weight_hh_l0.double().numpy()
        bias = (lstm.bias_ih_l0.double() + lstm.bias_hh_l0.double()).numpy()
        if layer == 0:
            w = w_hh
            offset = (model.embed.weight.double().numpy() @ w_ih.T + bias) * g2  # [256, 4H]
        else:
            w = np.concatenate([w_ih, w_hh], axis=1)
            offset = bias * g2
        rows = _rows(w * g2[:, None], offset, GATE_UNITS, fp.LUT_HALF)
        out[f"layer{layer}.w"] = torch.from_numpy(rows["w"])
        out[f"layer{layer}.mult"] = torch.from_numpy(rows["mult"])
        out[f"layer{layer}.shift"] = torch.from_numpy(rows["shift"])
        out["layer0.in_table" if layer == 0 else f"layer{layer}.bias"] = torch.from_numpy(rows["add"])
    rows = _rows(model.head.weight.double().numpy(), model.head.bias.double().numpy(), LOGIT_UNITS, 0.0)
    out["head.w"] = torch.from_numpy(rows["w"])
    out["head.mult"] = torch.from_numpy(rows["mult"])
    out["head.shift"] = torch.from_numpy(rows["shift"])
    out["head.bias"] = torch.from_numpy(rows["add"])
    return QuantizedModel(cfg, {k: v.contiguous() for k, v in out.items()})


def expected_shapes(cfg: ModelConfig) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """What a model file must hold; checked before the engine touches it."""
    H, L = cfg.hidden, cfg.layers
    shapes = {
        "lut.sigmoid": ((fp.LUT_SIZE,), torch.int32),
        "lut.exp": ((fp.EXP_TABLE_SIZE,), torch.int32),
        "layer0.in_table": ((256, 4 * H), torch.int32),
        "head.w": ((256, L * H), torch.int8),
        "head.mult": ((256,), torch.int32),
        "head.shift": ((256,), torch.int32),
        "head.bias": ((256,), torch.int32),
    }
    for layer in range(L):
        k = H if layer == 0 else 2 * H
        shapes[f"layer{layer}.w"] = ((4 * H, k), torch.int8)
        shapes[f"layer{layer}.mult"] = ((4 * H,), torch.int32)
        shapes[f"layer{layer}.shift"] = ((4 * H,), torch.int32)
        if layer:
            shapes[f"layer{layer}.bias"] = ((4 * H,), torch.int32)
    return shapes
