"""Where each byte of a block sits in the lockstep coding: its stream and its step.

A block of n model bytes is cut into S contiguous slices, one per stream, and step t codes
one byte of every active stream. In the plain layout every stream starts at step 0: the
first n % S streams are one byte longer. Nothing is known at step 0, so each stream's first
lines are coded with almost no history, S times over (a training-pool apache log, 30 KB, 14
streams: 16-18% more bits than one stream, nearly all in the first 256 bytes of each stream;
most of it because the lines just before a stream's first are coded last, by the stream
before it, which no layout of contiguous slices avoids).

The ramped layout (block method 6) lets stream 0 run alone for `first` steps, then starts
streams so that their number doubles every `double` steps: stream i >= 1 starts at step
first + double * floor(log2(i)). Later streams are shorter, so all end together (the first
n' % S one step later, n' = n + the sum of the starts); a block too short for that is laid
out plainly. The active streams of any step are always streams 0..rows-1, which is what the
engine and the adaptive stages expect. Both layouts follow from n, S and the method alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ramp:
    first: int  # steps stream 0 runs alone
    double: int  # steps per doubling of the active streams after that


@dataclass(frozen=True)
class StreamLayout:
    starts: np.ndarray  # int64 [S]: the step of each stream's first byte
    ends: np.ndarray  # int64 [S]: the step after its last byte
    active: np.ndarray  # int64 [steps]: streams coded at each step (streams 0..active-1)

    @property
    def streams(self) -> int:
        return len(self.starts)

    @property
    def steps(self) -> int:
        return len(self.active)

    @property
    def lengths(self) -> np.ndarray:
        return self.ends - self.starts

    @property
    def offsets(self) -> np.ndarray:
        """Offset in the block of each stream's first byte."""
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    def matrix(self, data: bytes) -> np.ndarray:
        """uint8 [S, steps]: stream i's bytes at columns starts[i]..ends[i]-1, zeros elsewhere."""
        arr = np.frombuffer(data, dtype=np.uint8)
        mat = np.zeros((self.streams, self.steps), dtype=np.uint8)
        for i, (off, a, b) in enumerate(zip(self.offsets, self.starts, self.ends)):
            mat[i, a:b] = arr[off : off + b - a]
        return mat

    def unstream(self, mat: np.ndarray) -> bytes:
        return b"".join(mat[i, a:b].tobytes() for i, (a, b) in enumerate(zip(self.starts, self.ends)))


def _floor_log2(i: np.ndarray) -> np.ndarray:
    """floor(log2(i)) for int64 1 <= i < 2^53, exactly (frexp's exponent is that plus one)."""
    return np.frexp(i.astype(np.float64))[1].astype(np.int64) - 1


def ramp_starts(streams: int, ramp: Ramp) -> np.ndarray:
    i = np.arange(streams, dtype=np.int64)
    log2 = np.zeros(streams, dtype=np.int64)
    log2[1:] = _floor_log2(i[1:])
    return np.where(i == 0, 0, ramp.first + ramp.double * log2)


def warm_sources(have: int, rows: int) -> np.ndarray:
    """For streams have..rows-1, which join a ramped layout together: the earlier stream
    i - 2^floor(log2(i)) whose LSTM state each starts from (block methods 7 and 8). Streams join in
    the doubling groups of ramp_starts, so every source is below `have`."""
    i = np.arange(have, rows, dtype=np.int64)
    src = i - (1 << _floor_log2(i))
    if (src >= have).any():
        raise ValueError("a warm start needs streams that started earlier")
    return src


def layout(n: int, streams: int, ramp: Ramp | None = None) -> StreamLayout:
    """The layout of n bytes in `streams` streams (plain if ramp is None or n is too short)."""
    if streams == 0:
        z = np.zeros(0, dtype=np.int64)
        return StreamLayout(z, z, z)
    starts = np.zeros(streams, dtype=np.int64)
    if ramp is not None and streams > 1:
        ramped = ramp_starts(streams, ramp)
        base = (n + int(ramped.sum())) // streams
        if base > int(ramped.max()):  # every stream gets at least one byte
            starts = ramped
    base, extra = divmod(n + int(starts.sum()), streams)
    ends = base + (np.arange(streams) < extra).astype(np.int64)
    steps = base + (1 if extra else 0)
    active = np.searchsorted(starts, np.arange(steps), side="right").astype(np.int64)
    if extra:
        active[base] = extra
    return StreamLayout(starts, ends, active)
