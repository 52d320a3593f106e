from hypothesis import given, settings
from hypothesis import strategies as st

from lstmzip import transforms
from lstmzip.transforms import Transform


@settings(max_examples=300)
@given(st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"\xff"]), max_size=60))
def test_round_trip_any_line_endings(parts):
    data = b"".join(parts)
    t = transforms.choose(data)
    assert transforms.inverse(transforms.forward(data, t), t) == data


def test_choose():
    assert transforms.choose(b"a\r\nb\r\n") == Transform.CRLF
    assert transforms.choose(b"a\r\r\nb\rc\r\n") == Transform.CRLF  # lone CR kept
    assert transforms.choose(b"a\r\nb\n") == Transform.NONE  # mixed: coded as is
    assert transforms.choose(b"a\nb\n") == Transform.NONE
    assert transforms.choose(b"no newline") == Transform.NONE
    assert transforms.forward(b"a\r\r\nb\r\n", Transform.CRLF) == b"a\r\nb\n"
