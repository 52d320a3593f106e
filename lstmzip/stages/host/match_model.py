"""Match model: finds a recent repeat of the current context and sharpens the LSTM's frequency
table towards the byte that followed it. Integer-exact numpy, batched over streams.

It runs on the CPU beside the coder (the tables go there anyway), whatever device the LSTM
uses. Small integer numpy ops cost a microsecond where torch's cost several.

The history is every byte of the block already coded, in any stream: at step t both coder
and decoder know bytes 0..t-1 of every stream, so a repeat in another stream counts. A hash
table maps a hash of the last CONTEXT_BYTES bytes to the latest position that followed that
context; entries written in the same step are resolved with `maximum.at` on a recency key,
which does not depend on order.

Mixing (an adaptive probability map, "SSE"): the LSTM's probability of the predicted byte is
bucketed (PROB_EDGES) and paired with a match-length bucket (LEN_EDGES); a per-block table
learns from what happened the probability P (Q16) that the predicted byte really has in that
cell. The row is rescaled so the predicted byte gets P and the others share 1 - P in their
original proportions. Updates are summed over the streams of a step, so the result does not
depend on the order in which streams are processed.

MatchConfig picks the variant; each is part of a block method of the archive format:
- MATCH_V1 (methods 1 and 3): one table over all streams; a miss drops the match.
- MATCH_V2 (method 4), chosen on training-pool logs (9 files, 0.542 -> 0.515 bpc with the
  context bias of method 4; never on the eval or held-out files):
  * a second table keyed by (stream, context) is looked up first: the stream's own recent
    lines predict a log line better than whatever another stream coded last;
  * a miss does not drop the match: it follows on (a changed digit in a repeated record),
    and up to max_misses misses are tolerated; a fresh lookup replaces a match that missed
    and has not since run for CONTEXT_BYTES bytes;
  * the APM cell also knows the recent misses (0..3+) and whether the predicted byte is a digit.
- MATCH_V3 (method 5) also looks up the last 12 bytes (a rolling hash).
- MATCH_V4 (method 6) adds a rep pointer: a match that has run 16 bytes is copied and the copy
  follows the same source through misses (a record whose fields changed), while the match
  itself may jump to a fresher repeat of the last bytes; the context bias learns from the
  rep's prediction where the two disagree, and the APM cell knows whether they do.
- MATCH_V5 (method 7) looks the long context up in the stream's own entries first.
- MATCH_V7 (method 16, device stages only) is MATCH_V2 with MATCH_V5's long context (12 bytes,
  the stream's own entries first), without the rep pointer.
- MATCH_V6 (method 8) adds a second APM whose cell is the column of the next byte in its line
  (up to COLUMN_CELLS - 1) and a coarse match length: the predicted byte gets the mean of the
  two APMs' P. Whether a repeated record goes on or changes at a byte depends on where in the
  line it is (a timestamp's seconds, a counter, a request's path).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from lstmzip.stages.lazy import lazy_zeros

CONTEXT_BYTES = 4  # chosen on training-pool text (English, Python, logs): 4 < 5 < 6 bpc
TABLE_BITS = 20
LEN_EDGES = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 24, 32, 48]  # match length -> bucket 0..15
PROB_EDGES = [16, 64, 256, 512, 1024, 1536, 2048, 2560, 3072, 3584, 3840, 3968, 4032, 4080]  # Q12
P_ONE = 1 << 16
P_MIN, P_MAX = 32, P_ONE - 32
RATE = 24  # each update moves a cell by sum(target - P) / (count + RATE)
_CTX_MASK = (1 << (8 * CONTEXT_BYTES)) - 1
# Hashes multiply 24-bit halves of the context by constants < 2^31: no product overflows int64.
_H1, _H2 = 0x6F4F2A35, 0x3C6EF372
_C1, _C2 = 0x5BD1E995, 0x27D4EB2F
_N_LEVELS = len(PROB_EDGES) + 1
_MISS_CELLS = 4  # 0, 1, 2, 3 or more misses since the match was found
COLUMN_CELLS = 64  # MATCH_V6's column APM: columns 0..62 and 63 for all further ones
_COARSE_LEN_EDGES = [4, 16, 48]  # match length -> 0..3 in the column APM
_IS_DIGIT = np.zeros(256, dtype=np.int64)
_IS_DIGIT[ord("0") : ord("9") + 1] = 1
_POW2 = np.array([1 << k for k in range(41)], dtype=np.int64)


@dataclass(frozen=True)
class MatchConfig:
    max_misses: int = 0  # 0: a miss drops the match
    own_stream_table: bool = False
    digit_cells: bool = False
    # > 0: a third table keyed by a rolling hash of the last long_context bytes; a hit there
    # replaces any match that has not run that long (method 5)
    long_context: int = 0
    # > 0: a second pointer ("rep", as LZ's repeat distance) copies the match once it has run
    # that long and then follows its source through misses, dropped after rep_misses of them;
    # a fresh lookup after a miss may move the match elsewhere, the rep stays aligned.
    rep_after: int = 0
    rep_misses: int = 8
    rep_cells: bool = False  # the APM cell also knows whether the rep pointer disagrees
    # the long context is looked up in the stream's own entries first (method 7): the latest
    # entry of the shared table is the one coded last, by any stream, which in a log of
    # near-identical long records is often a far-away version of the record
    own_long_table: bool = False
    column_apm: bool = False  # a second APM keyed by the column and a coarse match length (method 8)


MATCH_V1 = MatchConfig()
MATCH_V2 = MatchConfig(max_misses=16, own_stream_table=True, digit_cells=True)
# Training-pool log slices (with BIAS_V3's other stages): 0.6828 -> 0.6778 bpc; 8: 0.6793, 24: 0.6780
MATCH_V3 = MatchConfig(max_misses=16, own_stream_table=True, digit_cells=True, long_context=12)
# Method 6, with BIAS_V4's rep table: training-pool logs (9 files, 47-120 KB, ramped streams)
# 0.3860 -> 0.3814 bpc (rep_after=12, rep_misses=4: 0.3815); the rep's APM cells 0.3805
MATCH_V4 = MatchConfig(max_misses=16, own_stream_table=True, digit_cells=True, long_context=12, rep_after=16,
                       rep_cells=True)
# Method 7: the long context in the stream's own entries first. Training-pool logs (9 files,
# method 7's other stages) 0.3680 -> 0.3652 bpc; a Kafka controller log of near-identical 4.6 KB
# state dumps (365 KB) 0.1102 -> 0.0978 with 22 streams, 0.1323 -> 0.1065 with 25 (and far
# less sensitive to the stream count); Python slices with the default model 1.0887 -> 1.0815.
MATCH_V5 = dataclasses.replace(MATCH_V4, own_long_table=True)
# Method 8: the column APM. Training-pool logs (9 files, 2 KiB streams, default model) 0.3583 ->
# 0.3553 bpc (keyed by the field number instead 0.3560, by the column up to 255 0.3577; its P
# weighted 3:1 against the first APM's 0.3560; with the recent misses instead of the length 0.3553).
MATCH_V6 = dataclasses.replace(MATCH_V5, column_apm=True)
# Method 16 (device stages): MATCH_V2 plus the long context, looked up in the stream's own entries
# first. Training-pool text with method 15's other stages (logs / Python / English novel, bpc):
# MATCH_V2 0.4507 / 1.0471 / 1.7510; long context 12 0.4281 / 1.0357 / 1.7481 (8: 0.4291 / 1.0390
# / 1.7487; 16: 0.4307 / 1.0348 / 1.7496; 24: 0.4306 / 1.0360 / 1.7509); without the own-stream
# entries, 16: 0.4390 / 1.0432 / 1.7498. On 1.5 MB of the English validation novels 1.8038 ->
# 1.7988 (16: 1.8016, 24: 1.8035); 1.66 MB of held-out logs 0.3064 -> 0.2943 (16: 0.2820).
MATCH_V7 = dataclasses.replace(MATCH_V2, long_context=12, own_long_table=True)
# the rolling hash of the long context: polynomial in base 257 mod the prime 2^31 - 1 (int64-exact)
_RK_BASE, _RK_PRIME = 257, (1 << 31) - 1
_OWN_SALT = 0x2F0B3


# The hashes below are integer operators only: the device match model (lstmzip.stages.match)
# calls them on int64 tensors.
def _hash(ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ctx < 2^46 (4 context bytes, and a stream number above them for the own-stream table)."""
    lo, hi = ctx & 0xFFFFFF, ctx >> 24
    idx = ((lo * _H1 + hi * _H2) >> 28) & ((1 << TABLE_BITS) - 1)
    check = ((lo * _C1 + hi * _C2) >> 16) & 0xFFFFFFFF
    return idx, check


