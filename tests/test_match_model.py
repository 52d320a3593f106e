"""The match model: sharpens repeats, stays exact, leaves rows without a match untouched."""
import numpy as np

from lstmzip.stages.host.match_model import MATCH_V1, MATCH_V2, MATCH_V3, MATCH_V4, MATCH_V5, MATCH_V6, MatchModel


def _run(data: bytes, streams: int, freqs_fn, cfg=MATCH_V1):
    """Drive a MatchModel over `data` split into equal streams; return the adjusted tables."""
    n = len(data) // streams
    mat = np.frombuffer(data[: n * streams], dtype=np.uint8).astype(np.int64).reshape(streams, n)
    m = MatchModel(streams, n, np.full(streams, n), cfg)
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


def _p(tables, data, stream, t):
    """Probability the table of step t gives stream `stream`'s actual byte."""
    n = tables.shape[0]
    sym = data[stream * n + t]
    return tables[t, stream, sym] / tables[t, stream].sum()


def test_v2_follows_a_match_through_a_changed_digit():
    """Records that differ in one digit: V1 drops the match at the digit and has nothing for
    the next bytes (their 4-byte context is new); V2 keeps following the earlier record."""
    records = b"".join(b"[job %d] state=running owner=batch queue=default\n" % (1000 + i) for i in range(12))
    v1, v2 = _run(records, 1, _flat, MATCH_V1), _run(records, 1, _flat, MATCH_V2)
    line = len(b"[job 1000] state=running owner=batch queue=default\n")
    after_digit = [k * line + 9 for k in range(6, 12)]  # the "]" right after the changed last digit
    assert all(np.array_equal(v1[t, 0], np.full(256, 100)) for t in after_digit)
    assert min(_p(v2, records, 0, t) for t in after_digit) > 8 / 256  # flat: 1/256


def test_v2_prefers_the_streams_own_history():
    """Stream 1 saw "key=A" earlier in its own bytes; stream 0 wrote "key=B" more recently.
    V1 follows the most recent occurrence anywhere (B), V2 the stream's own one (A)."""
    s0 = b"x" * 30 + b"key=B" + b"y" * 25
    s1 = b"key=A" + b"z" * 40 + b"key=A" + b"w" * 10
    data = s0 + s1
    v1, v2 = _run(data, 2, _flat, MATCH_V1), _run(data, 2, _flat, MATCH_V2)
    t = 49  # stream 1's second "A"
    assert s1[t] == ord("A")
    a, b = ord("A"), ord("B")
    assert v1[t, 1, b] > v1[t, 1, a]
    assert v2[t, 1, a] > v2[t, 1, b]


def test_v3_long_context_takes_over_a_shorter_match():
    """After a 12-byte repeat, V3 points behind the earlier copy as a 12-byte match (its APM
    cell trusts it more); V2 has found the same place by 4-byte lookups, with fewer bytes
    behind its match."""
    data = b"0123456789ab!" + b"#~^&" + b"0123456789ab"
    state = {}
    for name, cfg in (("v2", MATCH_V2), ("v3", MATCH_V3)):
        m = MatchModel(1, len(data), [len(data)], cfg)
        for t, y in enumerate(data):
            m.adjust(np.full((1, 256), 100, dtype=np.int32))
            m.update(t, np.array([y], dtype=np.int64))
        state[name] = (int(m.src_col[0]), int(m.length[0]))
    assert state["v3"] == (12, 12)
    assert state["v2"][0] == 12 and state["v2"][1] < 12


def test_prediction_key():
    m = MatchModel(2, 16, [16, 16], MATCH_V3)
    assert m.prediction_key(2).tolist() == [0, 0]  # no match yet
    for t, y in enumerate(b"abcdeabcd"):
        m.adjust(np.full((2, 256), 100, dtype=np.int32))
        m.update(t, np.array([y, y], dtype=np.int64))
    key = m.prediction_key(2)
    assert (key & 0xFF).tolist() == [1 + ord("e")] * 2 and (key < (1 << 14)).all()


