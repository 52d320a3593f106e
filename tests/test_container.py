import io
import struct

import pytest

from lstmzip import container as ct
from lstmzip.errors import ArchiveError

SHA = "ab" * 32
HELLO = ct.BlockHeader(5, 5, ct.Method.STORED, 0, 0, 0, ct.crc32(b"hello"))


def _archive() -> bytes:
    return ct.pack_header(SHA) + ct.pack_block(HELLO) + b"hello" + ct.pack_trailer(ct.Trailer(1, 5, ct.crc32(b"hello")))


def _archive_v1() -> bytes:
    """The same archive in format version 1 (docs/FORMAT.md 1.2), packed by hand."""
    def crc(body):
        return body + struct.pack("<I", ct.crc32(body))
    head = crc(b"LSTMZ" + bytes([1, 0, 7]) + b"default" + bytes.fromhex(SHA))
    block = b"B" + crc(struct.pack("<IIBBIII", 5, 5, 0, 0, 0, 0, ct.crc32(b"hello"))) + b"hello"
    return head + block + b"E" + crc(struct.pack("<IQI", 1, 5, ct.crc32(b"hello")))


@pytest.mark.parametrize("archive, header", [
    (_archive(), ct.Header(SHA[:16], None, 2)),
    (_archive_v1(), ct.Header(SHA, "default", 1)),
])
def test_parse_round_trip(archive, header):
    f = io.BytesIO(archive)
    h = ct.read_header(f)
    assert h == header and h.made_with(SHA) and not h.made_with("ac" * 32)
    b = ct.read_record(f, h.version)
    assert b == HELLO
    assert f.read(5) == b"hello"
    t = ct.read_record(f, h.version)
    assert t == ct.Trailer(1, 5, ct.crc32(b"hello"))
    assert f.read() == b""


def test_version_2_is_small():
    """Header 18 bytes, a small block's header 15, the trailer 11: 44 besides the payload
    (version 1: 51 + 27 + 21 with the name 'default')."""
    assert len(ct.pack_header(SHA)) == 18 and len(ct.pack_block(HELLO)) == 15
    assert len(ct.pack_trailer(ct.Trailer(1, 5, 0))) == 11 and len(_archive()) == 44 + 5
    assert len(_archive_v1()) == 51 + 27 + 5 + 21


@pytest.mark.parametrize("n", [0, 1, 127, 128, 300, 1 << 14, (1 << 21) - 1, 1 << 21, 64 << 20, (1 << 64) - 1])
def test_varints_round_trip(n):
    t = ct.Trailer(7, n, 0)
    f = io.BytesIO(ct.pack_trailer(t))
    assert ct.read_record(f) == t and f.read() == b""


def test_overlong_varint_refused():
    """One number, one encoding: 5 as 0x85 0x00 is refused even with a valid CRC."""
    body = b"\x01\x85\x00" + bytes(4)
    with pytest.raises(ArchiveError, match="overlong"):
        ct.read_record(io.BytesIO(b"E" + ct._with_crc(body)))
    with pytest.raises(ArchiveError, match="too long"):
        ct.read_record(io.BytesIO(b"E" + ct._with_crc(b"\x01" + b"\xff" * 11)))


def test_not_an_archive():
    with pytest.raises(ArchiveError, match="not an lstmzip archive"):
        ct.read_header(io.BytesIO(b"hello world, this is text"))


@pytest.mark.parametrize("make", [_archive, _archive_v1])
def test_every_truncation_is_detected(make):
    data = make()
    for cut in range(len(data)):
        f = io.BytesIO(data[:cut])
        with pytest.raises(ArchiveError):
            version = ct.read_header(f).version
            while True:
                rec = ct.read_record(f, version)
                if isinstance(rec, ct.BlockHeader):
                    if len(f.read(rec.coded_len)) != rec.coded_len:
                        raise ArchiveError("truncated")
                else:
                    break


@pytest.mark.parametrize("make", [_archive, _archive_v1])
def test_every_bit_flip_in_a_record_is_detected(make):
    """Every record is checksummed: a flipped bit outside the payload is an ArchiveError."""
    data = make()
    payload = data.index(b"hello")
    for pos in [p for p in range(len(data)) if not payload <= p < payload + 5]:
        for bit in range(8):
            bad = bytearray(data)
            bad[pos] ^= 1 << bit
            f = io.BytesIO(bytes(bad))
            with pytest.raises(ArchiveError):
                version = ct.read_header(f).version
                ct.read_record(f, version)
                f.read(5)
                ct.read_record(f, version)


def test_hostile_sizes_refused():
    bad = ct.pack_block(ct.BlockHeader(1 << 30, 10, ct.Method.LSTM, 0, 1 << 30, 1, 0))
    with pytest.raises(ArchiveError, match="impossible"):
        ct.read_record(io.BytesIO(bad))
    # an LSTM block claiming far more output than its coded bytes can hold
    bad = ct.pack_block(ct.BlockHeader(1 << 20, 8, ct.Method.LSTM, 0, 1 << 20, 1, 0))
    with pytest.raises(ArchiveError, match="impossible"):
        ct.read_record(io.BytesIO(bad))


def test_future_version_refused():
    data = bytearray(_archive())
    data[5] = 9
    with pytest.raises(ArchiveError, match="version 9 is not supported .*reads 1, 2"):
        ct.read_header(io.BytesIO(bytes(data)))


@pytest.mark.parametrize("make, total", [(_archive, 5), (_archive_v1, 5)])
def test_peek_trailer_reads_either_version(tmp_path, make, total):
    path = tmp_path / "a.lstmz"
    path.write_bytes(make())
    assert ct.peek_trailer(str(path)) == ct.Trailer(1, total, ct.crc32(b"hello"))
    path.write_bytes(make()[:-1])
    assert ct.peek_trailer(str(path)) is None
