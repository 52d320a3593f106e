"""A real Ray cluster on this machine for the scale-out tests: a head node and worker nodes,
each its own `ray start` (raylet, object store, worker processes), all on 127.0.0.1.

The cluster has its own temp folder and auth token, and is stopped by killing exactly its
own processes (never `ray stop`, which would also stop any other Ray on the machine).
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT_S = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    return kids


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class LocalRayCluster:
    def __init__(self, head_cpus: int = 1, worker_nodes: int = 1, cpus_per_worker: int = 1):
        self.temp = tempfile.mkdtemp(prefix="lzray")  # short: Ray's socket paths live under it
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                    "RAY_USAGE_STATS_ENABLED": "0"}
        common = ["--object-store-memory", str(80 << 20), "--temp-dir", self.temp, "--disable-usage-stats"]
        try:
            self._start_head(head_cpus, common)
            for _ in range(worker_nodes):
                self._ray(["start", "--address", self.address, "--num-cpus", str(cpus_per_worker), *common])
        except BaseException:
            self.kill()
            raise

    def _start_head(self, head_cpus: int, common: list[str], tries: int = 3) -> None:
        # A port found free can be taken before Ray binds it (another cluster's workers pick
        # ports too): then start again on a fresh one, after clearing what the failed try left.
        for attempt in range(tries):
            self.port = _free_port()
            self.address = f"127.0.0.1:{self.port}"
            try:
                self._ray(["start", "--head", "--port", str(self.port), "--num-cpus", str(head_cpus),
                           "--include-dashboard", "false", *common])
                return
            except RuntimeError as e:
                if attempt == tries - 1 or "already in use" not in str(e) and "grpc server" not in str(e):
                    raise
                self._kill_processes()

    def _ray(self, args: list[str]) -> None:
        # The `ray` command of this interpreter's Ray, wherever PATH points.
        r = subprocess.run([sys.executable, "-m", "ray.scripts.scripts", *args], env=self.env,
                           capture_output=True, text=True, timeout=START_TIMEOUT_S)
        if r.returncode != 0:
            raise RuntimeError(f"ray {' '.join(args[:2])} failed: {r.stderr[-2000:]}")

    def pids(self) -> list[int]:
        """Every process of this cluster: those naming its temp folder, and their descendants."""
        roots = [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit() and self.temp in _cmdline(int(d.name))]
        kids, seen, todo = _children(), set(), list(roots)
        while todo:
            pid = todo.pop()
            if pid not in seen:
                seen.add(pid)
                todo.extend(kids.get(pid, []))
        seen.discard(os.getpid())
        return sorted(seen)

    def kill(self) -> None:
        """The cluster goes away at once (SIGKILL), as when its machine is lost."""
        self._kill_processes()
        shutil.rmtree(self.temp, ignore_errors=True)
        if os.path.exists(self.temp):  # a dying process wrote there once more
            time.sleep(1)
            shutil.rmtree(self.temp, ignore_errors=True)

    def _kill_processes(self) -> None:
        for _ in range(3):  # a process may spawn another while we look
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
