"""The archive format (see docs/FORMAT.md): a header, self-describing blocks, a trailer.

Sizes and checksums of the whole input live in the trailer, so compression streams (stdin
of unknown length, bounded memory) and a cut-off archive is always detected. Every length
is checked against fixed caps before anything is allocated or read.

Version 2 (written since 0.23) holds the same records as version 1 (read still) in fewer bytes:
lengths as varints, the model named by the first 8 bytes of its sha256 alone. A one-block
archive carries 44-57 bytes besides its payload instead of 92 plus the model name's length.
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum
from typing import BinaryIO

from lstmzip.errors import ArchiveError

MAGIC = b"LSTMZ"
VERSION = 2  # the version written
READABLE = (1, 2)
MODEL_ID_BYTES = 8  # version 2 names the model by this much of its sha256
MAX_BLOCK = 64 << 20
# Streams per LSTM block. The engine holds state, logits and a frequency table per stream
# (~10 KB each for 2 x 256), so this cap is what keeps a small hostile header from asking for
# gigabytes. lstmzip never writes more than 512 (CodingConfig.max_streams).
MAX_STREAMS = 1 << 14
MAX_ADAPTIVE_STREAMS = 1 << 14  # lstmzip.stages.host.context_bias.MAX_STREAMS
MAX_NAME = 64
# No model codes a byte in fewer than ~0.0056 bits (the largest frequency is 2^16 of a total
# of at least 2^16 + 255), so an LSTM block cannot expand more than ~1430x. Refusing more
# keeps a hostile header from making the decoder run for hours on a few coded bytes.
MAX_LSTM_RATIO = 1500

_START = struct.Struct("<5sB")  # magic, version
_HEADER_V1 = struct.Struct("<BB")  # flags, model-name length
_BLOCK_V1 = struct.Struct("<IIBBIII")  # raw_len, coded_len, method, transform, model_len, streams, raw_crc
_TRAILER_V1 = struct.Struct("<IQI")  # blocks, total size, crc32 of everything decoded
_CRC = struct.Struct("<I")
_MAX_VARINT = 10  # bytes of a varint (LEB128): enough for 64 bits
TAG_BLOCK, TAG_END = b"B", b"E"


class Method(IntEnum):
    STORED = 0
    LSTM = 1  # LSTM + match model (archives of lstmzip 0.1 before the context bias)
    LZMA = 2
    LSTM_ADAPTIVE = 3  # LSTM + context bias learned while coding + match model
    LSTM_ADAPTIVE2 = 4  # as 3, with the stages' second versions (BIAS_V2, MATCH_V2): lstmzip 0.2
    LSTM_RECORDS = 5  # as 4, plus line/field contexts, a logit scale, long matches (BIAS_V3, MATCH_V3)
    LSTM_RAMP = 6  # as 5, plus a rep match pointer (BIAS_V4, MATCH_V4) and ramped streams (stream_layout)
    LSTM_FIELDS = 7  # as 6, plus contexts from the same field of the line above (BIAS_V5), warm-started streams
    LSTM_COLUMNS = 8  # as 7, plus a second match APM keyed by the column (MATCH_V6)
    LSTM_MIXER = 9  # as 8, plus learned weights for the context bias's tables and the LSTM (BIAS_V6)
    LSTM_RANS = 10  # method 4's stages on the engine's device, coded by interleaved rANS (lstmzip.stages)
    LSTM_MIX = 11  # as 10, plus context models mixed with the LSTM bit by bit (lstmzip.stages.mix)
    LSTM_MIX2 = 12  # as 11, plus the match model's prediction as a mixer input and weight sets by match length
    LSTM_MIX3 = 13  # as 12, with updates shared by sqrt, warmed-up weight sets, class weights (MIX_V3)
    LSTM_MIX4 = 14  # as 13, with the contexts' weights chosen by their buckets' visits (MIX_V4)
    LSTM_MIX5 = 15  # as 14, in a ramped layout whose joining streams start warm (RAMP_V2)
    LSTM_MIX6 = 16  # as 15, with the match model's long context (MATCH_V7) and a third weight set (MIX_V5)
    LSTM_MIXER16 = 17  # as 9, with the context bias's tables in 16-bit entries (BIAS_V7): half the memory
    LSTM_MIX7 = 18  # as 16, with the context bias's orders 2, 4 and 7 only (BIAS_V8)
    LSTM_MIX8 = 19  # as 16, plus counters of orders 2 and 4 kept per stream (MIX_V6)
    LSTM_MIX9 = 20  # as 18, plus tables of the last word and two words, orders 3, 4, 6 (MIX_V7)
    LSTM_MIX10 = 21  # as 19, plus those tables, orders 2, 3, 4, 6 (MIX_V8)
    LSTM_MIX11 = 22  # as 18, plus those tables (MIX_V9)
    LSTM_MIX12 = 23  # as 20, with checked buckets (MIX_V10) and 16-bit context bias entries (BIAS_V9)
    LSTM_MIX13 = 24  # as 21, with checked buckets and the last three words (MIX_V11), 16-bit bias (BIAS_V10)
    LSTM_MIX14 = 25  # as 22, with checked buckets (MIX_V12) and 16-bit context bias entries (BIAS_V9)


LSTM_METHODS = (Method.LSTM, Method.LSTM_ADAPTIVE, Method.LSTM_ADAPTIVE2, Method.LSTM_RECORDS, Method.LSTM_RAMP,
                Method.LSTM_FIELDS, Method.LSTM_COLUMNS, Method.LSTM_MIXER, Method.LSTM_RANS,
                Method.LSTM_MIX, Method.LSTM_MIX2, Method.LSTM_MIX3, Method.LSTM_MIX4, Method.LSTM_MIX5,
                Method.LSTM_MIX6, Method.LSTM_MIXER16, Method.LSTM_MIX7, Method.LSTM_MIX8,
                Method.LSTM_MIX9, Method.LSTM_MIX10, Method.LSTM_MIX11, Method.LSTM_MIX12,
                Method.LSTM_MIX13, Method.LSTM_MIX14)


@dataclass(frozen=True)
class Header:
    model_id: str  # hex: the model file's sha256 (version 1) or its first 8 bytes (version 2)
    model_name: str | None = None  # version 1 only: the model's name when the archive was made
    version: int = VERSION

    def made_with(self, sha256: str) -> bool:
        """Whether the model file of this sha256 (hex) is the archive's model."""
        return sha256.startswith(self.model_id)


