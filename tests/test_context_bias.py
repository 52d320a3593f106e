"""The context bias: learns the block's statistics, stays exact and order independent."""
import numpy as np
import pytest
import torch

from models import fixed_point as fp
from models.context_bias import MAX_STREAMS, ContextBias

EXP = torch.tensor([max(1, round(65536 * np.exp(-d / 64))) for d in range(fp.EXP_TABLE_SIZE)], dtype=torch.int32)


def _run(mat: np.ndarray, logits_fn) -> np.ndarray:
    """Drive a ContextBias over a [streams, steps] byte matrix; return its tables [T, S, 256]."""
    streams, steps = mat.shape
    cb = ContextBias(streams, EXP)
    out = []
    for t in range(steps):
        f = cb.freqs(logits_fn(t, streams))
        assert f.dtype == np.int32 and f.min() >= 1 and f.max() <= (1 << 16)
        out.append(f.copy())
        cb.update(mat[:, t].astype(np.int64))
    return np.stack(out)


def _flat(t, streams):
    return torch.zeros((streams, 256), dtype=torch.int32)


def _bits(tables: np.ndarray, mat: np.ndarray) -> np.ndarray:
    """Bits per step, summed over streams."""
    T = mat.shape[1]
    p = np.take_along_axis(tables, mat.T[:, :, None].astype(np.int64), axis=2)[..., 0] / tables.sum(-1)
    return -np.log2(p).sum(axis=1)[:T]


def test_learns_the_block():
    text = b"we hold these truths to be self-evident, that all men are created equal; " * 8
    mat = np.frombuffer(text, dtype=np.uint8).reshape(1, -1)
    bits = _bits(_run(mat, _flat), mat)
    assert bits[:60].mean() > 7.5  # a flat model starts at 8 bits per byte
    assert bits[-150:].mean() < 1.0  # by the last repeats the contexts predict the next byte


def test_stream_order_does_not_matter():
    rng = np.random.default_rng(3)
    words = [b"alpha ", b"beta ", b"gamma ", b"delta ", b"\n"]
    text = b"".join(words[i] for i in rng.integers(0, len(words), 1200))
    mat = np.frombuffer(text[: 6 * 600], dtype=np.uint8).reshape(6, 600)
    logits = torch.from_numpy(rng.integers(-300, 300, (600, 6, 256)).astype(np.int32))
    perm = np.array([3, 0, 5, 1, 4, 2])
    a = _run(mat, lambda t, s: logits[t].clone())
    b = _run(mat[perm], lambda t, s: logits[t][torch.from_numpy(perm)].clone())
    assert np.array_equal(a[:, perm], b)  # shared rows are updated by sums, not in stream order


def test_too_many_streams_refused():
    with pytest.raises(ValueError):
        ContextBias(MAX_STREAMS + 1, EXP)
