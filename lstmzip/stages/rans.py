"""Interleaved rANS on the engine's device (docs/FORMAT.md, method 10).

rANS (Duda 2013; the 64-bit variant of Giesen's rans64): a 63-bit state in [2^31, 2^63),
32-bit words, frequencies quantised to a total of 2^24. Each coder of a block codes the bytes
of GROUP consecutive streams, and all coders share one word sequence. Per step, sub-step j
codes the byte of stream g * GROUP + j in coder g, for all coders at once (one vectorised op
per line of the coder), so coding runs where the model runs and the host sees only finished
words. A coder wastes ~6 bytes (its known end state, a whole-word state field), so streams
share coders: book1 (375 streams) lost 1.1% to one coder per stream, ~0.15% with eight.
Encoding runs backwards (rANS is last in, first out) from the intervals recorded while
modelling; the words are ordered as the decoder reads them: by step, sub-step, coder.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Callable

import numpy as np
import torch

from lstmzip.codec.errors import CodecError
from lstmzip.stages.rows import full_range

SCALE_BITS = 24
TOTAL = 1 << SCALE_BITS
STATE_LOW = 1 << 31  # the state's lower bound and every coder's initial (and final) state
_WORD = 0xFFFFFFFF
# On a CPU, up to this many rows code one symbol at a time in Python integers (_encode_rows,
# Decoder._decode_rows): a numpy sub-step costs ~20 ops of ~1 us whatever its width, a row ~2
# us. xargs.1 (9 rows, 550 steps, 2 symbols a step), 2-core Xeon: decoding ~0.4 -> ~0.1 ms a
# step, encoding 0.10 -> 0.02 s in all.
PYTHON_ROWS = 32


def quantize(freqs: torch.Tensor) -> torch.Tensor:
    """int64 [..., 256] (or [..., 16]) frequencies (1 .. 2^24 - 1) -> the same shape, each >= 1,
    summing to 2^24: 1 + floor(f * (2^24 - 256) / total), the rest to the first largest.
    (int32 frequencies are taken as int64.)"""
    freqs = freqs.to(torch.int64)
    total = freqs.sum(dim=-1, keepdim=True)
    q = (freqs * (TOTAL - 256)).div_(total, rounding_mode="floor").add_(1)
    rest = TOTAL - q.sum(dim=-1, keepdim=True)
    return q.scatter_add_(-1, freqs.argmax(dim=-1, keepdim=True), rest)


class Coders:
    """Which coder codes each row: stream s of a block -> coder s // group of that block, at
    sub-step s % group. Coders are numbered block after block."""

    def __init__(self, streams: list[int], starts: np.ndarray, ends: np.ndarray, group: int, device: torch.device):
        """starts, ends: each row's first symbol and the one after its last (int64 [rows])."""
        S = np.asarray(streams, dtype=np.int64)
        per_block = coders_for(S, group)
        self.group = group
        self.first = np.concatenate([[0], np.cumsum(per_block)[:-1]]).astype(np.int64)  # each block's coder 0
        self.count = int(per_block.sum())
        self.per_block = per_block
        block = np.repeat(np.arange(len(S)), S)
        local = np.arange(len(block)) - np.concatenate([[0], np.cumsum(S)[:-1]]).astype(np.int64)[block]
        coder = self.first[block] + local // group
        pos = local % group
        self.block_of_coder = torch.from_numpy(np.repeat(np.arange(len(S)), per_block)).to(device)
        # sub-step j: its rows (ascending, so their coders ascend too) and their coders
        self.rows = [torch.from_numpy(np.flatnonzero(pos == j)).to(device) for j in range(group)]
        self.coder = [torch.from_numpy(coder[pos == j]).to(device) for j in range(group)]
        self.ends = [torch.from_numpy(ends[pos == j]).to(device) for j in range(group)]
        self.starts = [torch.from_numpy(starts[pos == j]).to(device) for j in range(group)] if starts.any() else None


