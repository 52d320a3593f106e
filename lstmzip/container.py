"""The archive format, version 1 (see docs/FORMAT.md): a header, self-describing blocks, a trailer.

Sizes and checksums of the whole input live in the trailer, so compression streams (stdin
of unknown length, bounded memory) and a cut-off archive is always detected. Every length
is checked against fixed caps before anything is allocated or read.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum
from typing import BinaryIO

from lstmzip.errors import ArchiveError

MAGIC = b"LSTMZ"
VERSION = 1
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

_HEADER = struct.Struct("<5sBBB")  # magic, version, flags, model-name length
_BLOCK = struct.Struct("<IIBBIII")  # raw_len, coded_len, method, transform, model_len, streams, raw_crc
_TRAILER = struct.Struct("<IQI")  # blocks, total size, crc32 of everything decoded
_CRC = struct.Struct("<I")
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


LSTM_METHODS = (Method.LSTM, Method.LSTM_ADAPTIVE, Method.LSTM_ADAPTIVE2, Method.LSTM_RECORDS, Method.LSTM_RAMP,
                Method.LSTM_FIELDS, Method.LSTM_COLUMNS, Method.LSTM_MIXER, Method.LSTM_RANS,
                Method.LSTM_MIX, Method.LSTM_MIX2, Method.LSTM_MIX3, Method.LSTM_MIX4, Method.LSTM_MIX5,
                Method.LSTM_MIX6, Method.LSTM_MIXER16)


@dataclass(frozen=True)
class Header:
    model_name: str
    model_sha256: str


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


def pack_header(h: Header) -> bytes:
    name = h.model_name.encode("utf-8")
    if len(name) > MAX_NAME:
        raise ValueError("model name too long for the archive header")
    return _with_crc(_HEADER.pack(MAGIC, VERSION, 0, len(name)) + name + bytes.fromhex(h.model_sha256))


def pack_block(b: BlockHeader) -> bytes:
    return TAG_BLOCK + _with_crc(_BLOCK.pack(b.raw_len, b.coded_len, int(b.method), b.transform,
                                             b.model_len, b.streams, b.raw_crc))


def pack_trailer(t: Trailer) -> bytes:
    return TAG_END + _with_crc(_TRAILER.pack(t.blocks, t.total_size, t.total_crc))


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ArchiveError(f"truncated archive (cut off in {what})")
    return data


TRAILER_BYTES = 1 + _TRAILER.size + _CRC.size
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
    first = f.read(_HEADER.size)
    if len(first) < len(MAGIC) or first[: len(MAGIC)] != MAGIC:
        raise ArchiveError("not an lstmzip archive")
    if len(first) < _HEADER.size:
        raise ArchiveError("truncated archive (cut off in header)")
    _, version, flags, name_len = _HEADER.unpack(first)
    if version != VERSION:
        raise ArchiveError(f"archive format version {version} is not supported (this lstmzip reads {VERSION})")
    if flags != 0:
        raise ArchiveError("archive uses features this lstmzip does not know (flags)")
    if name_len > MAX_NAME:
        raise ArchiveError("damaged archive (model name length)")
    rest = _read_exact(f, name_len + 32, "header")
    _check_crc(first + rest, _read_exact(f, 4, "header"), "header")
    try:
        name = rest[:name_len].decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveError("damaged archive (model name)") from None
    return Header(name, rest[name_len:].hex())


def read_record(f: BinaryIO) -> BlockHeader | Trailer:
    tag = _read_exact(f, 1, "block table")
    if tag == TAG_END:
        body = _read_exact(f, _TRAILER.size, "trailer")
        _check_crc(body, _read_exact(f, 4, "trailer"), "trailer")
        return Trailer(*_TRAILER.unpack(body))
    if tag != TAG_BLOCK:
        raise ArchiveError("damaged archive (bad block marker)")
    body = _read_exact(f, _BLOCK.size, "block header")
    _check_crc(body, _read_exact(f, 4, "block header"), "block header")
    raw_len, coded_len, method, transform, model_len, streams, raw_crc = _BLOCK.unpack(body)
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
    try:
        with open(path, "rb") as f:
            if f.seek(0, 2) < TRAILER_BYTES:
                return None
            f.seek(-TRAILER_BYTES, 2)
            tail = f.read(TRAILER_BYTES)
    except OSError:
        return None
    body = tail[1 : 1 + _TRAILER.size]
    if tail[:1] != TAG_END or _CRC.unpack(tail[-4:])[0] != crc32(body):
        return None
    return Trailer(*_TRAILER.unpack(body))