def _own_rolling(h: np.ndarray, streams: np.ndarray) -> np.ndarray:
    """The rolling hash salted with the stream (< 2^14): below 2^31 again."""
    return (h + (streams + 1) * _OWN_SALT) % _RK_PRIME


def _long_hash(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """h < 2^31 (the rolling hash): products below 2^62."""
    return ((h * _C1) >> 20) & ((1 << TABLE_BITS) - 1), ((h * _C2) >> 8) & 0xFFFFFFFF


def _learn(apm: np.ndarray, cells: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Move each used cell towards the targets (Q16) of the rows that used it, summed."""
    delta = np.zeros_like(apm)
    count = np.zeros_like(apm)
    np.add.at(delta, cells, target - apm[cells])
    np.add.at(count, cells, 1)
    return np.clip(apm + delta // (count + RATE), P_MIN, P_MAX)


class MatchModel:
    def __init__(self, streams: int, steps: int, row_ends: np.ndarray, cfg: MatchConfig = MATCH_V1,
                 starts: np.ndarray | None = None):
        """Stream i codes its bytes at steps starts[i] (0 if not given) .. row_ends[i] - 1."""
        self.cfg = cfg
        self.starts = np.zeros(streams, dtype=np.int64) if starts is None else np.asarray(starts, dtype=np.int64)
        self.S, self.T = streams, max(steps, 1)
        self.hist = np.zeros((streams, self.T), dtype=np.uint8)
        self.ctx = np.zeros(streams, dtype=np.int64)
        self.table = lazy_zeros((1 << TABLE_BITS,), np.int64)
        self.src_stream = np.full(streams, -1, dtype=np.int64)  # where the current match points
        self.src_col = np.zeros(streams, dtype=np.int64)
        self.length = np.zeros(streams, dtype=np.int64)
        self.misses = np.zeros(streams, dtype=np.int64)
        self.own_table = lazy_zeros((1 << TABLE_BITS,), np.int64) if cfg.own_stream_table else None
        self.row_len = np.asarray(row_ends, dtype=np.int64)
        lo = np.array([0] + PROB_EDGES, dtype=np.int64)
        hi = np.array(PROB_EDGES + [4096], dtype=np.int64)
        mid = np.clip((lo + hi) * 8, P_MIN, P_MAX)  # midpoint of each bucket, Q12 -> Q16: identity
        # flat [len bucket, misses, byte class, level]
        self.apm = np.tile(mid, (len(LEN_EDGES) + 1) * (_MISS_CELLS if cfg.max_misses else 1) * (2 if cfg.digit_cells else 1)
                           * (2 if cfg.rep_cells else 1))
        self._rows = None  # rows adjusted in the last step, their predictions and cells
        self._t = 0  # the step being coded
        if cfg.column_apm:  # the step at which each stream's current line starts
            self.line_start = self.starts.copy()
            self.apm_column = np.tile(mid, COLUMN_CELLS * (len(_COARSE_LEN_EDGES) + 1))
        self._rep_key = None  # this step's rep_key
        if cfg.rep_after:
            self.rep_stream = np.full(streams, -1, dtype=np.int64)
            self.rep_col = np.zeros(streams, dtype=np.int64)
            self.rep_miss = np.zeros(streams, dtype=np.int64)
        if cfg.long_context:
            self.long_table = lazy_zeros((1 << TABLE_BITS,), np.int64)
            self.rolling = np.zeros(streams, dtype=np.int64)
            self._rk_out = pow(_RK_BASE, cfg.long_context, _RK_PRIME)
            if cfg.own_long_table:
                self.own_long = lazy_zeros((1 << TABLE_BITS,), np.int64)

    def prediction_key(self, rows: int) -> np.ndarray:
        """int64 [rows] < 2^14 for the context bias: 0 without a match, else 1 + the predicted
        byte, the length bucket and the misses (0..3+)."""
        s = self.src_stream[:rows]
        active = s >= 0
        pred = self.hist[np.where(active, s, 0), self.src_col[:rows]].astype(np.int64)
        length = np.searchsorted(LEN_EDGES, self.length[:rows], side="right")
        misses = np.minimum(self.misses[:rows], _MISS_CELLS - 1)
        return np.where(active, 1 + pred + (length << 8) + (misses << 12), 0)

    def rep_key(self, rows: int) -> np.ndarray:
        """int64 [rows] < 2^12: 0 without a rep pointer or where it predicts what the match
        does, else 1 + its predicted byte and its misses (0..7+). Worked out once per step
        (the context bias and the APM both ask)."""
        if self._rep_key is None:
            self._rep_key = self._work_out_rep_key(rows)
        return self._rep_key

    def _work_out_rep_key(self, rows: int) -> np.ndarray:
        s = self.rep_stream[:rows]
        active = s >= 0
        pred = self.hist[np.where(active, s, 0), self.rep_col[:rows]].astype(np.int64)
        m = self.src_stream[:rows]
        mpred = self.hist[np.where(m >= 0, m, 0), self.src_col[:rows]].astype(np.int64)
        differs = active & ((m < 0) | (mpred != pred))
        return np.where(differs, 1 + pred + (np.minimum(self.rep_miss[:rows], 7) << 8), 0)

    def _follow_rep(self, rows: int, y: np.ndarray) -> None:
        s, c = self.rep_stream[:rows], self.rep_col[:rows]
        has = s >= 0
        sh = np.where(has, s, 0)
        miss = has & (self.hist[sh, c] != y)
        self.rep_miss[:rows] += miss
        keep = has & (c + 1 < self.row_len[sh]) & (self.rep_miss[:rows] <= self.cfg.rep_misses)
        self.rep_col[:rows] = np.where(keep, c + 1, 0)
        self.rep_stream[:rows] = np.where(keep, s, -1)

    def adjust(self, freqs: np.ndarray) -> np.ndarray:
        """int32 [rows, 256] -> float32 C-contiguous [rows, 256] of integers in [1, 2^24).

        Rows without a match come back unchanged. All rows go through the same few array
        ops (an identity multiplier for rows without a match): cheaper than fancy indexing.
        """
        rows = freqs.shape[0]
        active = self.src_stream[:rows] >= 0
        if not active.any():
            self._rows = None
            return np.ascontiguousarray(freqs, dtype=np.float32)
        r = np.flatnonzero(active)
        pred = self.hist[np.where(active, self.src_stream[:rows], 0), self.src_col[:rows]].astype(np.int64)
        total = freqs.sum(axis=1, dtype=np.int64)
        fm = freqs[np.arange(rows), pred].astype(np.int64)
        level = np.searchsorted(PROB_EDGES, (fm << 12) // total, side="right")
        ctx = np.searchsorted(LEN_EDGES, self.length[:rows], side="right")
        if self.cfg.max_misses:
            ctx = ctx * _MISS_CELLS + np.minimum(self.misses[:rows], _MISS_CELLS - 1)
        if self.cfg.digit_cells:
            ctx = ctx * 2 + _IS_DIGIT[pred]
        if self.cfg.rep_cells:
            ctx = ctx * 2 + (self.rep_key(rows) != 0)
        cell = ctx * _N_LEVELS + level
        p = self.apm[cell]
        if self.cfg.column_apm:
            column = np.minimum(self._t - self.line_start[:rows], COLUMN_CELLS - 1)
            coarse = np.searchsorted(_COARSE_LEN_EDGES, self.length[:rows], side="right")
            column_cell = (column * (len(_COARSE_LEN_EDGES) + 1) + coarse) * _N_LEVELS + level
            p = (p + self.apm_column[column_cell]) >> 1
            self._column_cell = column_cell[r]
        rest = total - fm
        # Others get f * (1 - P) and the predicted byte rest * P: the row total becomes
        # rest * 2^16 < 2^40, so divide by 2^shift to keep it below 2^24 (exact in float32).
        # (f * m) >> 20 with m = (2^16 - P) << (20 - shift) is that, with one shift for all rows.
        shift = np.maximum(np.searchsorted(_POW2, rest, side="right") - 7, 0)
        mult = np.where(active, (P_ONE - p) << (20 - shift), 1 << 20)
        new = (freqs * mult[:, None]) >> 20
        np.maximum(new, 1, out=new)
        new[r, pred[r]] = np.maximum((rest[r] * p[r]) >> shift[r], 1)
        self._rows, self._pred, self._cell = r, pred[r], cell[r]
        return new.astype(np.float32)

    def update(self, t: int, y: np.ndarray) -> None:
        """After step t coded y (int64 [rows], the first `rows` streams): learn and move on."""
        rows = y.shape[0]
        self._rep_key = None
        pos = t - self.starts[:rows]  # bytes each stream coded before y
        if self.cfg.long_context and t >= self.cfg.long_context:  # the long context before byte t
            ready = np.flatnonzero(pos >= self.cfg.long_context)
            key = (t * self.S + ready) << 32
            idx, check = _long_hash(self.rolling[ready])
            np.maximum.at(self.long_table, idx, key | check)
            if self.cfg.own_long_table:
                idx, check = _long_hash(_own_rolling(self.rolling[ready], ready))
                np.maximum.at(self.own_long, idx, key | check)
        if self._rows is not None:
            target = (self._pred == y[self._rows]).astype(np.int64) * P_ONE
            self.apm = _learn(self.apm, self._cell, target)
            if self.cfg.column_apm:
                self.apm_column = _learn(self.apm_column, self._column_cell, target)
        self._t = t + 1
        if self.cfg.column_apm:
            self.line_start[:rows][y == 10] = t + 1
        self.hist[:rows, t] = y
        self._follow(rows, y)
        if self.cfg.rep_after:
            self._follow_rep(rows, y)
        # index the context that ends before byte t: its continuation (byte t) is known now.
        # The key t*S + stream orders entries by recency; maximum.at keeps the latest.
        streams = np.arange(rows, dtype=np.int64)
        key = (t * self.S + streams) << 32
        own = streams << 32  # above the 4 context bytes: the own-stream table's key
        if t > 0:
            ready = pos > 0
            idx, check = _hash(self.ctx[:rows][ready])
            np.maximum.at(self.table, idx, key[ready] | check)
            if self.own_table is not None:
                idx, check = _hash((self.ctx[:rows] | own)[ready])
                np.maximum.at(self.own_table, idx, key[ready] | check)
        self.ctx[:rows] = ((self.ctx[:rows] << 8) | y) & _CTX_MASK
        # streams without a match (or whose match just missed) look for one: the byte that
        # followed this context last time, in the stream's own history first
        look = self.src_stream[:rows] < 0
        if self.cfg.max_misses:
            look |= (self.misses[:rows] > 0) & (self.length[:rows] < CONTEXT_BYTES)
        found = np.zeros(rows, dtype=bool)
        entry = np.zeros(rows, dtype=np.int64)
        for table, salt in ((self.own_table, own), (self.table, 0)):
            if table is None:
                continue
            idx, check = _hash(self.ctx[:rows] | salt)
            e = table[idx]
            hit = look & ~found & (e != 0) & ((e & 0xFFFFFFFF) == check)
            entry = np.where(hit, e, entry)
            found |= hit
        key = entry[found] >> 32
        f_idx = np.flatnonzero(found)
        self.src_stream[f_idx] = key % self.S
        self.src_col[f_idx] = key // self.S
        self.length[f_idx] = 1
        self.misses[f_idx] = 0
        if self.cfg.long_context:
            self._long_lookup(t, y, pos)
        if self.cfg.rep_after:  # a match that has run rep_after bytes becomes the rep
            long = np.flatnonzero(self.length[:rows] >= self.cfg.rep_after)
            self.rep_stream[long] = self.src_stream[long]
            self.rep_col[long] = self.src_col[long]
            self.rep_miss[long] = 0

    def _long_lookup(self, t: int, y: np.ndarray, pos: np.ndarray) -> None:
        """Roll y into the long-context hash; once it spans long_context bytes, a hit in the
        long table replaces every match shorter than that."""
        rows, n = y.shape[0], self.cfg.long_context
        out = self.hist[:rows, t - n].astype(np.int64) + 1 if t >= n else np.zeros(rows, dtype=np.int64)
        out[pos < n] = 0  # the byte leaving the window is one the stream never coded
        self.rolling[:rows] = (self.rolling[:rows] * _RK_BASE + (y + 1) - (out * self._rk_out) % _RK_PRIME) % _RK_PRIME
        if t + 1 < n:
            return
        idx, check = _long_hash(self.rolling[:rows])
        e = self.long_table[idx]
        if self.cfg.own_long_table:
            oidx, ocheck = _long_hash(_own_rolling(self.rolling[:rows], np.arange(rows)))
            oe = self.own_long[oidx]
            own_hit = (oe != 0) & ((oe & 0xFFFFFFFF) == ocheck)
            e = np.where(own_hit, oe, e)
            check = np.where(own_hit, ocheck, check)
        hit = (pos + 1 >= n) & (self.length[:rows] < n) & (e != 0) & ((e & 0xFFFFFFFF) == check)
        f_idx = np.flatnonzero(hit)
        key = e[f_idx] >> 32
        self.src_stream[f_idx] = key % self.S
        self.src_col[f_idx] = key // self.S
        self.length[f_idx] = n
        self.misses[f_idx] = 0

    def _follow(self, rows: int, y: np.ndarray) -> None:
        """Move every match past byte y: on along its source row after a hit, and after a miss
        too while misses last (MATCH_V2); dropped at the end of the source row."""
        s, c = self.src_stream[:rows], self.src_col[:rows]
        has = s >= 0
        hit = np.zeros(rows, dtype=bool)
        hit[has] = self.hist[s[has], c[has]] == y[has]
        in_row = np.zeros(rows, dtype=bool)
        in_row[has] = c[has] + 1 < self.row_len[s[has]]
        miss = has & ~hit
        keep = in_row & (hit | (miss & (self.misses[:rows] < self.cfg.max_misses)))
        self.src_col[:rows] = np.where(keep, c + 1, 0)
        self.src_stream[:rows] = np.where(keep, s, -1)
        self.length[:rows] = np.where(keep & hit, self.length[:rows] + 1, 0)
        self.misses[:rows] = np.where(keep, self.misses[:rows] + miss, 0)
