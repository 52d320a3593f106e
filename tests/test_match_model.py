"""The match model: sharpens repeats, stays exact, leaves rows without a match untouched."""
import numpy as np

from models.match_model import MatchModel


def _run(data: bytes, streams: int, freqs_fn):
    """Drive a MatchModel over `data` split into equal streams; return the adjusted tables."""
    n = len(data) // streams
    mat = np.frombuffer(data[: n * streams], dtype=np.uint8).astype(np.int64).reshape(streams, n)
    m = MatchModel(streams, n, n, 0)
    out = []
    for t in range(n):
        f = m.adjust(freqs_fn(t, streams))
        assert f.dtype == np.float32 and f.flags.c_contiguous
        out.append(f)
        m.update(t, mat[:, t].copy())
    return np.stack(out)


def _flat(t, streams):
    return np.full((streams, 256), 100, dtype=np.int32)


def test_repeats_get_sharper_and_rows_stay_valid():
    text = b"the quick brown fox jumps over the lazy dog. " * 12
    tables = _run(text, 1, _flat)
    n = tables.shape[0]
    assert tables.min() >= 1 and tables.sum(-1).max() < (1 << 24) and np.all(tables == np.round(tables))
    sym = np.frombuffer(text[:n], dtype=np.uint8)
    p = tables[np.arange(n), 0, sym] / tables[:, 0].sum(-1)
    assert p[:40].max() < 0.01  # first pass: nothing to match, the flat table is untouched
    assert p[-100:].mean() > 0.5  # repeats: the right byte gets most of the mass


def test_no_match_means_identical_rows():
    data = bytes(range(256))  # no 4-byte context repeats
    tables = _run(data, 2, _flat)
    assert np.array_equal(tables, np.full_like(tables, 100))


def test_matches_across_streams():
    """Stream 1 repeats what stream 0 coded earlier; the model finds it across streams."""
    a = b"abcdefghijklmnopqrstuvwxyz0123456789" * 2
    data = a + a[5:] + a[:5]
    tables = _run(data, 2, _flat)
    assert tables[20:, 1].max() > 100