@dataclass(frozen=True)
class BlockHeader:
    raw_len: int
    coded_len: int
    method: Method
    transform: int
    model_len: int  # bytes the model codes (after the transform)
    streams: int
    raw_crc: int


@dataclass(frozen=True)
class Trailer:
    blocks: int
    total_size: int
    total_crc: int


def crc32(data: bytes, value: int = 0) -> int:
    return zlib.crc32(data, value) & 0xFFFFFFFF


def _with_crc(body: bytes) -> bytes:
    return body + _CRC.pack(crc32(body))


def varint(n: int) -> bytes:
    """n >= 0 as LEB128: 7 bits a byte, low first, the high bit set on all but the last."""
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def pack_header(model_sha256: str) -> bytes:
    """The header of a version-2 archive made with the model file of this sha256 (hex)."""
    return _with_crc(_START.pack(MAGIC, VERSION) + bytes.fromhex(model_sha256)[:MODEL_ID_BYTES])


def pack_block(b: BlockHeader) -> bytes:
    fields = varint(b.raw_len) + varint(b.coded_len) + bytes([int(b.method), b.transform])
    return TAG_BLOCK + _with_crc(fields + varint(b.model_len) + varint(b.streams) + _CRC.pack(b.raw_crc))


def pack_trailer(t: Trailer) -> bytes:
    return TAG_END + _with_crc(varint(t.blocks) + varint(t.total_size) + _CRC.pack(t.total_crc))


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ArchiveError(f"truncated archive (cut off in {what})")
    return data


# the fewest bytes a trailer takes (version 2's with one-byte varints; version 1's take 21): what
# must still follow a block's payload
TRAILER_BYTES = 1 + 2 + 2 * _CRC.size
_CHUNK = 1 << 20


def read_payload(f: BinaryIO, n: int, what: str, available: int | None = None) -> bytes:
    """`n` bytes of block payload. `available` (bytes left in the file, when known) is checked
    first, and a pipe is read in chunks: a header that lies about its length costs nothing."""
    if available is not None and n + TRAILER_BYTES > available:
        raise ArchiveError(f"truncated archive ({what} claims {n} bytes, the file has {max(0, available - TRAILER_BYTES)} left)")
    parts, left = [], n
    while left:
        part = f.read(min(left, _CHUNK))
        if not part:
            raise ArchiveError(f"truncated archive (cut off in {what})")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _check_crc(body: bytes, crc_bytes: bytes, what: str) -> None:
    if _CRC.unpack(crc_bytes)[0] != crc32(body):
        raise ArchiveError(f"damaged archive ({what} checksum mismatch)")


def read_header(f: BinaryIO) -> Header:
    first = f.read(_START.size)
    if len(first) < len(MAGIC) or first[: len(MAGIC)] != MAGIC:
        raise ArchiveError("not an lstmzip archive")
    if len(first) < _START.size:
        raise ArchiveError("truncated archive (cut off in header)")
    version = first[-1]
    if version not in READABLE:
        raise ArchiveError(f"archive format version {version} is not supported (this lstmzip reads "
                           f"{', '.join(map(str, READABLE))})")
    if version == 2:
        model_id = _read_exact(f, MODEL_ID_BYTES, "header")
        _check_crc(first + model_id, _read_exact(f, 4, "header"), "header")
        return Header(model_id.hex(), None, 2)
    fixed = _read_exact(f, _HEADER_V1.size, "header")
    flags, name_len = _HEADER_V1.unpack(fixed)
    if flags != 0:
        raise ArchiveError("archive uses features this lstmzip does not know (flags)")
    if name_len > MAX_NAME:
        raise ArchiveError("damaged archive (model name length)")
    rest = _read_exact(f, name_len + 32, "header")
    _check_crc(first + fixed + rest, _read_exact(f, 4, "header"), "header")
    try:
        name = rest[:name_len].decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveError("damaged archive (model name)") from None
    return Header(rest[name_len:].hex(), name, 1)


