"""Context bias: a log-linear correction of the LSTM's logits, learned from the block as it is
coded. Integer-exact torch on the CPU, batched over streams.

The pretrained LSTM knows English in general, not this file: its names, its vocabulary, its
markup, the habits of its code or log lines. For each context order k in `BiasConfig.orders`,
a table maps the last k bytes (hashed for k >= 3) to 256 biases; the logit of byte x becomes

    logit(x) = lstm_logit(x) + (sum over orders of B_k[context_k, x]) >> bias_frac_bits

and after each step every table row that was used moves along the gradient of -log p(y):
B[row, x] += (1[x = y] - p(x)) in Q16, averaged over the streams that used that row in the
step, times warm / (warm + n) / 2^rate_shift, where n counts the row's earlier updates.
Sums of integers do not depend on the order of the streams, so encoder and decoder agree
bit for bit. BIAS_V1 (block method 3) and BIAS_V2 (method 4, which sums the streams'
gradients over round(sqrt(count)) instead of averaging them) are part of the archive format.
This is dynamic evaluation of the output layer's bias, conditioned on short contexts;
hyperparameters were chosen on training-pool text (English books the model did not train
on, Python, logs), not on the eval files.

It is torch rather than numpy because torch's scatter-adds and row updates are several times
faster here (integer sums are exact in any order, so index_add_ is deterministic).

Tables are fresh for every block, like the match model's history, so blocks stay independent.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from lstmzip.stages.host.bias_mixer import BiasMixer, logit_gradient
from lstmzip.stages.host.record_context import FIELD_ABOVE_KINDS, RecordContext
from lstmzip.stages.lazy import lazy_zeros

P_BITS = 16  # probabilities in the update are Q16
BIAS_LIMIT = 1 << 22  # table entries are clamped: the sum of the orders stays far inside int32
# Table entries by BiasConfig.entry_bits: their numpy type and the clamp that keeps them in it
ENTRIES = {32: (np.int32, BIAS_LIMIT), 16: (np.int16, (1 << 15) - 1)}
MAX_STREAMS = 1 << 14  # keeps every per-step sum of Q16 gradients inside int32
_HASH_MULT = 0x2545F491  # < 2^30, times a context < 2^32: no int64 overflow
_HASH_MULT_HI = 0x1B873593  # < 2^29, times the bytes above the last 4 (< 2^24) for orders 5-7
MAX_ORDER = 7  # contexts live in an int64


@dataclass(frozen=True)
class BiasConfig:
    orders: tuple[int, ...] = (1, 2, 3, 4)
    hash_bits: int = 16  # rows per table of order >= 2
    bias_frac_bits: int = 6  # table units per logit unit (1/64 nat)
    rate_shift: int = 5
    # A row's n-th update is scaled by warm / (warm + min(n, cap)): new contexts learn fast,
    # well-seen ones settle but never stop adapting.
    warm: int = 16
    cap: int = 255
    # A row used by c streams in one step moves by the mean of their gradients ("mean",
    # method 3) or by their sum over round(sqrt(c)) ("sqrt", method 4): many streams that
    # agree move it further than one, as c sequential updates would, without overshooting.
    count_scale: str = "mean"
    # Method 5: tables keyed by where the byte sits in its line (lstmzip.stages.host.record_context KINDS)
    # and by the match model's prediction, `extra_bits` rows each, hashed.
    record: tuple[str, ...] = ()
    match_context: bool = False
    rep_context: bool = False  # a table keyed by the match model's rep pointer (MatchModel.rep_key)
    extra_bits: int = 16
    # Method 5: the LSTM's logits are scaled by one learned factor (Q12, 0..2) before the
    # biases are added: a pretrained model is overconfident on text unlike its training
    # text, e.g. random identifiers in logs.
    logit_scale: bool = False
    # Method 9: each table's bias and the LSTM's logits weighted by learned factors, one set per
    # class of the last byte and match state (lstmzip.stages.host.bias_mixer); replaces the logit scale.
    # Needs match_context (the match state comes from its key).
    mixer: bool = False
    mixer_weight_shift: int = 5
    mixer_scale_shift: int = 2
    # Bits per table entry (ENTRIES): 16 halves the tables' memory, clamping entries at +-32767
    # instead of 2^22 (method 17)
    entry_bits: int = 32


BIAS_V1 = BiasConfig()
# Orders 6 and 7 (hashed, from the last 7 bytes) took training-pool logs from 0.509 to 0.484
# bpc, Python slices 1.181 -> 1.153, English 1.993 -> 1.997.
BIAS_V2 = BiasConfig(orders=(1, 2, 3, 4, 6, 7), count_scale="sqrt")
# Chosen on training-pool log slices with the default model (9 files, first 30 KB each):
# method 4 0.749 bpc -> 0.607 (column 0.723, match 0.723, field 0.730, word 0.733 alone;
# the logit scale took 0.668 -> 0.607). English slices pay ~4% for it, Python gains ~5%:
# it is the method of the logs and python models (models.registry), not the default's.
BIAS_V3 = BiasConfig(orders=(1, 2, 3, 4, 6, 7), count_scale="sqrt",
                     record=("column", "field", "word", "field_class"), match_context=True, logit_scale=True)
# Method 6: BIAS_V3, a table keyed by the match model's rep pointer where it disagrees with the
# match (MATCH_V4), and one keyed by the field's name (JSON keys, key=value): training-pool
# logs 0.3805 -> 0.3754 bpc (name with the last 2 bytes 0.3764, 3 bytes 0.3774, alone 0.3769).
BIAS_V4 = dataclasses.replace(BIAS_V3, record=BIAS_V3.record + ("key",), rep_context=True)
# Method 7: BIAS_V4 and two tables keyed by the bytes at the same offset of the same field in the
# line above (lstmzip.stages.host.record_context): training-pool logs 0.3754 -> 0.3726 bpc with the first;
# with method 7's warm-started streams too, 0.3696, and 0.3680 with both.
BIAS_V5 = dataclasses.replace(BIAS_V4, record=BIAS_V4.record + ("field_above", "field_above_next"))
# Method 9: BIAS_V5 with the mixer (lstmzip.stages.host.bias_mixer): training-pool logs with method 8's other
# stages and 8 KiB streams 0.3427 -> 0.3345 bpc (weight shift 5, scale shift 2; 6 and 1:
# 0.3360; tables weighted without the LSTM 0.3399; selected by the match state alone 0.3417).
BIAS_V6 = dataclasses.replace(BIAS_V5, mixer=True)
# Method 17: BIAS_V6 in 16-bit entries. Its 14 tables of 2^16 rows take 448 MiB instead of 896
# once a long block has touched them: 4 MB of training-pool logs, logs model, peak PSS 1,000 MiB
# with method 9, 685 with 17, and an archive of the same size (1 MB of English too: the entries that grow
# past 32767 are rare and in tables the mixer weighs little).
BIAS_V7 = dataclasses.replace(BIAS_V6, entry_bits=16)
# Method 18: BIAS_V2 with orders 2, 4 and 7 only, ahead of method 16's context mixing, whose
# counters cover orders 1-6: the bias's lower and middle orders told the mixer what its counters
# tell it better. Chosen on training-pool text with 0.22's default model, method 16's other
# stages (bpc; three validation books of its training split, 768 / 150 / 289 KB; 300 KB of
# Python and of logs): orders 1, 2, 3, 4, 6, 7 1.6324 / 1.7099 / 1.7699 / 0.8831 / 0.1219; 2, 4,
# 7: 1.6195 / 1.6902 / 1.7556 / 0.8850 / 0.1227; 1, 2, 4, 6, 7: 1.6266 / 1.7007 / 1.7632 /
# 0.8835 / 0.1224; 2, 4, 6, 7: 1.6257 / 1.6975 / 1.7611 / 0.8835 / 0.1225; 2, 6, 7: 1.6231 /
# 1.6919 / 1.7593; 2, 7: 1.6210 / 1.6892 / 1.7562 / 0.8902 / 0.1231; 2, 4: 1.6236 / 1.6913 /
# 1.7577 / 0.8922 / 0.1235; one order (2 or 4) 1.6289 / 1.6251 on the first. English -0.8 to
# -1.2%, Python +0.2%, logs +0.7% (those have their own models), and three tables less to learn.
BIAS_V8 = dataclasses.replace(BIAS_V2, orders=(2, 4, 7))
# Methods 23-25: BIAS_V8 and BIAS_V2 in 16-bit entries (as method 17's BIAS_V7): a 4 MB block's
# 6 tables of 2^16 rows take 160 MiB instead of 320 once touched (4 MB of training-pool Python,
# default model, method 21's stages: the LSTM child's peak RSS 586 -> 457 MiB), and the archives
# of the training-pool text tried were the same bytes (no entry reached 32767 there).
BIAS_V9 = dataclasses.replace(BIAS_V8, entry_bits=16)
BIAS_V10 = dataclasses.replace(BIAS_V2, entry_bits=16)
SCALE_ONE = 1 << 12  # the logit scale's 1.0
_KEY_MULT_LO, _KEY_MULT_HI, _KEY_SALT = 0x2545F491, 0x1B873593, 0x9E3779B


def _table_rows(order: int, hash_bits: int) -> int:
    return min(256 ** order, 1 << hash_bits)


def _hash_key(key: np.ndarray, salt: int | np.ndarray, bits: int) -> np.ndarray:
    """A key < 2^56 -> a row in [0, 2^bits) (salts broadcast over columns); products stay below 2^59."""
    lo, hi = key & ((1 << 28) - 1), (key >> 28) & ((1 << 28) - 1)
    return ((lo * _KEY_MULT_LO + hi * _KEY_MULT_HI + salt * _KEY_SALT) >> 20) & ((1 << bits) - 1)


class ContextBias:
    def __init__(self, streams: int, exp_table: torch.Tensor, cfg: BiasConfig = BiasConfig(), steps: int = 0,
                 starts: np.ndarray | None = None):
        if streams > MAX_STREAMS:
            raise ValueError(f"context bias supports at most {MAX_STREAMS} streams")
        self.cfg = cfg
        self.exp = exp_table.to("cpu", torch.int32)
        sizes = [_table_rows(k, cfg.hash_bits) for k in cfg.orders]
        sizes += [1 << cfg.extra_bits] * (len(cfg.record) + cfg.match_context + cfg.rep_context)
        self.offsets = np.cumsum([0] + sizes[:-1]).tolist()
        field_starts = any(k in FIELD_ABOVE_KINDS for k in cfg.record)
        self.records = RecordContext(streams, steps, starts, field_starts) if cfg.record else None
        self.scale = SCALE_ONE
        # memory grows with the contexts actually seen (lstmzip.stages.lazy)
        dtype, self._limit = ENTRIES[cfg.entry_bits]
        self._table_np = lazy_zeros((sum(sizes), 256), dtype)
        self.table = torch.from_numpy(self._table_np)  # shares the memory
        self.row_updates = torch.zeros(sum(sizes), dtype=torch.int64)
        if max(cfg.orders) > MAX_ORDER:
            raise ValueError(f"context bias orders go up to {MAX_ORDER}")
        if cfg.mixer and not cfg.match_context:
            raise ValueError("the mixer needs match_context")
        self.mixer = BiasMixer(len(sizes), cfg.mixer_weight_shift, cfg.mixer_scale_shift) if cfg.mixer else None
        if cfg.count_scale not in ("mean", "sqrt"):
            raise ValueError(f"unknown count_scale {cfg.count_scale!r}")
        # the last max(4, top order) bytes; START_BYTE first
        self._ctx_mask = (1 << (8 * max(4, *cfg.orders))) - 1
        self.ctx = np.full(streams, 10, dtype=np.int64)
        # round(sqrt(c)) for every count a row can have in one step (one use per stream), exactly
        if cfg.count_scale == "sqrt":
            self._root = torch.tensor([max(1, (math.isqrt(4 * c) + 1) // 2) for c in range(streams + 1)], dtype=torch.int64)
        self._ids = None
        # per-order masks and table offsets, so that _row_ids works out all orders at once
        # (order 0 is the mask 0; orders up to 2 index their table directly)
        direct = [i for i, k in enumerate(cfg.orders) if 256 ** k <= (1 << cfg.hash_bits)]
        hashed = [i for i in range(len(cfg.orders)) if i not in direct]
        if direct != list(range(len(direct))):
            raise ValueError("direct orders come before hashed ones")
        # (numpy: at a step's few dozen rows its ops cost a microsecond, torch's several)
        self._direct_mask = np.array([(1 << (8 * cfg.orders[i])) - 1 for i in direct], dtype=np.int64)
        self._direct_off = np.array([self.offsets[i] for i in direct], dtype=np.int64)
        self._hashed = bool(hashed)
        self._lo_mask = np.array([(1 << (8 * min(cfg.orders[i], 4))) - 1 for i in hashed], dtype=np.int64)
        self._hi_mask = np.array([(1 << (8 * max(cfg.orders[i] - 4, 0))) - 1 for i in hashed], dtype=np.int64)
        self._hashed_off = np.array([self.offsets[i] for i in hashed], dtype=np.int64)
        n_extra = len(sizes) - len(cfg.orders)
        self._salts = np.arange(1, n_extra + 1, dtype=np.int64)
        self._extra_off = np.array(self.offsets[len(cfg.orders):], dtype=np.int64)

    def _row_ids(self, rows: int, match_key: np.ndarray | None, rep_key: np.ndarray | None) -> torch.Tensor:
        """int64 [rows, orders]: the table row each stream uses for each order."""
        c = self.ctx[:rows, None]
        cols = [(c & self._direct_mask) + self._direct_off]
        if self._hashed:  # orders >= 3 hashed from their low 4 bytes and the bytes above them
            h = (c & self._lo_mask) * _HASH_MULT + ((c >> 32) & self._hi_mask) * _HASH_MULT_HI
            cols.append(((h >> 16) & ((1 << self.cfg.hash_bits) - 1)) + self._hashed_off)
        extra = self.records.key_arrays(self.cfg.record, self.ctx[:rows]) if self.records is not None else []
        if self.cfg.match_context:
            extra.append(match_key)
        if self.cfg.rep_context:
            extra.append(rep_key)
        if extra:
            cols.append(_hash_key(np.stack(extra, axis=1), self._salts, self.cfg.extra_bits) + self._extra_off)
        return torch.from_numpy(np.concatenate(cols, axis=1))

    def freqs(self, logits: torch.Tensor, match_key: np.ndarray | None = None,
              rep_key: np.ndarray | None = None) -> np.ndarray:
        """int32 logits [rows, 256] of the first `rows` streams -> int32 frequencies (>= 1).
        `match_key` (int64 [rows], < 2^14): the match model's prediction, for match_context;
        `rep_key` (< 2^12) its rep pointer's, for rep_context."""
        rows = logits.shape[0]
        ids = self._row_ids(rows, match_key, rep_key)
        # one gather (then one sum, or the mixer's weighted sum): fewer, larger ops than one per table
        biases = self.table.index_select(0, ids.view(-1)).view(rows, ids.shape[1], 256)
        lg = logits.to("cpu")
        if self.mixer is not None:
            scaled, mixed = self.mixer.mix(biases.numpy(), lg.numpy(), self.ctx[:rows] & 0xFF, match_key)
            lg = torch.from_numpy(scaled + (mixed >> self.cfg.bias_frac_bits))
            return self._to_freqs(lg, ids)
        bias = biases.sum(1, dtype=torch.int32)
        if self.cfg.logit_scale:
            # |logit| < 2^16 and scale <= 2^13: int64 products, far from overflow
            self._lstm_logits = lg = lg.to(torch.int64)
            lg = lg.mul(self.scale).bitwise_right_shift_(12)
        lg = lg.add(bias.bitwise_right_shift_(self.cfg.bias_frac_bits))
        return self._to_freqs(lg, ids)

    def _to_freqs(self, lg: torch.Tensor, ids: torch.Tensor) -> np.ndarray:
        d = lg.amax(dim=1, keepdim=True).sub(lg).clamp_(0, len(self.exp) - 1)
        f = self.exp.index_select(0, d.view(-1)).view(d.shape)
        self._ids, self._f = ids, f
        return f.numpy()

    def update(self, y: np.ndarray) -> None:
        """After the step that coded y (int64 [rows]): learn, then shift y into the contexts."""
        ids, f = self._ids, self._f
        rows, n = ids.shape
        yt = torch.from_numpy(y)
        if self.mixer is not None:
            self.mixer.learn(f.numpy(), y)
        elif self.cfg.logit_scale:
            self._learn_scale(f, y)
        # p(x) in Q16 as f * (2^31 // total) >> 15: f <= 2^16 and total >= 2^16 + 255, so the
        # product stays below 2^31 (int32)
        recip = ((1 << 31) // f.sum(dim=1, keepdim=True, dtype=torch.int64)).to(torch.int32)
        g = f.mul(recip).bitwise_right_shift_(31 - P_BITS).neg_()
        g.scatter_add_(1, yt.unsqueeze(1), torch.full((rows, 1), 1 << P_BITS, dtype=torch.int32))
        u, inverse = torch.unique(ids.view(-1), return_inverse=True)
        inverse = inverse.view(rows, n)
        # Integer arithmetic carried out in float64, exact: every value is an integer below
        # 2^53 (|sum| <= MAX_STREAMS * 2^16, times a factor <= 2^20) and the shifts are floors
        # of exact divisions by powers of two. torch's float index_add_ is several times faster
        # than its integer one, and one float chain saves the conversions between int widths.
        sums = torch.zeros((len(u), 256), dtype=torch.float64)
        sums.index_add_(0, inverse.view(-1), g.to(torch.float64).repeat_interleave(n, 0))
        count = torch.bincount(inverse.view(-1), minlength=len(u))
        n_u = self.row_updates.index_select(0, u)
        if self.cfg.count_scale == "mean":  # the mean over the streams, times warm / (warm + n), in Q16
            factor = (self.cfg.warm << 16) // ((self.cfg.warm + n_u) * count)
        else:  # their sum / round(sqrt(count)), times warm / (warm + n), in Q16
            factor = (self.cfg.warm << 16) // ((self.cfg.warm + n_u) * self._root.index_select(0, count))
        # ((sums >> rate_shift) * factor) >> 16
        step = (sums.mul_(2.0 ** -self.cfg.rate_shift).floor_().mul_(factor.to(torch.float64).unsqueeze(1))
                .mul_(2.0 ** -16).floor_().to(torch.int32))
        new = self.table.index_select(0, u).to(torch.int32).add_(step).clamp_(-self._limit, self._limit)
        self._table_np[u.numpy()] = new.numpy()  # numpy's row writes are ~2x torch's index_copy_
        self.row_updates.index_copy_(0, u, n_u.add_(1).clamp_(max=self.cfg.cap))
        self.ctx[:rows] = ((self.ctx[:rows] << 8) | y) & self._ctx_mask
        if self.records is not None:
            self.records.update(y)

    def _learn_scale(self, f: torch.Tensor, y: np.ndarray) -> None:
        """One gradient step on the scale: d(-log p(y))/d scale is E_p[logit] - logit(y), here
        in logit units, floor-averaged over the streams; the scale stays in [0, 2]."""
        diff = logit_gradient(self._lstm_logits.numpy(), f.numpy(), y)
        self.scale = min(max(self.scale + int(diff.sum()) // len(diff), 0), 2 * SCALE_ONE)
