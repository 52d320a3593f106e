"""Scale-out throughput: one text compressed in-process and with 1, 2 and 4 local Ray workers
(lstmzip.scaleout), all in one run on this machine, plus Ray's cost per block.

    python benchmarks/scaleout.py [--size-mib 16] [--workers 1,2,4] [--decompress-workers 2]
                                  [--overhead-blocks 2000] [--out benchmarks/results/scaleout]

The input is the eval text files (../shared/corpora/eval) end to end, repeated up to the
size. Each configuration codes the same input with the default settings (4 MiB blocks); the
archives must be byte-identical to the in-process one, and one pooled decompression must
give the input back, or the run stops. Pool start-up (a local Ray instance and its workers)
is timed apart from coding. The per-block cost is measured with 1 KiB LZMA blocks (no model
work): time per block through the pool against in-process.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "corpora" / "eval"
TEXTS = ["large/bible.txt", "large/world192.txt", "misc/shakespeare.txt", "calgary/book1", "calgary/book2",
         "canterbury/lcet10.txt", "canterbury/plrabn12.txt", "calgary/news", "canterbury/alice29.txt",
         "canterbury/asyoulik.txt"]
MIB = 1 << 20


def make_input(size: int, folder: Path = EVAL) -> bytes:
    parts = b"".join((folder / t).read_bytes() for t in TEXTS)
    return (parts * (size // len(parts) + 1))[:size]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def compress_with(data: bytes, pool) -> bytes:
    from lstmzip import api

    out = io.BytesIO()
    api.compress_stream(io.BytesIO(data), out, pool=pool)
    return out.getvalue()


def decompress_with(archive: bytes, pool) -> bytes:
    from lstmzip import api

    out = io.BytesIO()
    api.decompress_stream(io.BytesIO(archive), out, pool=pool)
    return out.getvalue()


def start_pool(workers: int):
    from lstmzip.scaleout import BlockPool, ScaleOut

    return timed(lambda: BlockPool(ScaleOut(workers=workers)))


def block_overhead(blocks: int, workers: int, folder: Path) -> dict:
    from lstmzip import api
    from lstmzip.pipeline import CodingConfig

    cfg = CodingConfig(block_size=1024, lstm=False)
    data = make_input(blocks * 1024, folder)

    def run(pool):
        out = io.BytesIO()
        api.compress_stream(io.BytesIO(data), out, config=cfg, pool=pool)
        return out.getvalue()

    here, t_here = timed(lambda: run(None))
    pool, _ = start_pool(workers)
    with pool:
        there, t_pool = timed(lambda: run(pool))
    assert there == here, "pooled archive differs"
    return {"blocks": blocks, "block_bytes": 1024, "workers": workers, "window": 2 * workers,
            "in_process_ms_per_block": round(1000 * t_here / blocks, 3),
            "pool_ms_per_block": round(1000 * t_pool / blocks, 3),
            "overhead_ms_per_block": round(1000 * (t_pool - t_here) / blocks, 3)}


def markdown(res: dict) -> str:
    n = res["input_bytes"]
    lines = [f"# Scale-out on this machine ({res['machine']})", "",
             f"Input: {n / MIB:.0f} MiB of eval text (the files below, end to end, repeated), default settings "
             f"(4 MiB blocks, so {res['blocks']} blocks). Every archive is byte-identical to the in-process one "
             f"(sha256 {res['archive_sha256'][:16]}..., {res['archive_bytes']:,} bytes, "
             f"{8 * res['archive_bytes'] / n:.3f} bpc); the pooled decompression gave the input back.", "",
             "| run | workers | pool start s | coding s | KB/s (coding) | KB/s (with start) | vs in-process |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    base = res["runs"][0]["coding_s"]
    for r in res["runs"]:
        lines.append(f"| {r['run']} | {r['workers'] or '-'} | {r['start_s']:.1f} | {r['coding_s']:.1f} | "
                     f"{n / 1000 / r['coding_s']:.1f} | {n / 1000 / (r['coding_s'] + r['start_s']):.1f} | "
                     f"{base / r['coding_s']:.2f}x |")
    o = res["overhead"]
    lines += ["", f"Per-block cost of the pool ({o['blocks']} blocks of 1 KiB, LZMA, {o['workers']} workers, "
              f"window {o['window']}): {o['pool_ms_per_block']} ms per block through the pool against "
              f"{o['in_process_ms_per_block']} ms in-process, so about {o['overhead_ms_per_block']} ms of "
              "scheduling per block (a 4 MiB LSTM block takes minutes on this CPU).", "",
             f"Texts: {', '.join(TEXTS)}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mib", type=float, default=16)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--decompress-workers", type=int, default=2)
    ap.add_argument("--overhead-blocks", type=int, default=2000)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scaleout"))
    ap.add_argument("--eval", type=Path, default=EVAL, help="The eval corpus folder.")
    args = ap.parse_args()

    import torch

    from lstmzip.pipeline import default_threads

    torch.set_num_threads(default_threads())
    data = make_input(int(args.size_mib * MIB), args.eval)
    res = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                      f"torch {torch.__version__}, Python {sys.version.split()[0]}",
           "input_bytes": len(data), "blocks": -(-len(data) // (4 * MIB)), "texts": TEXTS, "runs": []}
    print(f"input {len(data)} bytes", flush=True)
    ref, t = timed(lambda: compress_with(data, None))
    res.update(archive_bytes=len(ref), archive_sha256=hashlib.sha256(ref).hexdigest())
    res["runs"].append({"run": "in-process (no Ray)", "workers": 0, "start_s": 0.0, "coding_s": round(t, 2)})
    print(res["runs"][-1], flush=True)
    for w in [int(x) for x in args.workers.split(",") if x]:
        pool, t_start = start_pool(w)
        with pool:
            archive, t = timed(lambda: compress_with(data, pool))
        if archive != ref:
            sys.exit(f"{w} workers: archive differs from the in-process one")
        res["runs"].append({"run": "compress", "workers": w, "start_s": round(t_start, 2), "coding_s": round(t, 2)})
        print(res["runs"][-1], flush=True)
    if args.decompress_workers:
        pool, t_start = start_pool(args.decompress_workers)
        with pool:
            back, t = timed(lambda: decompress_with(ref, pool))
        if back != data:
            sys.exit("pooled decompression did not give the input back")
        res["runs"].append({"run": "decompress", "workers": args.decompress_workers, "start_s": round(t_start, 2),
                            "coding_s": round(t, 2)})
        print(res["runs"][-1], flush=True)
    res["overhead"] = block_overhead(args.overhead_blocks, 2, args.eval)
    print(res["overhead"], flush=True)
    Path(args.out + ".json").write_text(json.dumps(res, indent=1) + "\n")
    Path(args.out + ".md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
