"""Python API: bytes in, bytes out, streams, and `lstmzip.open` like `gzip.open`."""
from __future__ import annotations

import builtins
import io
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from lstmzip import container as ct
from lstmzip.engines import engine_for, load_model, model_for_archive
from lstmzip.errors import ArchiveError, LstmzipError
from lstmzip.pipeline import CodingConfig, Progress, compress_block, decompress_block
from models.registry import DEFAULT_MODEL


@dataclass
class CompressStats:
    input_bytes: int = 0
    output_bytes: int = 0
    model_bits: float = 0.0  # the model's estimate: sum of -log2 p over every byte it coded
    methods: list[str] = field(default_factory=list)

    @property
    def model_bpc(self) -> float:
        return self.model_bits / self.input_bytes if self.input_bytes else 0.0

    @property
    def actual_bpc(self) -> float:
        return 8.0 * self.output_bytes / self.input_bytes if self.input_bytes else 0.0


class BlockWriter:
    """Writes an archive to `dst` one block at a time (bounded memory)."""

    def __init__(self, dst: BinaryIO, model: str = DEFAULT_MODEL, config: CodingConfig | None = None,
                 progress: Progress | None = None, device: str = "cpu"):
        self.dst, self.cfg, self.progress = dst, config or CodingConfig(), progress
        self.model = load_model(model)
        self.engine = engine_for(self.model, device)
        self.stats = CompressStats()
        self._crc, self._blocks = 0, 0
        self._emit(ct.pack_header(ct.Header(self.model.name, self.model.sha256)))

    def _emit(self, data: bytes) -> None:
        self.dst.write(data)
        self.stats.output_bytes += len(data)

    def add_block(self, data: bytes) -> None:
        if not data:
            return
        r = compress_block(self.engine, data, self.cfg, self.progress)
        self._emit(ct.pack_block(r.header))
        self._emit(r.coded)
        self._crc = ct.crc32(data, self._crc)
        self._blocks += 1
        self.stats.input_bytes += len(data)
        self.stats.model_bits += r.model_bits
        self.stats.methods.append(r.header.method.name.lower())

    def finish(self) -> CompressStats:
        self._emit(ct.pack_trailer(ct.Trailer(self._blocks, self.stats.input_bytes, self._crc)))
        return self.stats


def iter_blocks(src: BinaryIO, model: str | None = None, progress: Progress | None = None,
                device: str = "cpu") -> Iterator[bytes]:
    """Decoded blocks of an archive, each verified; the trailer is checked at the end."""
    header = ct.read_header(src)
    loaded = None

    def engine():
        nonlocal loaded
        if loaded is None:
            loaded = model_for_archive(header.model_name, header.model_sha256, model)
        return engine_for(loaded, device)

    if model:  # an explicit model is checked up front, even for archives of stored blocks
        engine()
    crc, total, index = 0, 0, 0
    while True:
        rec = ct.read_record(src)
        if isinstance(rec, ct.Trailer):
            break
        payload = src.read(rec.coded_len)
        if len(payload) != rec.coded_len:
            raise ArchiveError(f"truncated archive (cut off in block {index})")
        data = decompress_block(engine, rec, payload, index, progress=progress)
        crc, total, index = ct.crc32(data, crc), total + len(data), index + 1
        yield data
    if rec.blocks != index or rec.total_size != total or rec.total_crc != crc:
        raise ArchiveError("damaged archive (trailer does not match the blocks)")
    if src.read(1):
        raise ArchiveError("trailing garbage after the end of the archive")


AUTO_MODEL = "auto"
AUTO_SAMPLE = 16 << 10  # bytes of the input each candidate model is scored on


