"""Match model on the device (lstmzip.stages.host.match_model's MATCH_V1/MATCH_V2/MATCH_V7 arithmetic,
batched over blocks): finds the latest repeat of the last 4 bytes in the block (MATCH_V7: also
of the last 12, which replaces a shorter match) and sharpens the frequency table towards the
byte that followed it, through an adaptive probability map.

The integers are those of lstmzip.stages.host.match_model.MatchModel for the same config (tested step by
step). Each block has its own hash tables and APM (offset by the block's index); entries keep
the block-local key t * S + stream, so recency and hashes are the host model's.
"""
from __future__ import annotations

import numpy as np
import torch

from lstmzip.stages.bias import zeros
from lstmzip.stages.rows import RowBatch, pick, put
# the host model's hashes are integer operators only: the same functions hash tensors here
from lstmzip.stages.host.match_model import (_MISS_CELLS, _N_LEVELS, _RK_BASE, _RK_PRIME, CONTEXT_BYTES, LEN_EDGES, P_MAX,
                                             P_MIN, P_ONE, PROB_EDGES, RATE, TABLE_BITS, MatchConfig, _hash, _long_hash,
                                             _own_rolling)

_POW2 = [1 << k for k in range(41)]


def _first_hit(tables: torch.Tensor, idx: torch.Tensor, check: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A row's slots idx [n, k] in k tables (one buffer), in lookup order, and their checks ->
    whether each row found an entry whose check matches, and the first such entry."""
    e = tables.index_select(0, idx.view(-1)).view(idx.shape)
    hit = (e != 0) & ((e & 0xFFFFFFFF) == check)
    entry = torch.where(hit[:, -1], e[:, -1], 0)
    for j in range(e.shape[1] - 2, -1, -1):
        entry = torch.where(hit[:, j], e[:, j], entry)
    return hit.any(1), entry


class MatchStage:
    def __init__(self, cfg: MatchConfig, rows: RowBatch):
        if cfg.rep_after or cfg.rep_cells or cfg.column_apm:
            raise ValueError("the device match model has MATCH_V1/MATCH_V2's features and the long context only")
        dev = rows.device
        self.cfg, self.rows = cfg, rows

        def i64(values) -> torch.Tensor:
            return torch.tensor(values, dtype=torch.int64, device=dev)

        R, T = rows.rows, max(rows.steps, 1)
        self.T = T
        self.hist = torch.zeros(R * T, dtype=torch.uint8, device=dev)  # row r's byte t at r * T + t
        self.ctx = torch.zeros(R, dtype=torch.int64, device=dev)
        # each row's match: the global row of its source (-1: none), the column there, its length
        # and misses; one tensor, so that a step moves all four in one select and one write
        # (fields first: each a contiguous row of it)
        self.track = torch.zeros((4, R), dtype=torch.int64, device=dev)
        self.track[0] = -1
        self.src, self.col, self.length, self.misses = self.track.unbind(0)
        self._none = torch.tensor([[-1], [0], [0], [0]], dtype=torch.int64, device=dev)  # a row without a match
        size, B = 1 << TABLE_BITS, rows.blocks
        table_off = rows.block * size

        def tables(k: int) -> tuple[torch.Tensor, torch.Tensor]:
            """k tables of 2^TABLE_BITS entries per block in one buffer (a step's probes of all
            of them are one read, its entries one scatter), and each row's k offsets. (On a CPU
            mapped as written: made before the LSTM's child process forks, and only one of the
            two processes ever writes them.)"""
            return (zeros((k * B * size,), torch.int64, dev),
                    table_off.unsqueeze(1) + torch.arange(k, device=dev).unsqueeze(0) * (B * size))

        # the 4-byte context's tables in lookup order: the row's own stream's entries first
        # (their hash salted with the stream), then the block's
        own = [True, False] if cfg.own_stream_table else [False]
        self.tables, self.ctx_off = tables(len(own))
        local = rows.local.unsqueeze(1)
        self.ctx_salt = torch.cat([local << 32 if o else torch.zeros_like(local) for o in own], 1)
        # each row's probe of its current context (the one lookup reads, and the next step enters)
        self._ctx_idx, self._ctx_check = self._ctx_probe(self.ctx, None)
        if cfg.long_context:  # a rolling hash of each row's last long_context bytes, and its tables
            self.rolling = torch.zeros(R, dtype=torch.int64, device=dev)
            self.rk_out = pow(_RK_BASE, cfg.long_context, _RK_PRIME)
            self.long_own = [True, False] if cfg.own_long_table else [False]  # lookup order
            self.long, self.long_off = tables(len(self.long_own))
            self._long_idx, self._long_check = self._long_probe(self.rolling, self.rows.local, None)
        lo = np.array([0] + PROB_EDGES, dtype=np.int64)
        hi = np.array(PROB_EDGES + [4096], dtype=np.int64)
        mid = np.clip((lo + hi) * 8, P_MIN, P_MAX)
        cells = (len(LEN_EDGES) + 1) * (_MISS_CELLS if cfg.max_misses else 1) * (2 if cfg.digit_cells else 1)
        self.n_cells = cells * _N_LEVELS
        self.apm = i64(np.tile(mid, cells * rows.blocks))
        self.apm_off = rows.block * self.n_cells
        self.prob_edges, self.len_edges, self.pow2 = i64(PROB_EDGES), i64(LEN_EDGES), i64(_POW2)
        is_digit = np.zeros(256, dtype=np.int64)
        is_digit[ord("0") : ord("9") + 1] = 1
        self.is_digit = i64(is_digit)
        self._prepared = False  # prepare() ran for the coming step

    def prepare(self, act: torch.Tensor | None) -> None:
        """The next step's match per active row (has, predicted: read by adjust and by the
        mixing), found before the step's frequencies are there."""
        s = pick(self.src, act)
        self.has = s >= 0
        pos = torch.where(self.has, s, 0) * self.T + pick(self.col, act)
        self.predicted = self.hist.index_select(0, pos).to(torch.int64)
        self._prepared = True

    def adjust_reads(self) -> list[torch.Tensor]:
        """The state adjust reads besides prepare's has and predicted, and update changes: every
        row's match length and misses, the map. (A process that adjusts for this one copies
        them: take_prepared.)"""
        return [self.track[2:4], self.apm]

    def take_prepared(self, has: torch.Tensor, predicted: torch.Tensor, reads: list[torch.Tensor]) -> None:
        """Another MatchStage's prepare() and adjust_reads(), copied here for adjust()."""
        for mine, theirs in zip(self.adjust_reads(), reads):
            mine.copy_(theirs)
        self.has, self.predicted, self._prepared = has, predicted, True

    @property
    def cell(self) -> torch.Tensor:
        """The map cells the last adjust() read (the active rows'), which update moves."""
        return self._cell

    def adjusted_elsewhere(self, cell: torch.Tensor) -> None:
        """adjust() ran in another process on this one's prepare(): its map cells, for update."""
        self._cell, self._prepared = cell, False

    def adjust(self, freqs: torch.Tensor, act: torch.Tensor | None) -> torch.Tensor:
        """int32 [n, 256] -> int64 [n, 256] of integers in [1, 2^24); rows without a match
        unchanged."""
        if not self._prepared:
            self.prepare(act)
        self._prepared = False
        has, pred = self.has, self.predicted
        f = freqs.to(torch.int64)
        total = f.sum(dim=1)
        fm = f.gather(1, pred.unsqueeze(1)).squeeze(1)
        level = torch.searchsorted(self.prob_edges, (fm << 12) // total, right=True)
        ctx = torch.searchsorted(self.len_edges, pick(self.length, act), right=True)
        if self.cfg.max_misses:
            ctx = ctx * _MISS_CELLS + pick(self.misses, act).clamp(max=_MISS_CELLS - 1)
        if self.cfg.digit_cells:
            ctx = ctx * 2 + self.is_digit.index_select(0, pred)
        cell = ctx * _N_LEVELS + level + pick(self.apm_off, act)
        p = self.apm.index_select(0, cell)
        rest = total - fm
        # the predicted byte gets rest * P, the others f * (1 - P), scaled below 2^24 (exact in
        # float32 for the host coder too)
        shift = (torch.searchsorted(self.pow2, rest, right=True) - 7).clamp_(min=0)
        mult = torch.where(has, (P_ONE - p) << (20 - shift), 1 << 20)
        new = f.mul_(mult.unsqueeze(1)).bitwise_right_shift_(20).clamp_(min=1)
        hit_val = ((rest * p) >> shift).clamp_(min=1)
        keep = new.gather(1, pred.unsqueeze(1)).squeeze(1)
        new.scatter_(1, pred.unsqueeze(1), torch.where(has, hit_val, keep).unsqueeze(1))
        self._cell = cell
        return new

    def update(self, t: int, t_dev: torch.Tensor, y: torch.Tensor, act: torch.Tensor | None) -> None:
        """After step t (also as a 0-d tensor on the device, for CUDA graphs) coded y (int64
        [n], the active rows): learn and move on."""
        has = self.has
        local = pick(self.rows.local, act)
        S = pick(self.rows.streams_of_row, act)
        if self.cfg.long_context:
            pos = t_dev - pick(self.rows.starts, act)  # bytes each row coded before y
            self._index_long(t_dev, act, pos, local, S)
        target = (self.predicted == y).to(torch.int64) * P_ONE
        cell = self._cell
        delta = torch.zeros_like(self.apm).index_add_(0, cell, (target - self.apm.index_select(0, cell)) * has)
        count = torch.zeros_like(self.apm).index_add_(0, cell, has.to(torch.int64))
        self.apm.add_(torch.div(delta, count + RATE, rounding_mode="floor")).clamp_(P_MIN, P_MAX)
        gid = torch.arange(self.rows.rows, device=y.device) if act is None else act
        self.hist.index_copy_(0, gid * self.T + t_dev, y.to(torch.uint8))
        self._follow(y, act)
        ctx = pick(self.ctx, act)
        if t > 0:  # index the context before byte t: its continuation is known now
            key = ((t_dev * S + local) << 32).unsqueeze(1)
            entry = key | pick(self._ctx_check, act)
            if t <= self.rows.last_start:
                # a row at its first step (a ramped layout, up to its last start) has no context
                # yet: its entry is 0, which the amax leaves unwritten
                entry = torch.where((pick(self.rows.starts, act) < t_dev).unsqueeze(1), entry, 0)
            self.tables.scatter_reduce_(0, pick(self._ctx_idx, act).view(-1), entry.view(-1), reduce="amax")
        ctx = ((ctx << 8) | y) & ((1 << (8 * CONTEXT_BYTES)) - 1)
        put(self.ctx, act, ctx)
        src, _, length, misses = pick(self.track, act, dim=1).unbind(0)
        look = src < 0
        if self.cfg.max_misses:
            look |= (misses > 0) & (length < CONTEXT_BYTES)
        idx, check = self._ctx_probe(ctx, act)
        put(self._ctx_idx, act, idx)
        put(self._ctx_check, act, check)
        found, entry = _first_hit(self.tables, idx, check)
        found &= look
        new_length = torch.ones_like(entry)
        if self.cfg.long_context:  # a hit there replaces every match shorter than long_context
            n = self.cfg.long_context
            long_found, long_entry = self._long_lookup(t_dev, y, act, gid, pos, local)
            long_found &= (pos + 1 >= n) & (torch.where(found, 1, length) < n)
            found |= long_found
            entry = torch.where(long_found, long_entry, entry)
            new_length.masked_fill_(long_found, n)
        self._jump(act, found, entry, S, new_length)

    def _ctx_probe(self, ctx: torch.Tensor, act: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The slots [n, k] of 4-byte contexts ctx [n] in the k context tables, and their checks."""
        idx, check = _hash(ctx.unsqueeze(1) | pick(self.ctx_salt, act))
        return idx + pick(self.ctx_off, act), check

    def _long_probe(self, h: torch.Tensor, local: torch.Tensor, act: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The slots [n, k] of rolling hashes h [n] (of the rows' streams `local` within their
        blocks) in the k long tables, and their checks."""
        idx, check = _long_hash(torch.stack([_own_rolling(h, local) if own else h for own in self.long_own], 1))
        return idx + pick(self.long_off, act), check

    def _index_long(self, t_dev: torch.Tensor, act: torch.Tensor | None, pos: torch.Tensor, local: torch.Tensor,
                    S: torch.Tensor) -> None:
        """Enter the long context before byte t of every row that has coded long_context bytes
        (others enter 0, which the amax leaves unwritten): masks, not branches on t, so that a
        CUDA graph captured at any step replays it right."""
        ready = (pos >= self.cfg.long_context).unsqueeze(1)
        entry = torch.where(ready, ((t_dev * S + local) << 32).unsqueeze(1) | pick(self._long_check, act), 0)
        self.long.scatter_reduce_(0, pick(self._long_idx, act).view(-1), entry.view(-1), reduce="amax")

    def _long_lookup(self, t_dev: torch.Tensor, y: torch.Tensor, act: torch.Tensor | None, gid: torch.Tensor,
                     pos: torch.Tensor, local: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Roll y into the long-context hash and look it up in the long tables (MatchModel._long_lookup):
        whether each row found an entry there, and which."""
        n = self.cfg.long_context
        leaving = self.hist.index_select(0, gid * self.T + (t_dev - n).clamp(min=0)).to(torch.int64) + 1
        leaving = torch.where(pos >= n, leaving, 0)  # the byte leaving the window, if the row coded it
        h = (pick(self.rolling, act) * _RK_BASE + (y + 1) - (leaving * self.rk_out) % _RK_PRIME) % _RK_PRIME
        put(self.rolling, act, h)
        idx, check = self._long_probe(h, local, act)
        put(self._long_idx, act, idx)
        put(self._long_check, act, check)
        return _first_hit(self.long, idx, check)

    def _jump(self, act: torch.Tensor | None, found: torch.Tensor, entry: torch.Tensor, S: torch.Tensor,
              length: torch.Tensor) -> None:
        """Where found, the match moves to where the table entry points (an entry is
        (step * S + stream) << 32 | check: that stream's row, at that step), with that length
        and no misses."""
        key = entry >> 32
        moved = torch.stack([key % S + pick(self.rows.base_of_row, act), key // S, length, torch.zeros_like(key)])
        put(self.track, act, torch.where(found, moved, pick(self.track, act, dim=1)), dim=1)

    def _follow(self, y: torch.Tensor, act: torch.Tensor | None) -> None:
        """Move every match past y: on after a hit (and after a miss while misses last)."""
        s, c, length, misses = pick(self.track, act, dim=1).unbind(0)
        has = s >= 0
        sh = torch.where(has, s, 0)
        hit = has & (self.hist.index_select(0, sh * self.T + c).to(torch.int64) == y)
        c1 = c + 1
        in_row = has & (c1 < self.rows.ends.index_select(0, sh))
        miss = has & ~hit
        keep = in_row & (hit | (miss & (misses < self.cfg.max_misses)))
        moved = torch.stack([s, c1, (length + 1) * hit, misses + miss])
        put(self.track, act, torch.where(keep, moved, self._none), dim=1)
