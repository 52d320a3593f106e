"""Scale-out: blocks coded by Ray workers, on this machine (`--workers N`) or on a Ray cluster
(`--cluster ADDRESS`). Needs the `cluster` extra (pip install 'lstmzip[cluster]').

Archive blocks are independent (docs/DESIGN.md §1) and each is coded exactly as in-process, so
the archive is byte-identical whatever the worker count or cluster shape. lstmzip keeps the
order: results are written as they arrive, in block order, with a bounded window of blocks
in flight (memory stays bounded however large the input).

Ray itself runs in a child process (lstmzip.ray_driver): Ray ends its driver process
outright when the cluster goes away, and this way that ends in a clear error instead.
A pool is thread-safe, so several files can share one (`-r`).
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from lstmzip.errors import LstmzipError
from lstmzip.frames import FrameWriter, read_frame

# Connecting, plus the driver's own wait for workers (ray_driver.START_TIMEOUT_S), plus slack.
READY_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class ScaleOut:
    workers: int = 0  # local Ray workers; with `cluster`: 0 = one per GPU (or CPU) of the cluster
    cluster: str | None = None  # address of a running Ray cluster ("HOST:PORT" or "auto")
    device: str = "auto"  # auto (GPU workers when the cluster has GPUs), cpu or cuda
    threads: int = 1  # torch threads per CPU worker
    window: int = 0  # blocks in flight per stream; 0 = 2 per worker

    @property
    def enabled(self) -> bool:
        return bool(self.workers or self.cluster)

    def validate(self) -> None:
        if self.workers < 0:
            raise LstmzipError("--workers must be >= 0")
        if self.device not in ("auto", "cpu", "cuda"):
            raise LstmzipError(f"unknown device '{self.device}' (auto, cpu or cuda)")


def _require_ray() -> None:
    try:
        found = importlib.util.find_spec("ray") is not None
    except ValueError:  # a half-imported ray with no __spec__
        found = False
    if not found:
        raise LstmzipError("--workers and --cluster need Ray: pip install 'lstmzip[cluster]'")


class BlockPool:
    """A running set of Ray workers. `compress` and `decompress` return futures; a future's
    result raises LstmzipError when the workers or the cluster were lost."""

    def __init__(self, scale: ScaleOut):
        scale.validate()
        if not scale.enabled:
            raise LstmzipError("a worker pool needs --workers N or --cluster ADDRESS")
        _require_ray()
        from lstmzip import __version__
        from lstmzip.ray_driver import DriverInit
        from lstmzip.models.fixed_point import ENGINE_VERSION

        self.scale = scale
        self._log = tempfile.NamedTemporaryFile(prefix="lstmzip-ray-", suffix=".log", delete=False)
        # Its own session: Ctrl-C reaches lstmzip, which then stops the driver in order.
        self._proc = subprocess.Popen([sys.executable, "-m", "lstmzip.ray_driver"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._log, start_new_session=True)
        self._out = FrameWriter(self._proc.stdin)
        self._futures: dict[int, Future] = {}
        self._sent_models: set[str] = set()
        self._next_id = 0
        self._lock = threading.Lock()  # futures, ids, error
        self._send_lock = threading.Lock()  # a model's frame goes out before any job that uses it
        self._error: str | None = None
        self._keep_log = False  # only when the driver died: the message points at the log
        self._closing = False
        self._ready = threading.Event()
        self.info: dict = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self._send(DriverInit(scale.cluster, scale.workers, scale.device, scale.threads, __version__, ENGINE_VERSION))
            if not self._ready.wait(timeout=READY_TIMEOUT_S):
                self._keep_log = True
                self._fail(f"Ray did not start within {READY_TIMEOUT_S:.0f} s (Ray's log: {self._log.name})")
            self._check()
        except BaseException:
            self.close()
            raise
        self.workers = int(self.info["workers"])
        self.window = scale.window or 2 * self.workers
        # Jobs in flight over every stream sharing the pool: bounds memory on the Ray side.
        self._slots = threading.BoundedSemaphore(self.window * 2)

    # -- the driver's answers ----------------------------------------------------------------
    def _read(self) -> None:
        try:
            while (msg := read_frame(self._proc.stdout)) is not None:
                if msg[0] == "ready":
                    self.info = msg[1]
                    self._ready.set()
                elif msg[0] == "done":
                    with self._lock:
                        fut = self._futures.pop(msg[1], None)
                    if fut is not None:  # None: already failed by a stop
                        self._slots.release()
                        fut.set_result(msg[2])
                elif msg[0] == "fatal":
                    self._fail(msg[1])
                    break
        except Exception as e:  # noqa: BLE001  a garbled stream is a lost driver too
            self._fail(f"lost contact with the Ray driver ({type(e).__name__})")
        code = self._proc.wait()
        if not self._closing and self._error is None:
            self._keep_log = True
            where = f"the Ray cluster at {self.scale.cluster}" if self.scale.cluster else "the local Ray workers"
            self._fail(f"lost {where} (Ray driver exited with code {code}; Ray's log: {self._log.name})")

    def _fail(self, message: str) -> None:
        with self._lock:
            if self._error is None:
                self._error = message
            futures, self._futures = list(self._futures.values()), {}
        self._ready.set()
        for fut in futures:
            if not fut.done():
                fut.set_exception(LstmzipError(self._error))

    def _check(self) -> None:
        if self._error is not None:
            raise LstmzipError(self._error)

    # -- jobs --------------------------------------------------------------------------------
    def _send(self, msg) -> None:
        try:
            self._out.send(msg)
        except (BrokenPipeError, OSError, ValueError):
            self._reader.join(timeout=30)
            self._check()
            raise LstmzipError("lost the Ray driver") from None

    def _submit(self, kind: str, model, args: tuple) -> Future:
        while not self._slots.acquire(timeout=0.5):
            self._check()
        self._check()
        fut: Future = Future()
        sha = model.sha256 if model is not None else ""
        with self._lock:
            job_id, self._next_id = self._next_id, self._next_id + 1
            self._futures[job_id] = fut
        with self._send_lock:
            if sha and sha not in self._sent_models:
                self._sent_models.add(sha)
                self._send(("model", sha, model.raw))
            self._send(("job", job_id, kind, sha, args))
        return fut

    def compress(self, model, data: bytes, config) -> Future:
        """Future of a pipeline.BlockResult (model: a LoadedModel, or None for config.lstm False)."""
        return self._submit("c", model, (data, config))

    def decompress(self, model, header, payload: bytes, index: int) -> Future:
        """Future of (True, bytes) or (False, damage message)."""
        return self._submit("d", model, (header, payload, index))

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        try:
            self._proc.stdin.close()  # the driver stops at the end of its input
        except (BrokenPipeError, OSError, ValueError):
            pass
        try:
            self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout=10)
        if self._futures:  # stopped early (Ctrl-C): whoever waits on a job gets an error
            self._fail("stopped before every block was coded")
        self._log.close()
        if not self._keep_log:
            try:
                os.unlink(self._log.name)
            except OSError:
                pass

    def __enter__(self) -> "BlockPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def pool_for(scale: ScaleOut):
    """A running BlockPool for `scale`, stopped afterwards; None when `scale` asks for no
    workers (code in this process). BlockPool checks `scale` (a negative count is "enabled")."""
    if not scale.enabled:
        yield None
        return
    with BlockPool(scale) as pool:
        yield pool