def encode(coders: Coders, start: torch.Tensor, freq: torch.Tensor, step_runner=None
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """start, freq: int32 [steps, rows] (freq 1 where a row does not code).
    -> final states [coders], words [steps, group, coders] (their 32 bits: int64, or int32 on
    a CPU), which were written (same shape).
    `step_runner(body, steps)` runs body() for steps-1 .. 0 (a CUDA graph may replay it)."""
    if codes_in_numpy(start.device):
        if start.shape[1] <= PYTHON_ROWS:
            return _encode_rows(coders, start.numpy(), freq.numpy())
        return _encode_numpy(coders, start.numpy(), freq.numpy())
    steps = start.shape[0]
    dev = start.device
    x = torch.full((coders.count,), STATE_LOW, dtype=torch.int64, device=dev)
    words = torch.zeros((steps, coders.group, coders.count), dtype=torch.int64, device=dev)
    wrote = torch.zeros((steps, coders.group, coders.count), dtype=torch.bool, device=dev)
    t_dev = torch.full((1,), steps - 1, dtype=torch.int64, device=dev)

    def body() -> None:
        st_t = start.index_select(0, t_dev).squeeze(0)
        f_t = freq.index_select(0, t_dev).squeeze(0)
        w_t = torch.zeros((coders.group, coders.count), dtype=torch.int64, device=dev)
        o_t = torch.zeros((coders.group, coders.count), dtype=torch.bool, device=dev)
        for j in range(coders.group - 1, -1, -1):
            rows, c = coders.rows[j], coders.coder[j]
            a = coders.ends[j] > t_dev
            if coders.starts is not None:
                a &= coders.starts[j] <= t_dev
            f = f_t.index_select(0, rows).to(torch.int64)
            xc = x.index_select(0, c)
            out = a & (xc >= (f << (63 - SCALE_BITS)))  # (STATE_LOW >> SCALE_BITS << 32) * f
            w_t[j].index_copy_(0, c, xc & _WORD)
            o_t[j].index_copy_(0, c, out)
            xc = torch.where(out, xc >> 32, xc)
            xc = torch.where(a, (xc // f << SCALE_BITS) + xc % f + st_t.index_select(0, rows).to(torch.int64), xc)
            x.index_copy_(0, c, xc)
        words.index_copy_(0, t_dev, w_t.unsqueeze(0))
        wrote.index_copy_(0, t_dev, o_t.unsqueeze(0))
        t_dev.sub_(1)

    (step_runner or _eager)(body, steps)
    return x, words, wrote


def _encode_numpy(coders: Coders, start: np.ndarray, freq: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """encode's arithmetic, op for op, in numpy (CPU tensors only): one sub-step is a few dozen
    coders, where a numpy op costs a fraction of a torch op's overhead."""
    steps, group, count = start.shape[0], coders.group, coders.count
    x = np.full(count, STATE_LOW, dtype=np.int64)
    words = np.zeros((steps, group, count), dtype=np.uint32)  # (a 4 MiB block's: 64 MiB as int64)
    wrote = np.zeros((steps, group, count), dtype=bool)
    plan = []
    for j in range(group):
        rows, ends = coders.rows[j].numpy(), coders.ends[j].numpy()
        starts = coders.starts[j].numpy() if coders.starts is not None else np.zeros_like(ends)
        # steps from..to - 1 code every row of the sub-step: no mask there
        full = full_range(starts, ends)
        c = coders.coder[j].numpy()
        if not len(c):
            continue
        plan.append((j, rows, _as_slice(c), starts, ends, full))
    plan.reverse()
    for t in range(steps - 1, -1, -1):
        f_t, st_t = freq[t].astype(np.int64), start[t].astype(np.int64)
        for j, rows, c, starts, ends, (lo, hi) in plan:
            f, xc = f_t[rows], x[c]
            words[t, j, c] = xc & _WORD
            a = None if lo <= t < hi else (ends > t) & (starts <= t)  # the rows that code
            out = xc >= (f << (63 - SCALE_BITS))
            if a is not None:
                out &= a
            xc = np.where(out, xc >> 32, xc)
            q, r = np.divmod(xc, f)
            coded = (q << SCALE_BITS) + r + st_t[rows]
            x[c] = coded if a is None else np.where(a, coded, xc)
            wrote[t, j, c] = out
    return torch.from_numpy(x), _as_tensor(words), torch.from_numpy(wrote)


def _encode_rows(coders: Coders, start: np.ndarray, freq: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """encode's arithmetic one symbol at a time, in Python integers (a few rows on a CPU)."""
    steps, group, count = start.shape[0], coders.group, coders.count
    x = [STATE_LOW] * count
    words = np.zeros((steps, group, count), dtype=np.uint32)
    wrote = np.zeros((steps, group, count), dtype=bool)
    # per sub-step, last first: (sub-step, [(row, coder, first step, end step)])
    plan = [(j, list(zip(coders.rows[j].tolist(), coders.coder[j].tolist(),
                         coders.starts[j].tolist() if coders.starts is not None else [0] * len(coders.rows[j]),
                         coders.ends[j].tolist())))
            for j in range(group - 1, -1, -1)]
    start_l, freq_l = start.tolist(), freq.tolist()
    for t in range(steps - 1, -1, -1):
        f_t, st_t = freq_l[t], start_l[t]
        for j, rows in plan:
            for r, c, first, end in rows:
                xc = x[c]
                words[t, j, c] = xc & _WORD
                if not first <= t < end:
                    continue
                f = f_t[r]
                if xc >= f << (63 - SCALE_BITS):
                    wrote[t, j, c] = True
                    xc >>= 32
                q, rem = divmod(xc, f)
                x[c] = (q << SCALE_BITS) + rem + st_t[r]
    return (torch.tensor(x, dtype=torch.int64), _as_tensor(words), torch.from_numpy(wrote))


def _as_slice(c: np.ndarray) -> np.ndarray | slice:
    """Coder numbers (ascending, at least one) as a slice where they are consecutive: indexing
    by it is a view, cheaper than a gather."""
    if np.array_equal(c, np.arange(c[0], c[0] + len(c))):
        return slice(int(c[0]), int(c[0]) + len(c))
    return c


def _as_tensor(words: np.ndarray) -> torch.Tensor:
    """uint32 words as an int32 tensor of the same bits (torch before 2.3 has no uint32);
    pack writes their 32 bits either way."""
    return torch.from_numpy(words.view(np.int32))


def _eager(body: Callable[[], None], steps: int) -> None:
    for _ in range(steps):
        body()


def pack(states: np.ndarray, words: np.ndarray) -> bytes:
    """Payload: every coder's state (u64 LE, in coder order), then the words (u32 LE)."""
    return states.astype("<u8").tobytes() + words.astype("<u4").tobytes()


def coders_for(streams, group: int):
    """Coders of a block of `streams` streams (an int or an int array)."""
    return -(-streams // group)


def unpack(payload: bytes, coders: int) -> tuple[np.ndarray, np.ndarray]:
    """(states int64 [coders], words int64 [n]); CodecError where the payload cannot be one."""
    head = 8 * coders
    if len(payload) < head or (len(payload) - head) % 4:
        raise CodecError("rANS payload has the wrong length")
    states = np.frombuffer(payload[:head], dtype="<u8")
    if (states < STATE_LOW).any() or (states >= 1 << 63).any():
        raise CodecError("rANS state out of range")
    return states.astype(np.int64), np.frombuffer(payload[head:], dtype="<u4").astype(np.int64)


def codes_in_numpy(device: torch.device) -> bool:
    """On a CPU the encoder and the decoder run the same arithmetic in numpy, on views of the
    same memory: a sub-step is a few dozen rows, where a numpy op costs a fraction of a torch
    op's overhead (200 KB of English, method 16, 2 cores: decoding ~10% faster)."""
    return device.type == "cpu"


class Decoder:
    """Decodes the rows of several blocks in lockstep; each block reads its own words."""

    def __init__(self, coders: Coders, states: torch.Tensor, words: torch.Tensor, word_start: torch.Tensor,
                 word_end: torch.Tensor):
        self.coders = coders
        self.x = states  # int64 [coders]
        self.words = words if len(words) else torch.zeros(1, dtype=torch.int64, device=states.device)
        # int64 [blocks]: the next word each block reads. It only grows, so a block that ever
        # read past its words ends with ptr > end (those reads are clamped into the buffer).
        self.ptr = word_start.clone()
        self.end = word_end
        self._plan: dict[tuple[int, int], tuple] = {}
        self._numpy = codes_in_numpy(states.device)
        self._np_plan: dict[tuple[int, int], tuple] = {}

    def _sub_step_plan(self, act: torch.Tensor | None, j: int, active_key) -> tuple:
        """For sub-step j of a step with these active rows (named by active_key): where its
        rows sit among the active rows, their coders, their blocks, and each one's first row
        of its block."""
        key = (active_key, j)
        if key not in self._plan:
            rows, c = self.coders.rows[j], self.coders.coder[j]
            if act is None:
                at = rows
            else:  # rows of sub-step j that are active, and their places in act
                act_np = act.cpu().numpy()
                keep = np.isin(rows.cpu().numpy(), act_np)
                at = torch.from_numpy(np.searchsorted(act_np, rows.cpu().numpy()[keep])).to(act.device)
                c = c[torch.from_numpy(keep).to(c.device)]
            block = self.coders.block_of_coder.index_select(0, c)
            first = torch.ones(len(c), dtype=torch.bool, device=c.device)
            first[1:] = block[1:] != block[:-1]
            seg = torch.cummax(torch.where(first, torch.arange(len(c), device=c.device), 0), dim=0).values
            self._plan[key] = (at, c, block, seg)
        return self._plan[key]

    def _np_sub_step_plan(self, act: torch.Tensor | None, j: int, active_key) -> tuple:
        """_sub_step_plan's arrays in numpy, with each block's first place among the sub-step's
        rows."""
        key = (active_key, j)
        if key not in self._np_plan:
            at, c, block, seg = (v.numpy() for v in self._sub_step_plan(act, j, active_key))
            starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]]) if len(block) else block
            self._np_plan[key] = (at, c, block, seg, block[starts], starts)
        return self._np_plan[key]

    def _np_step_plan(self, act: torch.Tensor | None, active_key, width: int) -> tuple:
        """For _decode_numpy, a step's plan: the active rows in sub-step order (so that a
        sub-step's rows are one slice of them), and per sub-step that slice's bounds, its rows'
        places in the slice's flattened frequency rows (width apart), its coders (a slice where
        they are consecutive) and how its reads find their words: its one block's number, or
        the arrays that spread the reads over several blocks."""
        key = ("step", active_key, width)
        if key not in self._np_plan:
            order, subs, lo = [], [], 0
            for j in range(self.coders.group):
                at, c, block, seg, ublock, ustart = self._np_sub_step_plan(act, j, active_key)
                if len(c) == 0:
                    continue
                reads = int(ublock[0]) if len(ublock) == 1 else (block, seg, ublock, ustart)
                subs.append((lo, lo + len(at), (lo + np.arange(len(at))) * width, _as_slice(c), reads))
                order.append(at)
                lo += len(at)
            order = np.concatenate(order) if order else np.zeros(0, dtype=np.int64)
            self._np_plan[key] = (order, subs)
        return self._np_plan[key]

    def _decode_numpy(self, q: torch.Tensor, act: torch.Tensor | None, active_key) -> torch.Tensor:
        """decode's arithmetic, op for op, in numpy (CPU tensors only)."""
        qn = q.numpy()
        order, subs = self._np_step_plan(act, active_key, qn.shape[1])
        qo = qn[order]  # the rows in sub-step order
        cdf = np.cumsum(qo, axis=1)
        # each symbol's frequency and the sum below it, flattened; the cdf's last column is
        # TOTAL (quantize), above every slot, so no search runs past the last symbol
        q_flat, below_flat = qo.ravel(), (cdf - qo).ravel()
        X, P, W = self.x.numpy(), self.ptr.numpy(), self.words.numpy()
        s_all = np.empty(len(order), dtype=np.int64)
        for lo, hi, flat, c, reads in subs:
            x = X[c]
            slot = x & (TOTAL - 1)
            s = (cdf[lo:hi] <= slot[:, None]).sum(axis=1)  # searchsorted(right=True)
            at = flat + s
            x = q_flat.take(at) * (x >> SCALE_BITS) + slot - below_flat.take(at)
            need = x < STATE_LOW
            if need.any():  # (a coder reads a word every ~32 bits it codes: mostly none)
                excl = np.cumsum(need) - need
                if isinstance(reads, int):  # the sub-step's coders are one block's
                    pos = P[reads] + excl
                    P[reads] += excl[-1] + need[-1]
                else:
                    block, seg, ublock, ustart = reads
                    pos = P[block] + excl - excl[seg]
                    P[ublock] += np.add.reduceat(need.astype(np.int64), ustart)
                w = W.take(pos, mode="clip")  # reads past the words clamped into them
                x = np.where(need, (x << 32) | w, x)
            X[c] = x
            s_all[lo:hi] = s
        y = np.empty(qn.shape[0], dtype=np.int64)
        y[order] = s_all
        return torch.from_numpy(y)

    def _decode_rows(self, q: torch.Tensor, act: torch.Tensor | None, active_key) -> torch.Tensor:
        """decode's arithmetic one row at a time, in Python integers (a few rows on a CPU)."""
        key = ("rows", active_key)
        if key not in self._np_plan:  # per sub-step: (place among the active rows, coder, block)
            self._np_plan[key] = [list(zip(*(v.tolist() for v in self._np_sub_step_plan(act, j, active_key)[:3])))
                                  for j in range(self.coders.group)]
        cdf = np.cumsum(q.numpy(), axis=1).tolist()
        top = q.shape[1] - 1
        X, P = self.x.numpy(), self.ptr.numpy()
        x_l, p_l, W = X.tolist(), P.tolist(), self.words.numpy()
        last = len(W) - 1
        y = np.zeros(q.shape[0], dtype=np.int64)
        for rows in self._np_plan[key]:
            for a, c, b in rows:
                x, row = x_l[c], cdf[a]
                slot = x & (TOTAL - 1)
                s = min(bisect_right(row, slot), top)
                below = row[s - 1] if s else 0
                x = (row[s] - below) * (x >> SCALE_BITS) + slot - below
                if x < STATE_LOW:  # reads past the words clamped into them
                    x = (x << 32) | int(W[min(max(p_l[b], 0), last)])
                    p_l[b] += 1
                x_l[c] = x
                y[a] = s
        X[:] = x_l
        P[:] = p_l
        return torch.from_numpy(y)

    def decode(self, q: torch.Tensor, act: torch.Tensor | None, active_key) -> torch.Tensor:
        """q: quantised frequencies [n, alphabet] of the active rows -> their symbols (int64 [n]).
        active_key: a hashable name of the set of active rows (RowBatch.active_key)."""
        if self._numpy:
            if q.shape[0] <= PYTHON_ROWS:
                return self._decode_rows(q, act, active_key)
            return self._decode_numpy(q, act, active_key)
        y = torch.zeros(q.shape[0], dtype=torch.int64, device=q.device)
        cdf = q.cumsum(dim=1)
        for j in range(self.coders.group):
            at, c, block, seg = self._sub_step_plan(act, j, active_key)
            if len(c) == 0:
                continue
            x = self.x.index_select(0, c)
            qj, cj = q.index_select(0, at), cdf.index_select(0, at)
            slot = x & (TOTAL - 1)
            s = torch.searchsorted(cj, slot.unsqueeze(1), right=True).squeeze(1).clamp_(max=q.shape[1] - 1)
            f = qj.gather(1, s.unsqueeze(1)).squeeze(1)
            x = f * (x >> SCALE_BITS) + slot - (cj.gather(1, s.unsqueeze(1)).squeeze(1) - f)
            need = x < STATE_LOW
            n64 = need.to(torch.int64)
            excl = n64.cumsum(0) - n64
            pos = self.ptr.index_select(0, block) + excl - excl.index_select(0, seg)
            w = self.words.index_select(0, pos.clamp(0, len(self.words) - 1))
            self.x.index_copy_(0, c, torch.where(need, (x << 32) | w, x))
            self.ptr.index_add_(0, block, n64)
            y.index_copy_(0, at, s)
        return y

    def damaged(self) -> np.ndarray:
        """bool [blocks]: blocks whose coders did not end exactly where their encoders began."""
        bad_state = torch.zeros_like(self.ptr).index_add_(0, self.coders.block_of_coder, (self.x != STATE_LOW).to(torch.int64))
        bad = (bad_state > 0) | (self.ptr != self.end)
        return bad.cpu().numpy()
