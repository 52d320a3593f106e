"""The context bias: learns the block's statistics, stays exact and order independent."""
import numpy as np
import pytest
import torch

from lstmzip.models import fixed_point as fp
from lstmzip.stages.host.context_bias import BIAS_V1, BIAS_V2, BIAS_V3, BIAS_V6, BIAS_V7, MAX_STREAMS, SCALE_ONE, BiasConfig, ContextBias

EXP = torch.tensor([max(1, round(65536 * np.exp(-d / 64))) for d in range(fp.EXP_TABLE_SIZE)], dtype=torch.int32)


def _run(mat: np.ndarray, logits_fn, cfg=BIAS_V1) -> np.ndarray:
    """Drive a ContextBias over a [streams, steps] byte matrix; return its tables [T, S, 256]."""
    streams, steps = mat.shape
    cb = ContextBias(streams, EXP, cfg, steps)
    out = []
    for t in range(steps):
        key = np.zeros(streams, dtype=np.int64) if cfg.match_context else None
        rep = np.zeros(streams, dtype=np.int64) if cfg.rep_context else None
        f = cb.freqs(logits_fn(t, streams), key, rep)
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


@pytest.mark.parametrize("cfg", [BIAS_V1, BIAS_V2, BIAS_V3, BIAS_V6, BIAS_V7], ids=["v1", "v2", "v3", "v6", "v7"])
def test_stream_order_does_not_matter(cfg):
    rng = np.random.default_rng(3)
    words = [b"alpha ", b"beta ", b"gamma ", b"delta ", b"\n"]
    text = b"".join(words[i] for i in rng.integers(0, len(words), 1200))
    mat = np.frombuffer(text[: 6 * 600], dtype=np.uint8).reshape(6, 600)
    logits = torch.from_numpy(rng.integers(-300, 300, (600, 6, 256)).astype(np.int32))
    perm = np.array([3, 0, 5, 1, 4, 2])
    a = _run(mat, lambda t, s: logits[t].clone(), cfg)
    b = _run(mat[perm], lambda t, s: logits[t][torch.from_numpy(perm)].clone(), cfg)
    assert np.array_equal(a[:, perm], b)  # shared rows are updated by sums, not in stream order


def test_16_bit_entries_saturate_where_32_bit_ones_go_on():
    """entry_bits 16 (method 17) stores int16 and clamps at +-32767; until an entry gets there
    it predicts exactly as 32-bit entries do. An LSTM that puts 'a' 8.4 nats down while the
    block is all 'a' drives the order-1 row of 'a' up past 32767 (511 logit units)."""
    steps = 400
    mat = np.full((1, steps), ord("a"), dtype=np.uint8)
    logits = torch.zeros((1, 256), dtype=torch.int32)
    logits[0, ord("a")] = -540  # 8.4 nats

    def run(bits):
        cb = ContextBias(1, EXP, BiasConfig(orders=(1,), entry_bits=bits), steps)
        freqs, peak = [], []
        for t in range(steps):
            freqs.append(cb.freqs(logits.clone()).copy())
            cb.update(mat[:, t].astype(np.int64))
            peak.append(int(cb.table.max()))
        return cb.table, np.stack(freqs), np.array(peak)

    t16, f16, peak16 = run(16)
    t32, f32, peak32 = run(32)
    assert t16.dtype == torch.int16 and t32.dtype == torch.int32
    assert peak32[-1] > 40000 and int(t16.max()) == 32767 and int(t16.min()) >= -32767
    crossed = int(np.argmax(peak32 > 32767))  # the first step an entry went past 16 bits
    assert 0 < crossed < steps - 1
    assert np.array_equal(f16[: crossed + 1], f32[: crossed + 1])
    assert not np.array_equal(f16[crossed + 1:], f32[crossed + 1:])
    assert (np.diff(peak16) >= 0).all()  # saturates, never wraps around


@pytest.mark.parametrize("bits", [16, 32])
def test_the_device_stage_saturates_as_the_host_one(bits):
    """The device context bias (methods 23-25's BIAS_V9/V10: 16-bit entries) gives the host
    one's frequencies step by step, past the step where a 16-bit entry saturates."""
    from lstmzip.stages.bias import BiasStage
    from lstmzip.stages.rows import RowBatch

    steps, cfg = 400, BiasConfig(orders=(1,), entry_bits=bits)
    logits = torch.zeros((1, 256), dtype=torch.int32)
    logits[0, ord("a")] = -540
    host = ContextBias(1, EXP, cfg, steps)
    dev = BiasStage(cfg, RowBatch.of([steps], [1], torch.device("cpu")), EXP)
    y = torch.tensor([ord("a")])
    for _ in range(steps):
        assert np.array_equal(dev.freqs(logits.clone(), None).numpy(), host.freqs(logits.clone()))
        dev.update(y, None)
        host.update(y.numpy())
    assert dev.table.dtype == (torch.int16 if bits == 16 else torch.int32)
    assert (int(dev.table.max()) == 32767) == (bits == 16)


