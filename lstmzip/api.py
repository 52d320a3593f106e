"""Python API: bytes in, bytes out, streams, and `lstmzip.open` like `gzip.open`."""
from __future__ import annotations

import builtins
import io
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Iterator

from lstmzip import auto_model
from lstmzip import container as ct
from lstmzip.engines import engine_for, load_model, model_for_archive, with_model_methods
from lstmzip.errors import ArchiveError, BlockDamaged, LstmzipError
from lstmzip.pipeline import (BlockResult, CodingConfig, Progress, batch_blocks_for, check_threads, compress_blocks,
                              decompress_blocks, torch_threads)
from lstmzip.scaleout import ScaleOut, pool_for
from lstmzip.models.registry import DEFAULT_MODEL

if TYPE_CHECKING:
    from lstmzip.scaleout import BlockPool


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
    """Writes an archive to `dst` one block at a time (bounded memory).

    With a pool, blocks are coded by its workers: up to `pool.window` are in flight and
    the coded blocks are written in order as they come back."""

    def __init__(self, dst: BinaryIO, model: str = DEFAULT_MODEL, config: CodingConfig | None = None,
                 progress: Progress | None = None, device: str = "cpu", pool: "BlockPool | None" = None):
        self.dst, self.cfg, self.progress, self.pool = dst, config or CodingConfig(), progress, pool
        self.model = load_model(model)
        self.cfg = with_model_methods(self.cfg, self.model)
        self.engine = engine_for(self.model, device) if pool is None else None
        # blocks coded together in one engine batch (device-stage methods; the same archive)
        self.batch = self.cfg.batch_blocks or batch_blocks_for(device)
        self._pending: list[bytes] = []
        self.stats = CompressStats()
        self._crc, self._blocks = 0, 0
        self._in_flight: deque = deque()
        self._emit(ct.pack_header(self.model.sha256))

    def _emit(self, data: bytes) -> None:
        self.dst.write(data)
        self.stats.output_bytes += len(data)

    def add_block(self, data: bytes) -> None:
        if not data:
            return
        # The trailer's checksum and size follow input order, which is also block order.
        self._crc = ct.crc32(data, self._crc)
        self.stats.input_bytes += len(data)
        if self.pool is not None:
            while len(self._in_flight) >= self.pool.window:
                self._write(self._in_flight.popleft().result())
            self._in_flight.append(self.pool.compress(self.model if self.cfg.lstm else None, data, self.cfg))
            return
        self._pending.append(data)
        if len(self._pending) >= self.batch:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        report = _BlockProgress(self.progress)
        results = compress_blocks(self.engine, self._pending, self.cfg, report.inner)
        report.block_done(sum(len(b) for b in self._pending))
        self._pending = []
        for r in results:
            self._write(r, reported=True)

    def _write(self, r: BlockResult, reported: bool = False) -> None:
        self._emit(ct.pack_block(r.header))
        self._emit(r.coded)
        self._blocks += 1
        self.stats.model_bits += r.model_bits
        self.stats.methods.append(r.header.method.name.lower())
        if not reported and self.progress is not None:
            self.progress(r.header.raw_len)

    def finish(self) -> CompressStats:
        self._flush()
        while self._in_flight:
            self._write(self._in_flight.popleft().result())
        self._emit(ct.pack_trailer(ct.Trailer(self._blocks, self.stats.input_bytes, self._crc)))
        return self.stats


class _Source:
    """The archive being read: counts bytes (for damage reports) and knows how many are left
    when the file is seekable, so a header's lengths are checked against the real file."""

    def __init__(self, f: BinaryIO):
        self.f, self.pos, self.size = f, 0, None
        try:
            if f.seekable():
                here = f.tell()
                self.size = f.seek(0, io.SEEK_END) - here
                f.seek(here)
        except (OSError, ValueError):
            self.size = None

    def read(self, n: int) -> bytes:
        data = self.f.read(n)
        self.pos += len(data)
        return data

    @property
    def available(self) -> int | None:
        return None if self.size is None else self.size - self.pos


class _BlockProgress:
    """Reports a block's bytes once it is done, less what the LSTM loop already reported."""

    def __init__(self, progress: Progress | None):
        self.progress, self.done = progress, 0

    def __call__(self, n: int) -> None:
        self.done += n
        self.progress(n)

    def block_done(self, size: int) -> None:
        if self.progress is not None and size > self.done:
            self.progress(size - self.done)
        self.done = 0

    @property
    def inner(self) -> Progress | None:
        return self if self.progress is not None else None


def _decode_on_pool(pool: "BlockPool", records, model) -> Iterator[tuple]:
    """(index, start, header, bytes or BlockDamaged) in order, up to pool.window in flight."""
    in_flight: deque = deque()

    def done(item):
        index, start, rec, fut = item
        ok, value = fut.result()
        return index, start, rec, value if ok else BlockDamaged(value)

    for index, start, rec, payload in records:
        m = model() if rec.method in ct.LSTM_METHODS else None
        while len(in_flight) >= pool.window:
            yield done(in_flight.popleft())
        in_flight.append((index, start, rec, pool.decompress(m, rec, payload, index)))
    while in_flight:
        yield done(in_flight.popleft())


