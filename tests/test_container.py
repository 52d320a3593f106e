import io

import pytest

from lstmzip import container as ct
from lstmzip.errors import ArchiveError


def _archive() -> bytes:
    h = ct.pack_header(ct.Header("default", "ab" * 32))
    b = ct.pack_block(ct.BlockHeader(5, 5, ct.Method.STORED, 0, 0, 0, ct.crc32(b"hello"))) + b"hello"
    return h + b + ct.pack_trailer(ct.Trailer(1, 5, ct.crc32(b"hello")))


def test_parse_round_trip():
    f = io.BytesIO(_archive())
    h = ct.read_header(f)
    assert h == ct.Header("default", "ab" * 32)
    b = ct.read_record(f)
    assert isinstance(b, ct.BlockHeader) and b.raw_len == 5 and b.method == ct.Method.STORED
    assert f.read(5) == b"hello"
    t = ct.read_record(f)
    assert t == ct.Trailer(1, 5, ct.crc32(b"hello"))


def test_not_an_archive():
    with pytest.raises(ArchiveError, match="not an lstmzip archive"):
        ct.read_header(io.BytesIO(b"hello world, this is text"))


def test_every_truncation_is_detected():
    data = _archive()
    for cut in range(len(data)):
        f = io.BytesIO(data[:cut])
        with pytest.raises(ArchiveError):
            ct.read_header(f)
            while True:
                rec = ct.read_record(f)
                if isinstance(rec, ct.BlockHeader):
                    if len(f.read(rec.coded_len)) != rec.coded_len:
                        raise ArchiveError("truncated")
                else:
                    break


def test_hostile_sizes_refused():
    bad = ct.TAG_BLOCK + ct._with_crc(ct._BLOCK.pack(1 << 30, 10, 1, 0, 1 << 30, 1, 0))
    with pytest.raises(ArchiveError, match="impossible"):
        ct.read_record(io.BytesIO(bad))
    # an LSTM block claiming far more output than its coded bytes can hold
    bad = ct.TAG_BLOCK + ct._with_crc(ct._BLOCK.pack(1 << 20, 8, 1, 0, 1 << 20, 1, 0))
    with pytest.raises(ArchiveError, match="impossible"):
        ct.read_record(io.BytesIO(bad))


def test_future_version_refused():
    data = bytearray(_archive())
    data[5] = 9
    with pytest.raises(ArchiveError, match="version 9"):
        ct.read_header(io.BytesIO(bytes(data)))