def test_a_stream_that_starts_late_hashes_its_long_context_like_one_that_did_not():
    """Ramped layouts (method 6): stream 1 codes the same bytes 5 steps after stream 0, so its
    12-byte rolling hash must equal stream 0's 5 steps earlier (bytes it never coded stay out)."""
    data = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8).astype(np.int64)
    lag, n = 5, len(data)
    m = MatchModel(2, n + lag, [n + lag, n + lag], MATCH_V3, starts=np.array([0, lag]))
    seen = []
    for t in range(n + lag):
        rows = 1 if t < lag else 2
        y = np.array([data[t] if t < n else 0, data[t - lag]][:rows], dtype=np.int64)
        m.adjust(np.full((rows, 256), 100, dtype=np.int32))
        m.update(t, y)
        seen.append(m.rolling.copy())
    for t in range(20, n):
        assert seen[t + lag][1] == seen[t][0]


def test_rep_pointer_stays_aligned_through_misses_and_speaks_only_when_it_differs():
    """MATCH_V4: once a match has run 16 bytes the rep pointer copies it, then follows the same
    source alignment through changed bytes; rep_key is 0 wherever it agrees with the match."""
    rng = np.random.default_rng(3)
    first = rng.integers(0, 256, 200, dtype=np.uint8)
    second = first.copy()
    second[[60, 61, 90, 120, 121, 122]] ^= 0x55  # changed fields in a repeated record
    data = np.concatenate([first, second]).astype(np.int64)
    n = len(data)
    m = MatchModel(1, n, [n], MATCH_V4)
    keys = []
    for t in range(n):
        m.adjust(np.full((1, 256), 100, dtype=np.int32))
        keys.append(int(m.rep_key(1)[0]))
        if t >= 240:  # established in the second copy: the rep points at byte t + 1 - 200
            assert m.rep_stream[0] == 0 and m.rep_col[0] == t - 200, t
        m.update(t, data[t : t + 1].copy())
    assert all(k == 0 for k in keys[:216])  # no rep before a match has run 16 bytes
    agree = [t for t in range(240, n) if m.hist[0, t - 200] == data[t] and keys[t] == 0]
    assert len(agree) > 100  # mostly silent: the match predicts the same byte


def test_v5_looks_up_the_long_context_in_the_streams_own_entries_first():
    """MATCH_V5: stream 1 saw a 12-byte context early, stream 0 the same context later (so it
    is the shared table's latest entry); on seeing it again stream 1 follows its own copy
    (V5) instead of stream 0's (V4)."""
    rng = np.random.default_rng(5)
    ctx = np.frombuffer(b"long-context", dtype=np.uint8)
    s0 = rng.integers(128, 256, 60, dtype=np.uint8)
    s1 = rng.integers(128, 256, 60, dtype=np.uint8)
    s1[0:12], s1[12] = ctx, ord("A")
    s0[20:32], s0[32] = ctx, ord("B")
    s1[40:52] = ctx
    for cfg, source, predicted in ((MATCH_V4, 0, "B"), (MATCH_V5, 1, "A")):
        m = MatchModel(2, 60, [60, 60], cfg)
        for t in range(52):
            m.adjust(np.full((2, 256), 100, dtype=np.int32))
            m.update(t, np.array([s0[t], s1[t]], dtype=np.int64))
        assert m.src_stream[1] == source and m.prediction_key(2)[1] & 0xFF == 1 + ord(predicted), cfg


def test_v6_learns_which_column_of_a_repeated_line_changes():
    """MATCH_V6: in lines that repeat but for a letter at column 2, the column APM learns that
    the match misses there (and hits elsewhere), which V5's cells, blind to the column, cannot."""
    letters = np.random.default_rng(6).integers(97, 123, 160)  # no period for a match to lock on to
    text = b"".join(b"t=%c state=running owner=batch\n" % c for c in letters)
    n = len(text)
    sym = np.frombuffer(text, dtype=np.uint8)
    column = np.array([t - text.rfind(b"\n", 0, t) - 1 for t in range(n)])
    cost = {}
    for cfg in (MATCH_V5, MATCH_V6):
        tables = _run(text, 1, _flat, cfg)[:, 0]
        p = tables[np.arange(n), sym] / tables.sum(-1)
        late = np.arange(n) >= n // 2  # once the column cells have learned
        cost[cfg] = (-np.log2(p[late & (column == 2)]).sum(), -np.log2(p[late & (column != 2)]).sum())
    assert cost[MATCH_V6][0] < cost[MATCH_V5][0]  # less mass on the byte that always changes
    assert sum(cost[MATCH_V6]) < sum(cost[MATCH_V5])