def iter_blocks(src: BinaryIO, model: str | None = None, progress: Progress | None = None,
                device: str = "cpu", keep_going: bool = False, pool: "BlockPool | None" = None,
                batch_blocks: int | None = None) -> Iterator[bytes]:
    """Decoded blocks of an archive, each verified; the trailer is checked at the end.

    A damaged block is reported with its index and byte ranges. With `keep_going` (for
    `lstmzip test`) every block is still checked and one error at the end lists them all.
    With a pool, blocks are decoded by its workers (a window of them at a time), in order.
    """
    s = _Source(src)
    header = ct.read_header(s)
    loaded = None

    def the_model():
        nonlocal loaded
        if loaded is None:
            loaded = model_for_archive(header, model)
        return loaded

    if model:  # an explicit model is checked up front, even for archives of stored blocks
        the_model()
    report = _BlockProgress(progress)
    trailer: list[ct.Trailer] = []

    def records():
        index = 0
        while True:
            rec = ct.read_record(s, header.version)
            if isinstance(rec, ct.Trailer):
                trailer.append(rec)
                return
            start = s.pos
            yield index, start, rec, ct.read_payload(s, rec.coded_len, f"block {index}", s.available)
            index += 1

    def decode_here():
        """Blocks decoded in-process, up to `batch` at a time (one engine batch for those of a
        device-stage method)."""
        batch = batch_blocks_for(device) if batch_blocks is None else batch_blocks
        group = []
        for item in records():
            group.append(item)
            if len(group) >= batch:
                yield from decode_group(group)
                group = []
        yield from decode_group(group)

    def decode_group(group):
        data = decompress_blocks(lambda: engine_for(the_model(), device),
                                 [(rec, payload, i) for i, _, rec, payload in group],
                                 report.inner if len(group) == 1 else None)
        for (i, start, rec, _), d in zip(group, data):
            yield i, start, rec, d

    if pool is None:
        decoded = decode_here()
    else:
        decoded = _decode_on_pool(pool, records(), the_model)
    crc, total, count, damaged = 0, 0, 0, []
    for index, start, rec, data in decoded:
        if isinstance(data, BlockDamaged):
            where = (f"original bytes {total}-{total + rec.raw_len - 1}, "
                     f"archive bytes {start}-{start + rec.coded_len - 1}")
            if not keep_going:
                raise BlockDamaged(f"{data}: {where}") from None
            damaged.append(f"block {index} ({where})")
            data = None
        report.block_done(rec.raw_len)
        if data is not None:
            crc = ct.crc32(data, crc)
            yield data
        total, count = total + rec.raw_len, count + 1
    if damaged:
        raise BlockDamaged(f"{len(damaged)} of {count} blocks damaged: {'; '.join(damaged)}")
    end = trailer[0]
    if end.blocks != count or end.total_size != total or end.total_crc != crc:
        raise ArchiveError("damaged archive (trailer does not match the blocks)")
    if s.read(1):
        raise ArchiveError("trailing garbage after the end of the archive")


AUTO_MODEL = "auto"
AUTO_SAMPLE = auto_model.SAMPLE  # bytes of the input that --model auto looks at


def choose_model(sample: bytes, candidates: list[str] | None = None, device: str = "cpu") -> str:
    """The candidate (shipped model names by default) whose model and block method code
    windows spread over `sample` in the fewest bits, a long-stream method's (the logs model's)
    discounted for what windows do not show (lstmzip.auto_model). Ties go to the first.
    `sample` is the input's start: one of at most CodingConfig.small_block_len bytes is the
    whole input, scored with the method each model codes such a block with."""
    from lstmzip.models import registry

    names = candidates or registry.names()
    if len(names) == 1 or not sample:
        return names[0]
    models = {n: load_model(n) for n in names}
    methods = {n: with_model_methods(CodingConfig(), m).method_for(sample) for n, m in models.items()}
    return auto_model.choose(sample, {n: (engine_for(m, device), methods[n]) for n, m in models.items()})


def _on_pool(fn, pool: "BlockPool | None", scale: ScaleOut):
    """fn(pool) with the given pool, else with one started for `scale` (or None: in-process)."""
    if pool is not None:
        return fn(pool)
    with pool_for(scale) as started:
        return fn(started)