def choose_model(sample: bytes, candidates: list[str] | None = None, device: str = "cpu") -> str:
    """The candidate (shipped model names by default) whose full coder model needs the fewest
    bits for `sample`, the way the pipeline would code it. Ties go to the first candidate."""
    from lstmzip import transforms
    from lstmzip.pipeline import lstm_encode, plan_streams
    from models import registry

    names = candidates or registry.names()
    if len(names) == 1 or not sample:
        return names[0]
    data = transforms.forward(sample, transforms.choose(sample))
    streams = plan_streams(len(data), CodingConfig())
    scores = [lstm_encode(engine_for(load_model(n), device), data, streams)[1] for n in names]
    return names[scores.index(min(scores))]


def compress_stream(src: BinaryIO, dst: BinaryIO, model: str = DEFAULT_MODEL, config: CodingConfig | None = None,
                    progress: Progress | None = None, device: str = "cpu") -> CompressStats:
    """Compress `src` into `dst` block by block. `model="auto"` scores the start of the input
    with every shipped model and uses the best (the archive records which, as always)."""
    first = b""
    if model == AUTO_MODEL:
        first = src.read((config or CodingConfig()).block_size)
        model = choose_model(first[:AUTO_SAMPLE], device=device)
    w = BlockWriter(dst, model, config, progress, device)
    w.add_block(first)
    while True:
        block = src.read(w.cfg.block_size)
        if not block:
            break
        w.add_block(block)
    return w.finish()


def decompress_stream(src: BinaryIO, dst: BinaryIO | None, model: str | None = None,
                      progress: Progress | None = None, device: str = "cpu") -> int:
    """Decode `src` into `dst` (None: verify only). Returns the number of decoded bytes."""
    n = 0
    for block in iter_blocks(src, model, progress, device):
        if dst is not None:
            dst.write(block)
        n += len(block)
    return n


def compress(data: bytes, model: str = DEFAULT_MODEL, config: CodingConfig | None = None) -> bytes:
    out = io.BytesIO()
    compress_stream(io.BytesIO(data), out, model, config)
    return out.getvalue()


def decompress(data: bytes, model: str | None = None) -> bytes:
    out = io.BytesIO()
    decompress_stream(io.BytesIO(data), out, model)
    return out.getvalue()


class _RawReader(io.RawIOBase):
    def __init__(self, f: BinaryIO, model: str | None, owns: bool):
        self._f, self._owns = f, owns
        self._blocks = iter_blocks(f, model)
        self._buf, self._pos = b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self._pos >= len(self._buf):
            nxt = next(self._blocks, None)
            if nxt is None:
                return 0
            self._buf, self._pos = nxt, 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed and self._owns:
            self._f.close()
        super().close()


class _RawWriter(io.RawIOBase):
    def __init__(self, f: BinaryIO, model: str, config: CodingConfig | None, owns: bool):
        self._f, self._owns = f, owns
        self._w = BlockWriter(f, model, config)
        self._pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self._pending += b
        size = self._w.cfg.block_size
        while len(self._pending) >= size:
            self._w.add_block(bytes(self._pending[:size]))
            del self._pending[:size]
        return len(b)

    def close(self) -> None:
        if not self.closed:
            self._w.add_block(bytes(self._pending))
            self._w.finish()
            if self._owns:
                self._f.close()
        super().close()


def open(path, mode: str = "rb", model: str | None = None, config: CodingConfig | None = None):  # noqa: A001
    """Open an lstmzip archive for reading ('rb') or writing ('wb'); like gzip.open, binary only."""
    if mode not in ("r", "rb", "w", "wb"):
        raise ValueError(f"mode must be 'rb' or 'wb', not {mode!r}")
    owns = isinstance(path, (str, bytes)) or hasattr(path, "__fspath__")
    f = builtins.open(path, "wb" if "w" in mode else "rb") if owns else path
    if "w" in mode:
        return io.BufferedWriter(_RawWriter(f, model or DEFAULT_MODEL, config, owns))
    return io.BufferedReader(_RawReader(f, model, owns))


__all__ = ["compress", "decompress", "open", "compress_stream", "decompress_stream", "CompressStats",
           "CodingConfig", "LstmzipError", "ArchiveError"]
