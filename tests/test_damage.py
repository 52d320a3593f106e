"""Damaged archives fail with ArchiveError (a clean message), never a wrong result."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lstmzip
from lstmzip.errors import LstmzipError
from tests.conftest import data_file


@pytest.fixture(scope="module")
def packed():
    data = data_file("future.py")[:3700]
    return data, lstmzip.compress(data, config=lstmzip.CodingConfig(try_lzma=False))


def test_truncations(packed):
    data, arc = packed
    for cut in list(range(0, 60)) + [len(arc) // 2] + list(range(len(arc) - 22, len(arc), 3)):
        with pytest.raises(LstmzipError):
            lstmzip.decompress(arc[:cut])


@settings(max_examples=12, deadline=None)
@given(st.data())
def test_flipped_bytes(packed, data_st):
    data, arc = packed
    pos = data_st.draw(st.integers(0, len(arc) - 1))
    bit = data_st.draw(st.integers(0, 7))
    bad = bytearray(arc)
    bad[pos] ^= 1 << bit
    with pytest.raises(LstmzipError):
        lstmzip.decompress(bytes(bad))


def test_trailing_garbage(packed):
    _, arc = packed
    with pytest.raises(LstmzipError, match="trailing"):
        lstmzip.decompress(arc + b"x")
