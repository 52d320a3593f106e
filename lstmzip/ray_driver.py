"""The Ray side of scale-out, run as its own process (`python -m lstmzip.ray_driver`).

Why a separate process: when its cluster goes away, Ray ends the driver process outright
(no exception, no cleanup). lstmzip keeps Ray out of its own process, so that becomes a clear
`lstmzip:` error and the unfinished output is discarded (lstmzip.scaleout).

Protocol (lstmzip.frames over stdin/stdout): lstmzip sends DriverInit, then ("model", sha,
bytes) before the first job of each model and ("job", id, kind, sha, args), then closes the
pipe. The driver answers ("ready", info), then ("done", id, value) for each job as it finishes, or
("fatal", message). Ray's own log lines go to stderr, which lstmzip sends to a log file.

Workers are actors (lstmzip.ray_worker.BlockCoder), one per CPU or GPU of the cluster unless
told how many. A job whose worker dies is sent to another worker, and a new worker is started
in the dead one's place; a damaged block is an answer, not a failure.
"""
from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field

from lstmzip.frames import FrameWriter, read_frame

MAX_TRIES = 4  # attempts per job before the run is given up
START_TIMEOUT_S = 120.0  # a worker that cannot start (no room in the cluster) for this long
START_GRACE_S = 15.0  # once one worker runs, how long to wait for the others before starting


@dataclass(frozen=True)
class DriverInit:
    address: str | None  # None: start a local Ray instance of `workers` CPUs
    workers: int  # 0: one per GPU (or CPU) of the cluster
    device: str  # auto, cpu or cuda
    threads: int  # torch threads per CPU worker
    version: str  # lstmzip's, which every worker must run
    engine: int  # the integer engine's version, likewise


@dataclass
class _Job:
    id: int
    kind: str  # "c" compress or "d" decompress
    sha: str
    args: tuple
    tries: int = 0
    actor: object = None


class DriverError(Exception):
    pass


def _probe(address: str) -> None:
    """Fail in seconds, not minutes, when nothing listens at host:port."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
    except (OSError, ValueError):
        raise DriverError(f"no Ray cluster answers at {address} (start one with `ray start --head`)") from None


class Driver:
    def __init__(self, init: DriverInit, out: FrameWriter):
        import ray

        from lstmzip.ray_worker import BlockCoder

        self.ray, self.out, self.init = ray, out, init
        if init.address:
            _probe(init.address)
            ray.init(address=init.address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            # "local": a new instance of our own, even where `ray start` runs a cluster here.
            ray.init(address="local", num_cpus=init.workers, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING, object_store_memory=(256 + 32 * init.workers) << 20)
        res = ray.cluster_resources()
        gpus, cpus = int(res.get("GPU", 0)), int(res.get("CPU", 0))
        use_gpu = init.device == "cuda" or (init.device == "auto" and gpus > 0)
        if use_gpu and not gpus:
            raise DriverError("--device cuda: the Ray cluster has no GPU")
        self.count = init.workers or (gpus if use_gpu else cpus) or 1
        self.device = "cuda" if use_gpu else "cpu"
        self.actor_class = ray.remote(BlockCoder).options(
            num_cpus=0 if use_gpu else 1, num_gpus=1 if use_gpu else 0, max_restarts=0, max_task_retries=0)
        self.models: dict[str, object] = {}
        self.lock = threading.Condition()
        self.pending: dict = {}  # ObjectRef -> _Job
        self.load: dict = {}  # live actor -> jobs queued on it
        self.starting: dict = {}  # info ObjectRef -> actor being started
        self.replacements = 2 * self.count
        self.waiting: list[_Job] = []  # jobs with no live worker to go to yet
        self.infos: list[dict] = []
        self.no_workers_since: float | None = None
        for _ in range(self.count):
            self._start_actor()
        self._await_first_workers()

    # -- workers -----------------------------------------------------------------------
    def _start_actor(self) -> None:
        actor = self.actor_class.remote(self.device, self.init.threads)
        self.starting[actor.info.remote()] = actor

    def _admit(self, ref) -> None:
        actor = self.starting.pop(ref)
        try:
            info = self.ray.get(ref)
        except self.ray.exceptions.RayError:
            return  # died while starting; a replacement is started when a job needs it
        if (info["version"], info["engine"]) != (self.init.version, self.init.engine):
            raise DriverError(f"a worker on {info['host']} runs lstmzip {info['version']} (engine {info['engine']}); "
                              f"this is {self.init.version} (engine {self.init.engine}): install the same version on every node")
        self.infos.append(info)
        self.load[actor] = 0

    def _await_first_workers(self) -> None:
        """Until every worker runs; or, once one does, for START_GRACE_S more (the others join
        as they start: a cluster with fewer CPUs than asked for still gets to work)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.starting and time.monotonic() < deadline and len(self.load) < self.count:
            ready, _ = self.ray.wait(list(self.starting), num_returns=1, timeout=1.0)
            for ref in ready:
                self._admit(ref)
            if len(self.load) == 1 and ready:
                deadline = min(deadline, time.monotonic() + START_GRACE_S)
        if not self.load:
            raise DriverError(f"no worker could start in the Ray cluster within {START_TIMEOUT_S:.0f} s")

    def describe(self) -> dict:
        return {"workers": len(self.load), "requested": self.count, "device": self.device,
                "pids": [i["pid"] for i in self.infos], "nodes": len({i["node"] for i in self.infos})}

    def _drop(self, actor) -> None:
        """A worker died: forget it, and start another in its place while replacements last."""
        if actor in self.load:
            del self.load[actor]
            try:
                self.ray.kill(actor)
            except Exception:  # noqa: BLE001  already gone
                pass
            if self.replacements > 0:
                self.replacements -= 1
                self._start_actor()

    # -- jobs ----------------------------------------------------------------------------
    def add_model(self, sha: str, data: bytes) -> None:
        self.models[sha] = self.ray.put(data)

    def _dispatch(self, job: _Job) -> None:
        actor = min(self.load, key=self.load.get) if self.load else None
        if actor is None:  # every worker is gone; wait for a replacement (collect() retries)
            job.actor = None
            self.waiting.append(job)
            return
        method = actor.compress if job.kind == "c" else actor.decompress
        ref = method.remote(job.sha, [self.models.get(job.sha)], *job.args)
        job.actor = actor
        self.load[actor] += 1
        self.pending[ref] = job

    def submit(self, job: _Job) -> None:
        with self.lock:
            self._dispatch(job)
            self.lock.notify()

    def collect(self) -> None:
        """Answer jobs as they finish (lstmzip puts them back in order), until the process ends."""
        RayError, RayTaskError = self.ray.exceptions.RayError, self.ray.exceptions.RayTaskError
        while True:
            with self.lock:
                while not self.pending and not self.waiting:
                    self.lock.wait(0.5)
                self._retry_waiting()
                refs = list(self.pending) + list(self.starting)
            if not refs:
                raise DriverError("every worker of the Ray cluster is gone")
            ready, _ = self.ray.wait(refs, num_returns=1, timeout=0.5)
            with self.lock:
                for ref in ready:
                    if ref in self.starting:
                        self._admit(ref)
                        continue
                    job = self.pending.pop(ref)
                    try:
                        value = self.ray.get(ref)
                    except RayTaskError as e:  # our code raised on the worker: a bug, report it
                        raise DriverError(f"worker error: {e.cause!r}") from None
                    except RayError as e:  # the worker (or its node) died: retry elsewhere
                        self._drop(job.actor)
                        job.tries += 1
                        if job.tries >= MAX_TRIES:
                            raise DriverError(f"job {job.id} failed on {job.tries} workers ({type(e).__name__})") from None
                        self._dispatch(job)
                        continue
                    if job.actor in self.load:
                        self.load[job.actor] -= 1
                    self.out.send(("done", job.id, value))

    def _retry_waiting(self) -> None:
        if not self.waiting:
            self.no_workers_since = None
            return
        if not self.load:
            now = time.monotonic()
            self.no_workers_since = self.no_workers_since or now
            if not self.starting and self.replacements > 0:
                self.replacements -= 1
                self._start_actor()
            if not self.starting or now - self.no_workers_since > START_TIMEOUT_S:
                raise DriverError("every worker of the Ray cluster is gone")
            return
        jobs, self.waiting = self.waiting, []
        for job in jobs:
            self._dispatch(job)