def test_too_many_streams_refused():
    with pytest.raises(ValueError):
        ContextBias(MAX_STREAMS + 1, EXP)


def test_v2_learns_more_from_many_streams_that_agree():
    """64 streams see the same context and byte in a step: V1 moves the shared row by their
    mean gradient (as one stream would), V2 by their sum over sqrt(64) = 8 (about 8x further)."""
    mat = np.full((64, 3), ord("a"), dtype=np.uint8)
    p = {}
    for name, cfg in (("v1", BIAS_V1), ("v2", BIAS_V2)):
        tables = _run(mat, _flat, cfg)
        p[name] = tables[2, 0, ord("a")] / tables[2, 0].sum()
    one = _run(mat[:1], _flat, BIAS_V1)
    assert p["v1"] == one[2, 0, ord("a")] / one[2, 0].sum()  # the mean: as if one stream
    assert p["v2"] > 2 * p["v1"]


def test_orders_above_4_see_bytes_beyond_the_last_4():
    """"abcdef" and "zycdef" share their last 4 bytes and are followed by different bytes:
    order 4 cannot tell them apart, order 6 can (the context keeps the last 7 bytes)."""
    from lstmzip.stages.host.context_bias import BiasConfig

    text = b"abcdefX zycdefY " * 40
    mat = np.frombuffer(text, dtype=np.uint8).reshape(1, -1)
    p = {}
    for order in (4, 6):
        tables = _run(mat, _flat, BiasConfig(orders=(order,), count_scale="sqrt"))
        t = len(text) - 16 + 6  # the last "X"
        assert text[t] == ord("X")
        p[order] = tables[t, 0, ord("X")] / tables[t, 0].sum()
    assert p[4] < 0.5 < 0.7 < p[6]  # measured 0.32 and 0.78
    with pytest.raises(ValueError):
        ContextBias(1, EXP, BiasConfig(orders=(8,)))


def test_v3_column_context_learns_the_byte_above():
    """Lines whose k-th byte repeats the k-th byte of the line above, with the last bytes
    telling nothing: the column table learns it, the order tables alone cannot."""
    rng = np.random.default_rng(5)
    lines = []
    for _ in range(60):
        line = bytes(rng.choice(list(b"abcd"), 24))  # order 1 cannot copy: each letter has many successors
        lines += [b"<" + line + b"\n", b">" + line + b"\n"]
    text = b"".join(lines)
    mat = np.frombuffer(text, dtype=np.uint8).reshape(1, -1)
    plain = BiasConfig(orders=(1,), count_scale="sqrt")
    with_column = BiasConfig(orders=(1,), count_scale="sqrt", record=("column",))
    second_halves = np.concatenate([np.arange(i * 52 + 27, i * 52 + 51) for i in range(30, 60)])
    bits = {name: _bits(_run(mat, _flat, cfg), mat)[second_halves].mean()
            for name, cfg in (("plain", plain), ("column", with_column))}
    assert bits["plain"] > 1.0 and bits["column"] < 0.6 * bits["plain"]  # measured 1.19 and 0.57


def test_v3_logit_scale_turns_down_an_overconfident_lstm():
    """An LSTM that always backs the wrong byte strongly: the learned scale falls well below 1."""
    mat = np.frombuffer(bytes(range(32, 96)) * 4, dtype=np.uint8).reshape(2, -1)

    def wrong(t, s):
        lg = torch.zeros((s, 256), dtype=torch.int32)
        lg[:, 0] = 600  # ~9 nats on byte 0, which never comes
        return lg

    streams, steps = mat.shape
    cb = ContextBias(streams, EXP, BiasConfig(orders=(1,), count_scale="sqrt", logit_scale=True), steps)
    for t in range(steps):
        cb.freqs(wrong(t, streams))
        cb.update(mat[:, t].astype(np.int64))
    assert 0 <= int(cb.scale) < SCALE_ONE // 4
