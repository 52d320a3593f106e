"""Context bias on the device (lstmzip.stages.host.context_bias's BIAS_V1/BIAS_V2 arithmetic, batched over
blocks): tables keyed by the last 1-7 bytes add learned biases to the LSTM's logits.

The integers are those of lstmzip.stages.host.context_bias.ContextBias for the same config (tested step by
step), so a block coded here matches one coded there. Each block has its own tables: row ids
are offset by block * rows_per_block.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from lstmzip.stages.lazy import lazy_zeros
from lstmzip.stages.rows import RowBatch, pick, put
from lstmzip.stages.host.context_bias import _HASH_MULT, _HASH_MULT_HI, ENTRIES, MAX_STREAMS, P_BITS, BiasConfig, _table_rows


def zeros(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Zeroed memory; on the CPU mapped as it is written (memory grows with the contexts
    actually seen, not with the table size: lstmzip.stages.lazy)."""
    if device.type == "cpu":
        return torch.from_numpy(lazy_zeros(shape, torch.empty(0, dtype=dtype).numpy().dtype))
    return torch.zeros(shape, dtype=dtype, device=device)


class BiasStage:
    def __init__(self, cfg: BiasConfig, rows: RowBatch, exp_table: torch.Tensor):
        if cfg.record or cfg.match_context or cfg.rep_context or cfg.logit_scale or cfg.mixer:
            raise ValueError("the device context bias has orders only (BIAS_V1, BIAS_V2)")
        dev = rows.device
        self.cfg, self.rows = cfg, rows
        self.exp = exp_table.to(dev, torch.int32)
        sizes = [_table_rows(k, cfg.hash_bits) for k in cfg.orders]
        per_block = sum(sizes)
        offsets = np.cumsum([0] + sizes[:-1])
        # one row more than the blocks use: the scratch row that update() writes unused slots to
        self.scratch_row = rows.blocks * per_block
        # entries of entry_bits (ENTRIES), each clamped within +-limit
        dtype, self.limit = ENTRIES[cfg.entry_bits]
        self.table = zeros((self.scratch_row + 1, 256), torch.from_numpy(np.zeros(0, dtype)).dtype, dev)
        self.row_updates = torch.zeros(self.scratch_row + 1, dtype=torch.int64, device=dev)
        self.block_off = rows.block * per_block
        # on the CPU the rows a step updates are found by torch.unique (fewer rows to update;
        # the same integers)
        self.sync_free = dev.type != "cpu"
        self.ctx = torch.full((rows.rows,), 10, dtype=torch.int64, device=dev)
        self.ctx_mask = (1 << (8 * max(4, *cfg.orders))) - 1
        direct = [i for i, k in enumerate(cfg.orders) if 256 ** k <= (1 << cfg.hash_bits)]
        hashed = [i for i in range(len(cfg.orders)) if i not in direct]
        if direct != list(range(len(direct))):
            raise ValueError("direct orders come before hashed ones")

        def col(values) -> torch.Tensor:
            return torch.tensor(values, dtype=torch.int64, device=dev).unsqueeze(0)

        self.direct_mask = col([(1 << (8 * cfg.orders[i])) - 1 for i in direct])
        self.direct_off = col([int(offsets[i]) for i in direct])
        self.hashed = bool(hashed)
        self.lo_mask = col([(1 << (8 * min(cfg.orders[i], 4))) - 1 for i in hashed])
        self.hi_mask = col([(1 << (8 * max(cfg.orders[i] - 4, 0))) - 1 for i in hashed])
        self.hashed_off = col([int(offsets[i]) for i in hashed])
        most = min(MAX_STREAMS, max((lay.streams for lay in rows.layouts), default=1))
        # what a row's summed gradient is divided by, for every count it can have in a step:
        # round(sqrt(c)) or c (count 0 only in update's unused slots)
        if cfg.count_scale == "sqrt":
            scale = [max(1, (math.isqrt(4 * c) + 1) // 2) for c in range(most + 1)]
        elif cfg.count_scale == "mean":
            scale = [max(1, c) for c in range(most + 1)]
        else:
            raise ValueError(f"unknown count_scale {cfg.count_scale!r}")
        self.scale = torch.tensor(scale, dtype=torch.int64, device=dev)
        self._pending: tuple | None = None  # prepare_update's, for this step's update

    def _runs(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """torch.unique(flat, return_inverse=True, return_counts=True) with every shape
        following from flat's alone (no host sync: a step can be captured as a CUDA graph):
        sort the ids, number the runs of equal ids, and give the slots no run uses to a scratch
        row (count 0)."""
        m = flat.shape[0]
        sorted_ids, order = torch.sort(flat)
        starts = torch.ones(m, dtype=torch.bool, device=flat.device)
        starts[1:] = sorted_ids[1:] != sorted_ids[:-1]
        run = starts.to(torch.int64).cumsum_(0).sub_(1)
        run_of = torch.empty_like(run).scatter_(0, order, run)
        u = torch.full((m,), self.scratch_row, dtype=torch.int64, device=flat.device).scatter_(0, run, sorted_ids)
        count = torch.zeros(m, dtype=torch.int64, device=flat.device).index_add_(0, run_of, torch.ones_like(run_of))
        return u, run_of, count

    def gather(self, act: torch.Tensor | None) -> torch.Tensor:
        """The next step's biases of the active rows (int32 [n, 256], in table units): what
        freqs adds to the logits, read before the logits are there."""
        c = pick(self.ctx, act).unsqueeze(1)
        cols = [(c & self.direct_mask) + self.direct_off]
        if self.hashed:  # orders >= 3 hashed from their low 4 bytes and the bytes above them
            h = (c & self.lo_mask) * _HASH_MULT + ((c >> 32) & self.hi_mask) * _HASH_MULT_HI
            cols.append(((h >> 16) & ((1 << self.cfg.hash_bits) - 1)) + self.hashed_off)
        ids = torch.cat(cols, dim=1) + pick(self.block_off, act).unsqueeze(1)
        self._ids = ids
        return self.table.index_select(0, ids.view(-1)).view(c.shape[0], ids.shape[1], 256).sum(1, dtype=torch.int32)

    def freqs(self, logits: torch.Tensor, act: torch.Tensor | None, bias: torch.Tensor | None = None) -> torch.Tensor:
        """int32 logits [n, 256] of the active rows -> int32 frequencies (>= 1); `bias` from
        gather(act) where it was read already."""
        if bias is None:
            bias = self.gather(act)
        lg = logits.add(bias.bitwise_right_shift_(self.cfg.bias_frac_bits))
        d = lg.amax(dim=1, keepdim=True).sub(lg).clamp_(0, len(self.exp) - 1)
        f = self.exp.index_select(0, d.view(-1)).view(d.shape)
        self._f = f
        return f

    def prepare_update(self) -> None:
        """What update can do before this step's bytes are known (a decoder's child process
        does it while the parent decodes them): every table entry's step as if no byte landed
        on it, written to the table; update then redoes only the entries the bytes land on."""
        ids, f = self._ids, self._f
        n, k = ids.shape
        # p(x) in Q16 as f * (2^31 // total) >> 15 (int32: see lstmzip.stages.host.context_bias)
        recip = ((1 << 31) // f.sum(dim=1, keepdim=True, dtype=torch.int64)).to(torch.int32)
        g64 = f.mul(recip).bitwise_right_shift_(31 - P_BITS).neg_().to(torch.float64)
        u, run_of, count = self._runs(ids.view(-1)) if self.sync_free else torch.unique(
            ids.view(-1), return_inverse=True, return_counts=True)
        # integers below 2^53 in float64: exact in any summation order (and on the CPU a float64
        # index_add_ takes ~1/5 of an int32 one's time)
        sums = torch.zeros((u.shape[0], 256), dtype=torch.float64, device=f.device)
        runs = run_of.view(n, k)
        for j in range(k):  # each order's rows (no k-fold copy of the gradients)
            sums.index_add_(0, runs[:, j], g64)
        n_u = self.row_updates.index_select(0, u)
        factor = (self.cfg.warm << 16) // ((self.cfg.warm + n_u) * self.scale.index_select(0, count))
        factor = factor.to(torch.float64).mul_(2.0 ** -16)
        old = self.table.index_select(0, u).to(torch.int32)
        self.table.index_copy_(0, u, old.add(self._step(sums, factor.unsqueeze(1))).clamp_(-self.limit, self.limit).to(self.table.dtype))
        self.row_updates.index_copy_(0, u, n_u.add_(1).clamp_(max=self.cfg.cap))
        self._pending = (u, runs, sums, factor, old)

    def _step(self, sums: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        """A row's summed gradients and its step factor / 2^16 (float64, exact) -> its entries'
        int32 steps: floor(floor(sum / 2^rate_shift) * factor / 2^16)."""
        return sums.mul(2.0 ** -self.cfg.rate_shift).floor_().mul_(factor).floor_().to(torch.int32)

    def update(self, y: torch.Tensor, act: torch.Tensor | None) -> None:
        """After the step that coded y (int64 [n], the active rows): learn, shift y in."""
        if self._pending is None:
            self.prepare_update()
        (u, runs, sums, factor, old), self._pending = self._pending, None
        # the bytes' part of the gradients: + 2^P_BITS at each row's byte, in each order's row;
        # only those entries' steps change (an entry several rows' bytes land on is written
        # several times, with the same value)
        at = (runs * 256 + y.unsqueeze(1)).view(-1)
        flat = sums.view(-1)
        flat.index_add_(0, at, torch.full((at.shape[0],), float(1 << P_BITS), dtype=torch.float64, device=y.device))
        step = self._step(flat.index_select(0, at), factor.index_select(0, runs.view(-1)))
        entry = (u.index_select(0, runs.view(-1)) * 256).add_(y.unsqueeze(1).expand_as(runs).reshape(-1))
        new = old.view(-1).index_select(0, at).add_(step).clamp_(-self.limit, self.limit)
        self.table.view(-1).index_copy_(0, entry, new.to(self.table.dtype))
        put(self.ctx, act, ((pick(self.ctx, act) << 8) | y) & self.ctx_mask)