def _start_error(e: Exception, init: DriverInit | None) -> str:
    """One line for lstmzip's error message (Ray's own can run to a page)."""
    if isinstance(e, DriverError):
        return str(e)
    where = f"the Ray cluster at {init.address}" if init is not None and init.address else "Ray"
    chain, cause = [], e
    while cause is not None and len(chain) < 8:
        chain.append(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    first = (str(e).strip().splitlines() or [""])[0][:300]
    message = f"cannot connect to {where}: {type(e).__name__}: {first}"
    if any("Authentication" in name for name in chain) or isinstance(e, ConnectionError):
        # Ray reports a refused token as a failed connection.
        message += (" (if the cluster is up, it may want an auth token: ~/.ray/auth_token, or "
                    "RAY_AUTH_TOKEN with RAY_AUTH_MODE=token)")
    return message


def main() -> int:
    # Our frames own the real stdout; anything else printed (Ray, warnings) goes to stderr.
    out = FrameWriter(os.fdopen(os.dup(1), "wb"))
    os.dup2(2, 1)
    inp = sys.stdin.buffer
    init = read_frame(inp)
    try:
        driver = Driver(init, out)
    except Exception as e:  # noqa: BLE001  every start-up failure is one message to lstmzip
        out.send(("fatal", _start_error(e, init)))
        if "ray" in sys.modules:
            try:
                sys.modules["ray"].shutdown()
            except Exception:  # noqa: BLE001
                pass
        return 1
    out.send(("ready", driver.describe()))
    failed = threading.Event()

    def collect() -> None:
        try:
            driver.collect()
        except Exception as e:  # noqa: BLE001
            out.send(("fatal", str(e) if isinstance(e, DriverError) else f"{type(e).__name__}: {e}"))
            failed.set()

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    # End of input (lstmzip is done, or gone): stop. lstmzip only closes once every answer it
    # waits for has come, so nothing in flight is lost.
    while (msg := read_frame(inp)) is not None and not failed.is_set():
        if msg[0] == "model":
            driver.add_model(msg[1], msg[2])
        elif msg[0] == "job":
            driver.submit(_Job(msg[1], msg[2], msg[3], msg[4]))
    driver.ray.shutdown()
    return 1 if failed.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
