"""Record contexts (methods 5-7): the byte above, the field number, the current word, the field name, the field above."""
import torch

from lstmzip.stages.host.record_context import NO_BYTE, RecordContext


def _feed(rc: RecordContext, text: bytes) -> torch.Tensor:
    ctx = torch.full((1,), 10, dtype=torch.int64)
    for b in text:
        rc.update(torch.tensor([b]))
        ctx = ((ctx << 8) | b) & ((1 << 56) - 1)
    return ctx


def test_column_is_the_byte_above():
    rc = RecordContext(1, 64)
    ctx = _feed(rc, b"abcdef\nxy")
    (column,) = rc.keys(("column",), ctx)
    assert int(column) & 0x1FF == ord("c")  # column 2 of the line above
    assert (int(column) >> 9) & 0xFF == ord("y") and int(column) >> 17 == 2
    ctx = _feed(rc, b"zzzzzzz")  # past the end of the line above
    assert int(rc.keys(("column",), ctx)[0]) & 0x1FF == NO_BYTE


def test_first_line_has_nothing_above():
    rc = RecordContext(1, 8)
    assert int(rc.keys(("column",), _feed(rc, b"ab"))[0]) & 0x1FF == NO_BYTE


def test_fields_and_words():
    rc = RecordContext(1, 64)
    ctx = _feed(rc, b"2016-12-19 10:31:47 INFO ab")
    field, word, field_class = rc.keys(("field", "word", "field_class"), ctx)
    assert int(field) & 63 == 5  # separators: space, colon, colon, space, space
    assert int(field_class) >> 6 == 3  # lower case letter
    again = RecordContext(1, 64)
    w2 = again.keys(("word",), _feed(again, b"xyz ab"))[0]
    assert int(word) == int(w2)  # the word is "ab" in both, whatever came before
    ctx = _feed(rc, b"\n")
    assert int(rc.keys(("field",), ctx)[0]) & 63 == 0 and int(rc.word[0]) == 0


def test_streams_are_independent():
    rc = RecordContext(2, 16)
    for a, b in zip(b"ab\ncd", b"xyz\nw"):
        rc.update(torch.tensor([a, b]))
    ctx = torch.tensor([ord("d"), ord("w")])
    col = rc.keys(("column",), ctx)[0]
    assert (col & 0x1FF).tolist() == [ord("\n"), ord("y")]  # "ab\n" ends at column 2


def test_key_is_the_name_before_the_last_colon_or_equals():
    """Method 6: a JSON key or key=value name stays the context through the value, ends at a newline."""
    a, b = RecordContext(1, 128), RecordContext(1, 128)
    ka = a.keys(("key",), _feed(a, b'{"id":7,"login":"mu'))[0]
    kb = b.keys(("key",), _feed(b, b'user=ann login=mu'))[0]
    assert int(ka) == int(kb) and int(ka) & 0xFF == ord("u")  # "login" and the last byte, in both
    other = a.keys(("key",), _feed(a, b'","name":"mu'))[0]
    assert int(other) >> 8 != int(ka) >> 8
    _feed(a, b"\nmu")
    assert int(a.key[0]) == 0


def test_field_above_follows_the_field_not_the_column():
    """Method 7: a longer first field shifts the columns; field_above still finds the byte at
    the same offset of the same field in the line above, and the byte after it."""
    rc = RecordContext(1, 128, field_starts=True)
    ctx = _feed(rc, b"1.2.3.4 GET /ab\n10.20.30.40 GET /")  # the next byte: offset 1 of field 2
    above, above_next, column = rc.keys(("field_above", "field_above_next", "column"), ctx)
    assert int(above) & 0x1FF == ord("a") and (int(above) >> 9) & 0xFF == ord("/") and int(above) >> 17 == 2
    assert int(above_next) & 0x1FF == ord("a") and (int(above_next) >> 9) & 0x1FF == ord("b")
    assert int(column) & 0x1FF == NO_BYTE  # column 17 is past the end of the line above
    ctx = _feed(rc, b"xyz")  # offset 4 of field 2: the line above ends at offset 3 (its newline)
    assert int(rc.keys(("field_above",), ctx)[0]) & 0x1FF == NO_BYTE


def test_field_above_needs_a_line_above():
    rc = RecordContext(1, 16, field_starts=True)
    assert int(rc.keys(("field_above",), _feed(rc, b"ab cd"))[0]) & 0x1FF == NO_BYTE
