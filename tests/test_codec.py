import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmzip.codec.errors import CodecError
from lstmzip.codec.range_coder import Decoder, Encoder, check_frequencies


def _table(rng, rows):
    return rng.integers(1, 1 << 16, size=(rows, 256)).astype(np.float32)


def test_round_trip_many_steps():
    rng = np.random.default_rng(0)
    tables = [_table(rng, 5) for _ in range(40)]
    symbols = [rng.integers(0, 256, 5) for _ in range(40)]
    enc = Encoder()
    for s, f in zip(symbols, tables):
        enc.encode(s, f)
    dec = Decoder(enc.finish())
    for s, f in zip(symbols, tables):
        assert np.array_equal(dec.decode(f), s)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=1, max_size=300), st.integers(0, 2**32 - 1))
def test_round_trip_property(symbols, seed):
    rng = np.random.default_rng(seed)
    f = _table(rng, len(symbols))
    f[np.arange(len(symbols)), symbols] = rng.integers(1, 4, len(symbols))  # unlikely symbols too
    enc = Encoder()
    enc.encode(np.array(symbols), f)
    assert np.array_equal(Decoder(enc.finish()).decode(f), symbols)


def test_skewed_table_costs_few_bits():
    f = np.ones((1000, 256), dtype=np.float32)
    f[:, 65] = 65536
    enc = Encoder()
    enc.encode(np.full(1000, 65), f)
    assert len(enc.finish()) < 16


@pytest.mark.parametrize(
    "bad",
    [
        np.ones((3, 256), dtype=np.float64),  # float64 is misread by constriction
        np.asfortranarray(np.ones((3, 256), dtype=np.float32)),  # Fortran order is misread
        np.zeros((3, 256), dtype=np.float32),  # zero frequency
        np.full((3, 256), -1.0, dtype=np.float32),  # negative
        np.full((3, 256), np.nan, dtype=np.float32),
        np.full((3, 256), float(1 << 25), dtype=np.float32),  # beyond exact float32 integers
        np.ones((3, 255), dtype=np.float32),
        np.ones((2, 256), dtype=np.float32),  # rows != symbols
    ],
)
def test_traps_raise(bad):
    with pytest.raises(CodecError):
        Encoder().encode(np.zeros(3, dtype=np.int64), bad)


def test_fortran_order_trap_is_real():
    """A square Fortran-order table must be refused: its rows would be read as columns."""
    f = np.asfortranarray(np.ones((256, 256), dtype=np.float32))
    with pytest.raises(CodecError):
        check_frequencies(f)


def test_symbol_out_of_range():
    with pytest.raises(CodecError):
        Encoder().encode(np.array([256]), np.ones((1, 256), dtype=np.float32))


def test_damaged_stream_length():
    with pytest.raises(CodecError):
        Decoder(b"\x00\x01\x02")
