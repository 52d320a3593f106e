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