class _Fields:
    """A version-2 record's fields read one by one, keeping their bytes for its checksum."""

    def __init__(self, f: BinaryIO, what: str):
        self.f, self.what, self.body = f, what, bytearray()

    def bytes(self, n: int) -> bytes:
        data = _read_exact(self.f, n, self.what)
        self.body += data
        return data

    def varint(self) -> int:
        n = 0
        for i in range(_MAX_VARINT):
            b = self.bytes(1)[0]
            n |= (b & 0x7F) << (7 * i)
            if b < 0x80:
                if b == 0 and i > 0:  # one number, one encoding
                    raise ArchiveError(f"damaged archive ({self.what}: overlong number)")
                return n
        raise ArchiveError(f"damaged archive ({self.what}: number too long)")

    def check(self) -> None:
        _check_crc(bytes(self.body), _read_exact(self.f, 4, self.what), self.what)


def read_record(f: BinaryIO, version: int = VERSION) -> BlockHeader | Trailer:
    """The next record after the header or a block's payload: a block's header or the trailer."""
    tag = _read_exact(f, 1, "block table")
    if tag == TAG_END:
        if version == 1:
            body = _read_exact(f, _TRAILER_V1.size, "trailer")
            _check_crc(body, _read_exact(f, 4, "trailer"), "trailer")
            return Trailer(*_TRAILER_V1.unpack(body))
        r = _Fields(f, "trailer")
        blocks, total_size, (total_crc,) = r.varint(), r.varint(), _CRC.unpack(r.bytes(4))
        r.check()
        return Trailer(blocks, total_size, total_crc)
    if tag != TAG_BLOCK:
        raise ArchiveError("damaged archive (bad block marker)")
    if version == 1:
        body = _read_exact(f, _BLOCK_V1.size, "block header")
        _check_crc(body, _read_exact(f, 4, "block header"), "block header")
        fields = _BLOCK_V1.unpack(body)
    else:
        r = _Fields(f, "block header")
        raw_len, coded_len, (method, transform) = r.varint(), r.varint(), r.bytes(2)
        fields = (raw_len, coded_len, method, transform, r.varint(), r.varint(), *_CRC.unpack(r.bytes(4)))
        r.check()
    return _checked_block(*fields)


def _checked_block(raw_len: int, coded_len: int, method: int, transform: int, model_len: int, streams: int,
                   raw_crc: int) -> BlockHeader:
    try:
        method = Method(method)
    except ValueError:
        raise ArchiveError(f"archive uses an unknown block method {method}") from None
    ok = 0 < raw_len <= MAX_BLOCK and coded_len <= raw_len + 64
    if method in LSTM_METHODS:
        ok = (ok and transform <= 1 and 1 <= streams <= min(MAX_STREAMS, model_len) and model_len <= raw_len
              and model_len <= (coded_len + 16) * MAX_LSTM_RATIO)
        if method != Method.LSTM:
            ok = ok and streams <= MAX_ADAPTIVE_STREAMS
    else:  # stored and lzma blocks have no model fields
        ok = ok and transform == model_len == streams == 0
        if method == Method.STORED:
            ok = ok and coded_len == raw_len
    if not ok:
        raise ArchiveError("damaged archive (impossible block sizes)")
    return BlockHeader(raw_len, coded_len, method, transform, model_len, streams, raw_crc)


def peek_trailer(path: str) -> Trailer | None:
    """The trailer of an archive file, read from its end without decoding (None if the file
    is not seekable or its last bytes are not a valid trailer). Used for progress totals."""
    longest = 1 + 2 * _MAX_VARINT + 2 * _CRC.size
    try:
        with open(path, "rb") as f:
            start = f.read(_START.size)
            end = f.seek(0, 2)
            f.seek(max(0, end - longest))
            tail = f.read(longest)
    except OSError:
        return None
    if len(start) < _START.size or start[:5] != MAGIC or start[5] not in READABLE:
        return None
    if start[5] == 1:
        tail = tail[-(1 + _TRAILER_V1.size + _CRC.size):]
        body = tail[1 : 1 + _TRAILER_V1.size]
        if len(body) < _TRAILER_V1.size or tail[:1] != TAG_END or _CRC.unpack(tail[-4:])[0] != crc32(body):
            return None
        return Trailer(*_TRAILER_V1.unpack(body))
    # version 2's varints do not read backwards: try each place a trailer could start (a false
    # match needs its checksum to agree by chance, and only a progress total rests on it)
    for i in range(len(tail) - TRAILER_BYTES, -1, -1):
        if tail[i : i + 1] != TAG_END:
            continue
        f = io.BytesIO(tail[i:])
        try:
            t = read_record(f, 2)
        except ArchiveError:
            continue
        if f.tell() == len(tail) - i:
            return t
    return None
