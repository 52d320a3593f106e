"""One benchmark measurement in a fresh process, so its peak memory is its own:

    python -m lstmzip.bench_worker CODEC FILE [--model NAME] [--threads N] [--device cpu|cuda]

CODEC is `lstmzip` or a peer name (lstmzip.peers). Compresses FILE, decompresses the result,
checks it is identical, and prints one JSON object (sizes, seconds, peak RSS and PSS). Model
loading and warm-up are not timed; reading the file is not timed.

Peak RSS is VmHWM from /proc/self/status where there is one: the high-water mark of this
program since exec (getrusage's ru_maxrss would also count the parent's memory the child
carried between fork and exec), plus the largest peak of the processes it forked and waited
for: block methods 10-16 run their LSTM in a forked child on a Linux CPU. Pages the two share
(torch's libraries, the weights) are counted in each, so it is an upper bound.

Peak PSS is what the machine spends: the proportional set size (each shared page split among
the processes that map it) summed over this process and its children, sampled every
PSS_INTERVAL seconds while the codec runs (Linux; None elsewhere). A block's tables grow until
its last step and are freed after it, so a sample falls on the plateau unless a block codes in
under PSS_INTERVAL; sampling costs ~1 ms of kernel time a sample.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

PSS_INTERVAL = 0.2


def _lstmzip_codec(model: str, threads: int, device: str = "cpu"):
    import torch

    from lstmzip import api
    from lstmzip.malloc_tuning import tune_malloc
    from lstmzip.pipeline import default_threads

    tune_malloc()  # as the CLI does (bench figures before 0.25.1 were made without it)
    torch.set_num_threads(threads or default_threads())  # as the CLI does
    api.decompress(api.compress(b"warm-up " * 300, model, device=device), device=device)  # load model, self-test kernels
    return (lambda d: api.compress(d, model, device=device)), (lambda d: api.decompress(d, device=device))


def peak_rss_mib() -> float:
    import resource

    unit = (1 << 20) if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / unit
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024 + children
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / unit + children


def _pss_mib(pid: int | str) -> float:
    """One process's PSS from /proc/PID/smaps_rollup (0 once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children() -> list[str]:
    """This process's children (a fork from any of its threads)."""
    kids = []
    for task in Path("/proc/self/task").iterdir():
        try:
            kids += (task / "children").read_text().split()
        except OSError:
            pass
    return kids


class PssSampler:
    """The peak of this process's and its children's summed PSS, sampled in a thread while
    the `with` block runs; peak_mib is None where /proc/self/smaps_rollup is not there."""

    def __init__(self, interval: float = PSS_INTERVAL):
        self.interval = interval
        self.peak_mib: float | None = 0.0 if Path("/proc/self/smaps_rollup").exists() else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        if self.peak_mib is not None:
            self.peak_mib = max(self.peak_mib, _pss_mib("self") + sum(_pss_mib(k) for k in _children()))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> "PssSampler":
        self.sample()
        if self.peak_mib is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.sample()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("codec")
    ap.add_argument("file", type=Path)
    ap.add_argument("--model", default="default")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args(argv)
    if a.codec == "lstmzip":
        compress, decompress = _lstmzip_codec(a.model, a.threads, a.device)
    else:
        from lstmzip import peers

        peer = peers.load(a.codec)
        if peer is None:
            print(json.dumps({"error": f"{a.codec} is not installed"}))
            return 1
        compress, decompress = peer.compress, peer.decompress
    data = a.file.read_bytes()
    with PssSampler() as pss:
        t0 = time.perf_counter()
        packed = compress(data)
        t1 = time.perf_counter()
        back = decompress(packed)
        t2 = time.perf_counter()
    print(json.dumps({"compressed_bytes": len(packed), "compress_s": t1 - t0, "decompress_s": t2 - t1,
                      "verified": back == data, "peak_rss_mib": peak_rss_mib(), "peak_pss_mib": pss.peak_mib}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
