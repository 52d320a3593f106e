"""The rows of one engine batch: the streams of several blocks, coded in lockstep.

Row r is stream `local[r]` of block `block[r]`; a block's rows are contiguous and in stream
order. Every stage keys its state by block, so a block codes the same whatever else shares
its batch. Rows are laid out plainly (lstmzip.stream_layout without a ramp): all start at
step 0 and row r codes at steps 0 .. length[r] - 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from lstmzip.stream_layout import StreamLayout, layout


@dataclass
class RowBatch:
    layouts: list[StreamLayout]
    device: torch.device
    _active: dict[int, torch.Tensor | None] = field(default_factory=dict, repr=False)

    @classmethod
    def plain(cls, sizes: list[int], streams: list[int], device: torch.device) -> "RowBatch":
        """Blocks of sizes[b] model bytes in streams[b] plain streams each."""
        return cls([layout(n, s) for n, s in zip(sizes, streams)], torch.device(device))

    def __post_init__(self) -> None:
        if any(int(lay.starts.max(initial=0)) for lay in self.layouts):
            raise ValueError("device stages code plain layouts only")
        S = np.array([lay.streams for lay in self.layouts], dtype=np.int64)
        self.blocks = len(self.layouts)
        self.first_row = np.concatenate([[0], np.cumsum(S)[:-1]]).astype(np.int64)
        self.rows = int(S.sum())
        block = np.repeat(np.arange(self.blocks), S)
        lengths = np.concatenate([lay.ends for lay in self.layouts]) if self.rows else np.zeros(0, np.int64)
        self.lengths_np = lengths.astype(np.int64)
        self.steps = int(lengths.max(initial=0))
        dev = self.device
        self.block = torch.from_numpy(block.astype(np.int64)).to(dev)
        self.local = torch.from_numpy((np.arange(self.rows) - self.first_row[block]).astype(np.int64)).to(dev)
        self.streams_of_row = torch.from_numpy(S[block]).to(dev)  # S of the row's block
        self.base_of_row = torch.from_numpy(self.first_row[block]).to(dev)  # global id of its stream 0
        self.lengths = torch.from_numpy(self.lengths_np).to(dev)

    def active(self, t: int) -> torch.Tensor | None:
        """Global ids of the rows that code at step t (sorted), or None when all do."""
        n = int((self.lengths_np > t).sum())
        if n not in self._active:
            self._active[n] = None if n == self.rows else torch.from_numpy(
                np.flatnonzero(self.lengths_np > t).astype(np.int64)).to(self.device)
        return self._active[n]

    def matrix(self, blocks: list[bytes]) -> torch.Tensor:
        """uint8 [rows, steps]: each row's bytes from column 0."""
        mat = np.zeros((self.rows, max(self.steps, 1)), dtype=np.uint8)
        for b, (lay, data) in enumerate(zip(self.layouts, blocks)):
            lo = self.first_row[b]
            mat[lo : lo + lay.streams, : lay.steps] = lay.matrix(data)
        return torch.from_numpy(mat).to(self.device)

    def unstream(self, mat: np.ndarray) -> list[bytes]:
        out = []
        for b, lay in enumerate(self.layouts):
            lo = self.first_row[b]
            out.append(lay.unstream(mat[lo : lo + lay.streams, : lay.steps]))
        return out


def pick(x: torch.Tensor, act: torch.Tensor | None) -> torch.Tensor:
    """x's entries (first dimension) of the active rows."""
    return x if act is None else x.index_select(0, act)


def put(x: torch.Tensor, act: torch.Tensor | None, value: torch.Tensor) -> None:
    """x[act] = value (x itself when all rows are active)."""
    if act is None:
        x.copy_(value)
    else:
        x.index_copy_(0, act, value)
