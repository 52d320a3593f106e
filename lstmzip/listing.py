"""`lstmzip list` / `lstmzip -l`: what an archive holds, from its headers alone (like `xz -l`):
sizes, ratio, bits per character, the model, and each block's method. Nothing is decoded, so
the checksums are named but not verified (`lstmzip test` decodes and checks them)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lstmzip import container as ct
from lstmzip.errors import ArchiveError
from lstmzip.fileio import open_input
from lstmzip.models import registry


@dataclass
class BlockInfo:
    method: str
    raw_len: int
    coded_len: int
    streams: int


@dataclass
class ArchiveInfo:
    name: str
    archive_bytes: int
    model: str  # its name: the archive's (version 1) or a shipped model's of its id; "" if unknown
    model_id: str  # hex: its sha256 (version-1 archives) or the first 8 bytes of it (version 2)
    version: int
    original_bytes: int = 0
    blocks: list[BlockInfo] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.archive_bytes / self.original_bytes if self.original_bytes else 0.0

    @property
    def bpc(self) -> float:
        return 8.0 * self.archive_bytes / self.original_bytes if self.original_bytes else 0.0

    @property
    def methods(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for b in self.blocks:
            counts[b.method] = counts.get(b.method, 0) + 1
        return counts


def describe(path: str) -> ArchiveInfo:
    """Read every header of the archive at `path`, skipping the payloads; ArchiveError where
    a header is damaged, the archive is cut off or the trailer disagrees with the blocks."""
    with open_input(Path(path)) as f:
        size = f.seek(0, 2)
        f.seek(0)
        header = ct.read_header(f)
        info = ArchiveInfo(path, size, header.model_name or registry.name_for_id(header.model_id) or "",
                           header.model_id, header.version)
        while True:
            rec = ct.read_record(f, header.version)
            if isinstance(rec, ct.Trailer):
                break
            if f.tell() + rec.coded_len + ct.TRAILER_BYTES > size:
                raise ArchiveError(f"truncated archive (block {len(info.blocks)} runs past the end)")
            f.seek(rec.coded_len, 1)
            info.blocks.append(BlockInfo(rec.method.name.lower(), rec.raw_len, rec.coded_len, rec.streams))
            info.original_bytes += rec.raw_len
        if rec.blocks != len(info.blocks) or rec.total_size != info.original_bytes:
            raise ArchiveError("damaged archive (trailer does not match the blocks)")
        if f.tell() != size:
            raise ArchiveError("trailing garbage after the end of the archive")
    return info
