"""Seed archives and the ways the fuzzer damages them (shared by the harness and the tests).

Random mutations mostly hit a checksum; `rewrite_field` also recomputes the record's CRC, so
a hostile header (lying lengths, stream counts, methods) reaches the caps and the decoder.
"""
from __future__ import annotations

import dataclasses
import io
import random
from dataclasses import dataclass

import lstmzip
from lstmzip import container as ct
from lstmzip.errors import ArchiveError
from lstmzip.pipeline import CodingConfig

TEXT = (b"It was the best of times, it was the worst of times, it was the age of wisdom,\n"
        b"it was the age of foolishness, it was the epoch of belief, it was the epoch of\n"
        b"incredulity. def f(x):\n    return x * 2  # code, 3.14159\n")


@dataclass(frozen=True)
class Seed:
    name: str
    original: bytes
    archive: bytes


def seeds() -> list[Seed]:
    """Small archives of every block method, the CRLF transform, several blocks, empty input:
    small so a mutated one decodes in milliseconds."""
    rng = random.Random(0)
    noise = bytes(rng.randrange(256) for _ in range(300))
    made = [
        ("lstm_adaptive2", TEXT[:120], CodingConfig(try_lzma=False, min_stream_len=40)),
        ("lstm_adaptive", TEXT[:120], CodingConfig(try_lzma=False, lstm_method=ct.Method.LSTM_ADAPTIVE, min_stream_len=40)),
        ("lstm_crlf", TEXT[:100].replace(b"\n", b"\r\n"),
         CodingConfig(try_lzma=False, lstm_method=ct.Method.LSTM, min_stream_len=40)),
        ("lzma", TEXT * 3, CodingConfig(lstm=False)),
        ("stored", noise, CodingConfig(lstm=False)),
        ("blocks", TEXT[:80] + noise[:60] + TEXT[:80], CodingConfig(block_size=80, min_stream_len=40)),
        ("empty", b"", CodingConfig()),
    ]
    return [Seed(name, data, lstmzip.compress(data, config=cfg)) for name, data, cfg in made]


def records(archive: bytes) -> list[tuple[int, int, object]]:
    """(offset, bytes, record) of every CRC-protected record, its CRC included: the header,
    each block's header (its payload follows) and the trailer. ArchiveError if damaged."""
    f = io.BytesIO(archive)
    header = ct.read_header(f)
    out = [(0, f.tell(), header)]
    while True:
        start = f.tell()
        rec = ct.read_record(f, header.version)
        out.append((start, f.tell() - start, rec))
        if isinstance(rec, ct.Trailer):
            return out
        f.seek(rec.coded_len, 1)


INTERESTING = [0, 1, 2, 3, 4, 7, 8, 255, 256, 4096, 1 << 14, (1 << 14) + 1, 1 << 20, (1 << 20) + 1,
               (64 << 20), (64 << 20) + 1, (1 << 31) - 1, 1 << 31, (1 << 32) - 1, 1 << 63]
_BYTE_FIELDS, _CRC_FIELDS = ("method", "transform"), ("raw_crc", "total_crc")


def rewrite_field(buf: bytearray, rng: random.Random) -> None:
    """Set one field of a record to a hostile value and write the record again with its CRC
    (the header: another model's id)."""
    start, size, rec = rng.choice(records(bytes(buf)))
    if isinstance(rec, ct.Header):
        new = ct.pack_header(rng.randbytes(32).hex())
    else:
        fields = dataclasses.asdict(rec)
        name = rng.choice(list(fields))
        bits = 8 if name in _BYTE_FIELDS else 32 if name in _CRC_FIELDS else 64
        fields[name] = rng.choice(INTERESTING + [rng.randrange(1 << bits)]) % (1 << bits)
        new = (ct.pack_block(ct.BlockHeader(**fields)) if isinstance(rec, ct.BlockHeader)
               else ct.pack_trailer(ct.Trailer(**fields)))
    buf[start : start + size] = new


def mutate(archive: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    buf = bytearray(archive)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        kind = rng.randrange(9)
        n = len(buf)
        if kind == 0 and n:  # flip a bit
            buf[rng.randrange(n)] ^= 1 << rng.randrange(8)
        elif kind == 1 and n:  # overwrite a byte
            buf[rng.randrange(n)] = rng.choice([0, 0xFF, 0x80, rng.randrange(256)])
        elif kind == 2:  # insert random bytes
            at = rng.randrange(n + 1)
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif kind == 3 and n:  # delete a range
            at = rng.randrange(n)
            del buf[at : at + rng.randint(1, 32)]
        elif kind == 4:  # truncate
            del buf[rng.randrange(n + 1):]
        elif kind == 5:  # append garbage
            buf += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif kind == 6 and n > 2:  # copy a range elsewhere
            a, b = sorted(rng.sample(range(n), 2))
            at = rng.randrange(n)
            buf[at : at + (b - a)] = buf[a:b]
        elif kind == 7 and others:  # splice with another archive
            other = rng.choice(others)
            cut = rng.randrange(len(buf) + 1)
            buf = buf[:cut] + other[rng.randrange(len(other) + 1):]
        else:  # a hostile header field with a valid CRC
            if n >= 9 and buf[:5] == ct.MAGIC:
                try:
                    rewrite_field(buf, rng)
                except ArchiveError:  # an earlier mutation damaged it: left as it is
                    pass
    return bytes(buf)
