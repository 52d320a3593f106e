"""One benchmark measurement in a fresh process, so its peak memory is its own:

    python -m lstmzip.bench_worker CODEC FILE [--model NAME] [--threads N] [--device cpu|cuda]

CODEC is `lstmzip` or a peer name (lstmzip.peers). Compresses FILE, decompresses the result,
checks it is identical, and prints one JSON object (sizes, seconds, peak RSS). Model loading
and warm-up are not timed; reading the file is not timed.

Peak RSS is VmHWM from /proc/self/status where there is one: the high-water mark of this
program since exec (getrusage's ru_maxrss would also count the parent's memory the child
carried between fork and exec), plus the largest peak of the processes it forked and waited
for: block methods 10-16 run their LSTM in a forked child on a Linux CPU. Pages the two share
(torch's libraries, the weights) are counted in each, so it is an upper bound.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _lstmzip_codec(model: str, threads: int, device: str = "cpu"):
    import torch

    from lstmzip import api
    from lstmzip.pipeline import default_threads

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
    t0 = time.perf_counter()
    packed = compress(data)
    t1 = time.perf_counter()
    back = decompress(packed)
    t2 = time.perf_counter()
    print(json.dumps({"compressed_bytes": len(packed), "compress_s": t1 - t0, "decompress_s": t2 - t1,
                      "verified": back == data, "peak_rss_mib": peak_rss_mib()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
