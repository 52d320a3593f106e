"""The rows of one engine batch: the streams of several blocks, coded in lockstep.

Row r is stream `local[r]` of block `block[r]`; a block's rows are contiguous and in stream
order. Every stage keys its state by block, so a block codes the same whatever else shares
its batch. Row r codes at steps starts[r] .. ends[r] - 1 of its block's layout
(lstmzip.stream_layout): plainly all rows start at step 0; in a ramped layout later streams
join later. A row's step t is its byte's column in the block's matrix and history.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from lstmzip.stream_layout import Ramp, StreamLayout, layout, warm_sources


@dataclass
class RowBatch:
    layouts: list[StreamLayout]
    device: torch.device
    _active: dict[tuple[int, int], torch.Tensor | None] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, sizes: list[int], streams: list[int], device: torch.device,
           ramp: Ramp | None = None) -> "RowBatch":
        """Blocks of sizes[b] model bytes in streams[b] streams each (ramped where `ramp` is
        given and a block is long enough for it)."""
        return cls([layout(n, s, ramp) for n, s in zip(sizes, streams)], torch.device(device))

    def __post_init__(self) -> None:
        S = np.array([lay.streams for lay in self.layouts], dtype=np.int64)
        self.blocks = len(self.layouts)
        self.first_row = np.concatenate([[0], np.cumsum(S)[:-1]]).astype(np.int64)
        self.rows = int(S.sum())
        block = np.repeat(np.arange(self.blocks), S)

        def per_row(name: str) -> np.ndarray:
            if not self.rows:
                return np.zeros(0, np.int64)
            return np.concatenate([getattr(lay, name) for lay in self.layouts]).astype(np.int64)

        self.starts_np, self.ends_np = per_row("starts"), per_row("ends")
        self._sorted_starts, self._sorted_ends = np.sort(self.starts_np), np.sort(self.ends_np)  # (active_key's)
        self.ramped = bool(self.starts_np.any())
        self.last_start = int(self.starts_np.max(initial=0))  # the last step at which rows join
        self.steps = int(self.ends_np.max(initial=0))
        dev = self.device
        self.block = torch.from_numpy(block.astype(np.int64)).to(dev)
        self.local = torch.from_numpy((np.arange(self.rows) - self.first_row[block]).astype(np.int64)).to(dev)
        self.streams_of_row = torch.from_numpy(S[block]).to(dev)  # S of the row's block
        self.base_of_row = torch.from_numpy(self.first_row[block]).to(dev)  # global id of its stream 0
        self.starts = torch.from_numpy(self.starts_np).to(dev)
        self.ends = torch.from_numpy(self.ends_np).to(dev)

    def active(self, t: int) -> torch.Tensor | None:
        """Global ids of the rows that code at step t (sorted), or None when all do."""
        key = self.active_key(t)
        if key not in self._active:
            on = (self.starts_np <= t) & (self.ends_np > t)
            self._active[key] = None if key[0] - key[1] == self.rows else torch.from_numpy(
                np.flatnonzero(on).astype(np.int64)).to(self.device)
        return self._active[key]

    def active_key(self, t: int) -> tuple[int, int]:
        """(rows started, rows ended) by step t: which rows are active follows from it."""
        return (int(np.searchsorted(self._sorted_starts, t, side="right")),
                int(np.searchsorted(self._sorted_ends, t, side="right")))

    def full_steps(self) -> tuple[int, int]:
        """The steps [a, b) at which every row is active (a >= b: none)."""
        return full_range(self.starts_np, self.ends_np)

    def joins(self) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        """For each step at which streams join a ramped layout: their rows and the rows of the
        running streams whose LSTM state each starts from (stream_layout.warm_sources)."""
        out: dict[int, tuple[list, list]] = {}
        for b, lay in enumerate(self.layouts):
            lo = int(self.first_row[b])
            for s in np.unique(lay.starts[lay.starts > 0]).tolist():
                have, upto = int((lay.starts < s).sum()), int((lay.starts <= s).sum())
                dst, src = out.setdefault(s, ([], []))
                dst.append(np.arange(have, upto) + lo)
                src.append(warm_sources(have, upto) + lo)
        dev = self.device
        return {s: (torch.from_numpy(np.concatenate(d)).to(dev), torch.from_numpy(np.concatenate(r)).to(dev))
                for s, (d, r) in out.items()}

    def matrix(self, blocks: list[bytes], before: int = 0) -> torch.Tensor:
        """uint8 [rows, steps]: each row's bytes at the columns of its steps, `before` in the
        columns before them (after them: 0)."""
        mat = np.zeros((self.rows, max(self.steps, 1)), dtype=np.uint8)
        for b, (lay, data) in enumerate(zip(self.layouts, blocks)):
            lo = self.first_row[b]
            mat[lo : lo + lay.streams, : lay.steps] = lay.matrix(data)
        if self.ramped and before:
            mat[np.arange(mat.shape[1]) < self.starts_np[:, None]] = before
        return torch.from_numpy(mat).to(self.device)

    def unstream(self, mat: np.ndarray) -> list[bytes]:
        out = []
        for b, lay in enumerate(self.layouts):
            lo = self.first_row[b]
            out.append(lay.unstream(mat[lo : lo + lay.streams, : lay.steps]))
        return out


def full_range(starts: np.ndarray, ends: np.ndarray) -> tuple[int, int]:
    """The steps [a, b) at which every row with these first steps and end steps codes (a >= b:
    none). (Not ends.min(initial=0): the initial value takes part in the minimum, which was
    then always 0: from 0.15.0 to 0.18.1 no step counted as full, so CUDA captured no graph,
    and from 0.17.0 the numpy rANS encoder masked every step.)"""
    if not len(ends):
        return 0, 0
    return int(starts.max()), int(ends.min())


def pick(x: torch.Tensor, act: torch.Tensor | None, dim: int = 0) -> torch.Tensor:
    """x's entries (along dim, the rows) of the active rows."""
    return x if act is None else x.index_select(dim, act)


def put(x: torch.Tensor, act: torch.Tensor | None, value: torch.Tensor, dim: int = 0) -> None:
    """x[act] = value along dim, the rows (x itself when all rows are active)."""
    if act is None:
        x.copy_(value)
    else:
        x.index_copy_(dim, act, value)
