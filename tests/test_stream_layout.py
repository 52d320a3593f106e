"""Stream layouts: every byte coded once, active streams always a prefix, plain = the old split."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmzip.stream_layout import Ramp, layout, ramp_starts


def _check(n: int, streams: int, ramp: Ramp | None) -> None:
    lay = layout(n, streams, ramp)
    data = bytes(np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8))
    assert lay.unstream(lay.matrix(data)) == data
    assert int(lay.lengths.sum()) == n and (n < streams or lay.lengths.min() >= 1)
    for t in range(lay.steps):  # the streams coding at step t are exactly 0 .. active[t] - 1
        coding = np.flatnonzero((lay.starts <= t) & (t < lay.ends))
        assert np.array_equal(coding, np.arange(lay.active[t]))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6000), st.integers(1, 40), st.none() | st.builds(Ramp, st.integers(0, 300), st.integers(0, 80)))
def test_every_byte_once_and_active_streams_a_prefix(n, streams, ramp):
    _check(n, min(streams, n), ramp)


def test_plain_layout_is_the_contiguous_split():
    lay = layout(10, 3, None)
    assert lay.starts.tolist() == [0, 0, 0] and lay.lengths.tolist() == [4, 3, 3]
    assert lay.active.tolist() == [3, 3, 3, 1]
    assert layout(0, 0).steps == 0


def test_ramped_streams_start_one_after_another_and_end_together():
    ramp = Ramp(first=256, double=64)
    assert ramp_starts(8, ramp).tolist() == [0, 256, 320, 320, 384, 384, 384, 384]
    lay = layout(100_000, 8, ramp)
    assert lay.starts.tolist() == ramp_starts(8, ramp).tolist()
    assert set(lay.ends.tolist()) <= {lay.steps, lay.steps - 1}
    assert lay.active[0] == 1 and lay.active[255] == 1 and lay.active[256] == 2 and lay.active[400] == 8


def test_a_block_too_short_for_the_ramp_is_laid_out_plainly():
    lay = layout(300, 4, Ramp(first=256, double=64))  # stream 3 would start after the end
    assert lay.starts.tolist() == [0, 0, 0, 0]


def test_weighted_line_length_weighs_long_lines_more():
    from lstmzip.pipeline import weighted_line_length

    assert weighted_line_length(b"ab\ncd\n") == 3.0
    assert weighted_line_length(b"a\n" + b"x" * 97 + b"\n") == (2 * 2 + 98 * 98) / 100
    assert weighted_line_length(b"no newline") == 10.0 and weighted_line_length(b"") == 0.0


def test_streams_hold_several_long_lines_with_line_contexts_only():
    """Methods with line contexts get streams of at least lines_per_stream (weighted) lines, up
    to long_line_stream_len; method 4 and short lines keep min_stream_len."""
    from lstmzip.container import Method
    from lstmzip.pipeline import CodingConfig, block_streams

    cfg = CodingConfig()
    long_lines = (b"x" * 3000 + b"\n") * 100  # 300 KB of 3 KB lines
    short_lines = (b"y" * 99 + b"\n") * 3000
    assert block_streams(long_lines, cfg, Method.LSTM_FIELDS) == 300100 // 12004
    assert block_streams(long_lines, cfg, Method.LSTM_ADAPTIVE2) == 300100 // 2048
    assert block_streams(short_lines, cfg, Method.LSTM_FIELDS) == 300000 // 2048
    huge = (b"z" * 30000 + b"\n") * 10
    assert block_streams(huge, cfg, Method.LSTM_RAMP) == len(huge) // (16 << 10)
    off = CodingConfig(lines_per_stream=0)
    assert block_streams(long_lines, off, Method.LSTM_FIELDS) == 300100 // 2048
    # methods 8 and 9 (the logs model's): streams of at least columns_stream_len, longer for long lines
    assert block_streams(short_lines, cfg, Method.LSTM_COLUMNS) == 300000 // (8 << 10)
    assert block_streams(short_lines, cfg, Method.LSTM_MIXER) == 300000 // (8 << 10)
    assert block_streams(long_lines, cfg, Method.LSTM_COLUMNS) == 300100 // 12004
    assert block_streams(short_lines, CodingConfig(columns_stream_len=0), Method.LSTM_COLUMNS) == 300000 // 2048


def test_repetitive_blocks_take_fewer_longer_streams_in_the_device_stages_methods():
    """In methods 10-16 a block that zlib level 1 codes in under repetitive_bpc bits a byte takes
    at most repetitive_streams streams, and where it codes in fewer bits still, streams of
    repetitive_stream_lens' length but never fewer than repetitive_least_streams (their streams
    see more of what they repeat); prose keeps min_stream_len's count, the host stages' methods
    keep theirs, and a lower max_streams (`--streams`) still caps."""
    import random

    from lstmzip.container import Method
    from lstmzip.pipeline import CodingConfig, block_streams, zlib_bpc

    cfg = CodingConfig()
    rng = random.Random(0)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(20000)]
    prose = b" ".join(rng.choice(words) for _ in range(200000))[: 1 << 20]  # zlib-1: ~5 bits a byte
    log = b"".join(b"2016-12-19 20:49:%02d INFO request %d served in %d ms\n" % (i % 60, i, i % 97)
                   for i in range(40000))[: 1 << 20]
    assert zlib_bpc(prose) > cfg.repetitive_bpc and zlib_bpc(log) < 1.2
    assert cfg.repetitive_stream_lens[0] == (1.2, 8 << 10)
    assert block_streams(prose, cfg, Method.LSTM_MIX6) == 512
    assert block_streams(log, cfg, Method.LSTM_MIX6) == (1 << 20) // (8 << 10) == 128
    assert block_streams(log, cfg, Method.LSTM_RANS) == 128
    assert block_streams(log, cfg, Method.LSTM_ADAPTIVE2) == 512  # host stages: as before
    assert block_streams(log[: 400 << 10], cfg, Method.LSTM_MIX6) == 50
    assert block_streams(log[: 40 << 10], cfg, Method.LSTM_MIX6) == 8  # not 5: at least 8 streams
    assert block_streams(log[: 20 << 10], cfg, Method.LSTM_MIX6) == 8  # 10 of 2 KiB, 2 of 8 KiB
    plain = CodingConfig(repetitive_stream_lens=())  # the cap alone, no longer streams
    # small blocks too: 8 streams, not the small blocks' rule's (as many as code in 512 steps),
    # unless that rule's are fewer already
    assert block_streams(log[: 12 << 10], plain, Method.LSTM_MIX6) > 8
    assert block_streams(log[: 12 << 10], cfg, Method.LSTM_MIX6) == 8
    assert block_streams(log[:3000], cfg, Method.LSTM_MIX6) == block_streams(log[:3000], plain, Method.LSTM_MIX6) < 8
    # the table's rows: the first that the block is under
    four = CodingConfig(repetitive_stream_lens=((0.5, 16 << 10), (2.0, 4 << 10)))
    assert block_streams(log, four, Method.LSTM_MIX6) == 256
    assert block_streams(log, plain, Method.LSTM_MIX6) == plain.repetitive_streams == 256
    assert block_streams(log, CodingConfig(repetitive_stream_lens=(), repetitive_streams=128), Method.LSTM_MIX6) == 128
    assert block_streams(log, CodingConfig(max_streams=64), Method.LSTM_MIX6) == 64
    # --streams N: N streams whatever the text, at least 2 KiB each
    assert block_streams(log, cfg.with_streams(2048), Method.LSTM_MIX6) == 512
    assert block_streams(log, cfg.with_streams(100), Method.LSTM_MIX6) == 100


def test_small_blocks_code_in_at_most_small_block_steps():
    """A block of at most small_block_len bytes is cut into as many streams as it takes to code in
    small_block_steps steps (2 x for the logs model's methods, device_small_block_steps for the
    device stages', counting the steps their ramped layout adds); a larger one, and any with small_block_steps=0 (`--best`), as
    min_stream_len says."""
    from lstmzip.container import Method
    from lstmzip.pipeline import BEST, CodingConfig, block_streams

    cfg = CodingConfig()
    text = (b"a short line of text\n" * 1000)[:4227]  # xargs.1's size
    assert block_streams(text, cfg, Method.LSTM_ADAPTIVE2) == 5  # ceil(4227 / 1024): 846 steps
    assert block_streams(text[:1024], cfg, Method.LSTM_ADAPTIVE2) == 1
    assert block_streams(text[:1025], cfg, Method.LSTM_ADAPTIVE2) == 2
    assert block_streams(text, CodingConfig(small_block_steps=0), Method.LSTM_ADAPTIVE2) == 4227 // 2048
    assert block_streams(text, BEST, Method.LSTM_ADAPTIVE2) == 1
    assert block_streams(text, cfg, Method.LSTM_MIXER) == 3  # ceil(4227 / 2048), not 1 of 8 KiB
    big = b"x" * (40 << 10)  # 20 streams of 2 KiB already: the rule adds none
    assert block_streams(big, cfg, Method.LSTM_ADAPTIVE2) == 20
    assert block_streams(b"x" * (16 << 10), cfg, Method.LSTM_ADAPTIVE2) == 16  # 1,024 steps
    assert block_streams(b"x" * ((16 << 10) + 1), cfg, Method.LSTM_ADAPTIVE2) == 8  # 2 KiB streams
    # the device stages' methods: in device_small_block_steps steps (0: small_block_steps),
    # their ramp's included: 9 streams (ceil(4227 / 512)) would take 550 steps, 10 take 506
    from lstmzip.pipeline import block_layout
    # (text that zlib does not code in under 1.2 bits a byte: no repetitive blocks' rule)
    import random

    rng = random.Random(1)
    prose = b" ".join(bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
                      for _ in range(1000))[:4227]
    assert block_streams(prose, cfg, Method.LSTM_MIX6) == 10
    assert block_layout(len(prose), 10, Method.LSTM_MIX6).steps == 506
    assert block_layout(len(prose), 9, Method.LSTM_MIX6).steps == 550
    assert block_streams(prose, CodingConfig(device_small_block_steps=0), Method.LSTM_MIX6) == 5
    assert block_streams(prose, BEST, Method.LSTM_MIX6) == 1
    assert block_streams(text, cfg, Method.LSTM_MIX6) == 8  # a repetitive block: 8 streams
    assert block_streams(b"x" * ((16 << 10) + 1), cfg, Method.LSTM_MIX6) == 8
    lines = (b"y" * 63 + b"\n") * 1024  # 64 KiB of short lines
    assert block_streams(lines[: 16 << 10], cfg, Method.LSTM_MIXER) == 8  # 2,048 steps
    assert block_streams(lines[: 27 << 10], cfg, Method.LSTM_MIXER) == 3  # streams of 8 KiB
