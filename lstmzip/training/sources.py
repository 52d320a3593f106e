"""A user's corpus for `lstmzip train`: files, folders (recursively) and .xz/.gz/.bz2 files,
read into documents (one per file). Binary files are skipped with a warning, not refused:
a source tree or a log folder usually holds a few (images, archives) beside the text.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from dataclasses import dataclass
from pathlib import Path

from lstmzip.errors import LstmzipError
from lstmzip.fileio import walk_files
from lstmzip.training.corpus import Document

_OPENERS = {".xz": lzma.open, ".lzma": lzma.open, ".gz": gzip.open, ".bz2": bz2.open}
SNIFF = 64 << 10


@dataclass
class SourceFile:
    path: str
    bytes: int
    sha256: str


@dataclass
class Corpus:
    documents: list[Document]
    files: list[SourceFile]
    skipped: list[str]  # "path: why"

    @property
    def total_bytes(self) -> int:
        return sum(len(d.data) for d in self.documents)

    def describe(self) -> dict:
        return {"files": [f.__dict__ for f in self.files], "bytes": self.total_bytes, "skipped": self.skipped}


def looks_binary(data: bytes) -> bool:
    """A NUL byte, or mostly bytes that are neither text controls nor printable/UTF-8."""
    head = data[:SNIFF]
    if b"\x00" in head:
        return True
    odd = sum(1 for b in head if b < 9 or 13 < b < 32 or b == 127)
    return len(head) > 0 and odd / len(head) > 0.05


def _read(path: Path) -> bytes:
    opener = _OPENERS.get(path.suffix.lower())
    try:
        if opener is None:
            return path.read_bytes()
        with opener(path, "rb") as f:
            return f.read()
    except PermissionError:
        raise LstmzipError(f"{path}: permission denied") from None
    except (OSError, EOFError, lzma.LZMAError) as e:
        raise LstmzipError(f"{path}: cannot read ({e})") from None


def _expand(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        if not p.exists():
            raise LstmzipError(f"{p}: no such file or directory")
        if p.is_dir():
            out += walk_files(p)
        else:
            out.append(p)
    return out


def read_corpus(paths: list[Path]) -> Corpus:
    docs, files, skipped = [], [], []
    for f in _expand([Path(p) for p in paths]):
        data = _read(f)
        if not data:
            skipped.append(f"{f}: empty")
            continue
        if looks_binary(data):
            skipped.append(f"{f}: binary")
            continue
        docs.append(Document(str(f), data))
        files.append(SourceFile(str(f), len(data), hashlib.sha256(data).hexdigest()))
    return Corpus(docs, files, skipped)
