"""`--model auto`: which model codes an input best, decided in about a second.

Each candidate codes WINDOWS windows of WINDOW bytes spread over the sample (the input's
first block) as the streams of one block, through its own block method's stages, and the
candidate whose model needs the fewest bits wins. Windows from across the sample see more
of the input than its first bytes would (a log's banner, a source file's licence header),
and the stages matter: the `logs` model's lead on repetitive records (XML, JSON, CSV) comes
from its method's record contexts as much as from its LSTM. Checked against compressing
whole files with every model: benchmarks/auto_model.py.
"""
from __future__ import annotations

import numpy as np

from lstmzip import transforms
from lstmzip.pipeline import window_bits

SAMPLE = 4 << 20  # bytes of the input the windows are taken from (one block)
WINDOWS = 32
WINDOW = 256


def windows(data: bytes, count: int = WINDOWS, length: int = WINDOW) -> np.ndarray:
    """uint8 [rows, length'] of up to `count` windows spread evenly over data, each starting
    after a newline where one is near (so it starts cold the way a stream does)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    n = len(buf)
    if n <= count * length:  # short input: consecutive windows, as many as fit
        length = min(length, n)
        rows = max(1, n // length) if length else 0
        return buf[: rows * length].reshape(rows, length)
    out = np.empty((count, length), dtype=np.uint8)
    for i in range(count):
        start = i * (n - length) // (count - 1)
        newline = np.flatnonzero(buf[start - 1 : start - 1 + length // 4] == 10) if start else []
        if len(newline):  # start after it (at once if the byte before start is one)
            start = min(start + int(newline[0]), n - length)
        out[i] = buf[start : start + length]
    return out


def choose(sample: bytes, candidates: dict[str, tuple[object, object]]) -> str:
    """The name (of `candidates`: name -> (engine, block method), in order) whose model codes
    the sample's windows in the fewest bits; ties go to the first."""
    names = list(candidates)
    if len(names) == 1 or not sample:
        return names[0]
    rows = windows(transforms.forward(sample, transforms.choose(sample)))
    scores = [window_bits(engine, rows, method) for engine, method in (candidates[n] for n in names)]
    return names[scores.index(min(scores))]
