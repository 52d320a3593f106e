"""`--model auto`: which model codes an input best, decided in about a second.

Each candidate codes WINDOWS windows of WINDOW bytes spread over the sample (the input's
first block) as the streams of one block, through its own block method's stages, and the
candidate whose model needs the fewest bits wins. Windows from across the sample see more
of the input than its first bytes would (a log's banner, a source file's licence header),
and the stages matter: the `logs` model's lead on repetitive records (XML, JSON, CSV) comes
from its method's record contexts as much as from its LSTM, and more of it than windows show
(LONG_STREAM_DISCOUNT). Checked against compressing whole files with every model:
benchmarks/auto_model.py.
"""
from __future__ import annotations

import numpy as np

from lstmzip import transforms
from lstmzip.pipeline import STAGES, window_bits

SAMPLE = 4 << 20  # bytes of the input the windows are taken from (one block)
WINDOWS = 32
WINDOW = 128
# Windows this short understate what a method that learns from long streams gains over a whole
# file (the logs model's columns and records: methods 8, 9 and 17), so its window bits are
# divided by this. Chosen with WINDOW on the tuning files (`python benchmarks/auto_model.py
# --tuning`: XML, JSON, CSV, YAML, logs, configuration, C, JavaScript, Python, English; none of
# them the benchmark's): the best model for how many of them, and how much larger all their
# archives are than with the best model for each. lstmzip 0.21 (the python model on method 16,
# which wins more of them than its method 6 did), 29 files: 1.15 25, 0.16% (1.14 the same);
# 1.10 24, 0.28%; 1.12 23, 0.30%; 1.17 24, 0.24%; 1.20 23, 0.32%; 1.25 (chosen for 0.20's
# models) 21, 1.19%; 1.0 20, 1.15%.
# (0.20: 32 x 256 bytes without it 19 of 29, 1.64%; 32 x 128 with 1.25 25, 0.28%; 48 x 160 and
# 64 x 128 no better.)
LONG_STREAM_DISCOUNT = 1.15


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


def scores(sample: bytes, candidates: dict[str, tuple[object, object]]) -> dict[str, float]:
    """Each candidate's (name -> (engine, block method)) score: its bits on the sample's
    windows, divided by LONG_STREAM_DISCOUNT for a method that learns from long streams."""
    rows = windows(transforms.forward(sample, transforms.choose(sample)))
    out = {}
    for name, (engine, method) in candidates.items():
        stages = STAGES.get(method)
        out[name] = window_bits(engine, rows, method) / (LONG_STREAM_DISCOUNT if stages and stages.long_streams else 1.0)
    return out


def choose(sample: bytes, candidates: dict[str, tuple[object, object]]) -> str:
    """The name (of `candidates`: name -> (engine, block method), in order) with the lowest
    score; ties go to the first."""
    names = list(candidates)
    if len(names) == 1 or not sample:
        return names[0]
    score = scores(sample, candidates)
    return min(names, key=lambda n: score[n])