def compress_stream(src: BinaryIO, dst: BinaryIO, model: str = DEFAULT_MODEL, config: CodingConfig | None = None,
                    progress: Progress | None = None, device: str = "cpu", workers: int = 0,
                    cluster: str | None = None, pool: "BlockPool | None" = None,
                    threads: int | None = None) -> CompressStats:
    """Compress `src` into `dst` block by block. `model="auto"` scores the start of the input
    with every shipped model and uses the best (the archive records which, as always).

    `workers=N` codes blocks in N local Ray worker processes, `cluster="HOST:PORT"` on an
    existing Ray cluster, `pool` on a running lstmzip.scaleout.BlockPool (several streams can
    share one). The archive is the same bytes either way.

    `threads`: torch's CPU threads in this process while it codes: None leaves torch's setting,
    0 does as the CLI does (one less than the cores, the last core running the adaptive stages
    beside the LSTM: usually the fastest), N that many; restored afterwards."""
    def run(pool):
        first = b""
        chosen = model
        if model == AUTO_MODEL:
            first = src.read((config or CodingConfig()).block_size)
            chosen = choose_model(first[:AUTO_SAMPLE], device=device)
        w = BlockWriter(dst, chosen, config, progress, device, pool)
        w.add_block(first)
        while True:
            block = src.read(w.cfg.block_size)
            if not block:
                break
            w.add_block(block)
        return w.finish()

    with torch_threads(threads):
        return _on_pool(run, pool, ScaleOut(workers, cluster))


def decompress_stream(src: BinaryIO, dst: BinaryIO | None, model: str | None = None,
                      progress: Progress | None = None, device: str = "cpu", workers: int = 0,
                      cluster: str | None = None, pool: "BlockPool | None" = None,
                      batch_blocks: int | None = None, threads: int | None = None) -> int:
    """Decode `src` into `dst` (None: verify only, and report every damaged block, not just
    the first). Returns the number of decoded bytes. `workers`, `cluster`, `pool` and `threads`
    as for compress_stream; an archive decodes the same with or without them."""
    def run(pool):
        n = 0
        for block in iter_blocks(src, model, progress, device, keep_going=dst is None, pool=pool,
                                 batch_blocks=batch_blocks):
            if dst is not None:
                dst.write(block)
            n += len(block)
        return n

    with torch_threads(threads):
        return _on_pool(run, pool, ScaleOut(workers, cluster))


def compress(data: bytes, model: str = DEFAULT_MODEL, config: CodingConfig | None = None, device: str = "cpu",
             threads: int | None = None) -> bytes:
    """`data` as an archive (`threads` as for compress_stream)."""
    out = io.BytesIO()
    compress_stream(io.BytesIO(data), out, model, config, device=device, threads=threads)
    return out.getvalue()


def decompress(data: bytes, model: str | None = None, device: str = "cpu", threads: int | None = None) -> bytes:
    """The data of archive `data` (`threads` as for compress_stream)."""
    out = io.BytesIO()
    decompress_stream(io.BytesIO(data), out, model, device=device, threads=threads)
    return out.getvalue()


class _RawReader(io.RawIOBase):
    def __init__(self, f: BinaryIO, model: str | None, owns: bool, threads: int | None):
        self._f, self._owns, self._threads = f, owns, threads
        self._blocks = iter_blocks(f, model)
        self._buf, self._pos = b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self._pos >= len(self._buf):
            with torch_threads(self._threads):
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
    def __init__(self, f: BinaryIO, model: str, config: CodingConfig | None, owns: bool, threads: int | None):
        self._f, self._owns, self._threads = f, owns, threads
        self._w = BlockWriter(f, model, config)
        self._pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self._pending += b
        size = self._w.cfg.block_size
        while len(self._pending) >= size:
            with torch_threads(self._threads):
                self._w.add_block(bytes(self._pending[:size]))
            del self._pending[:size]
        return len(b)

    def close(self) -> None:
        if not self.closed:
            with torch_threads(self._threads):
                self._w.add_block(bytes(self._pending))
                self._w.finish()
            if self._owns:
                self._f.close()
        super().close()


def open(path, mode: str = "rb", model: str | None = None, config: CodingConfig | None = None,  # noqa: A001
         threads: int | None = None):
    """Open an lstmzip archive for reading ('rb') or writing ('wb'); like gzip.open, binary only.
    `threads` as for compress_stream, while a read or write codes."""
    if mode not in ("r", "rb", "w", "wb"):
        raise ValueError(f"mode must be 'rb' or 'wb', not {mode!r}")
    check_threads(threads)  # now, not at the first read or write
    owns = isinstance(path, (str, bytes)) or hasattr(path, "__fspath__")
    f = builtins.open(path, "wb" if "w" in mode else "rb") if owns else path
    if "w" in mode:
        return io.BufferedWriter(_RawWriter(f, model or DEFAULT_MODEL, config, owns, threads))
    return io.BufferedReader(_RawReader(f, model, owns, threads))


__all__ = ["compress", "decompress", "open", "compress_stream", "decompress_stream", "CompressStats",
           "CodingConfig", "LstmzipError", "ArchiveError"]
