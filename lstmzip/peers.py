"""The classical compressors lstmzip is measured against, at their strongest settings.

gzip, bz2 and xz come with Python; zstd and brotli need the `zstandard` and `brotli` packages
(the `bench` extra) and are skipped with a note when missing.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
from dataclasses import dataclass
from typing import Callable

Codec = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Peer:
    name: str
    label: str  # the setting, as a user of the command-line tool would write it
    compress: Codec
    decompress: Codec


def _gzip() -> Peer:
    return Peer("gzip", "gzip -9", lambda d: gzip.compress(d, 9, mtime=0), gzip.decompress)


def _bz2() -> Peer:
    return Peer("bz2", "bzip2 -9", lambda d: bz2.compress(d, 9), bz2.decompress)


def _xz() -> Peer:
    return Peer("xz", "xz -9e", lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME), lzma.decompress)


def _zstd() -> Peer:
    import zstandard

    return Peer("zstd", "zstd -19", zstandard.ZstdCompressor(level=19).compress,
                lambda d: zstandard.ZstdDecompressor().decompress(d))


def _brotli() -> Peer:
    import brotli

    return Peer("brotli", "brotli -q 11", lambda d: brotli.compress(d, quality=11), brotli.decompress)


FACTORIES: dict[str, Callable[[], Peer]] = {"gzip": _gzip, "bz2": _bz2, "xz": _xz, "zstd": _zstd, "brotli": _brotli}
NAMES = list(FACTORIES)


def load(name: str) -> Peer | None:
    """The peer, or None when its package is not installed. Unknown names raise KeyError."""
    try:
        return FACTORIES[name]()
    except ImportError:
        return None
