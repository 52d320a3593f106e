"""Throughput vs input size: compress and decompress KB/s (each round trip verified) for
prefixes of the eval texts from 1 KB up, in one process with the model already loaded.

    python benchmarks/throughput.py [--sizes 1K 4K ... 8M] [--out benchmarks/results/throughput]

The input is the eval text files concatenated (no repeats, so the match model gets no free
wins); each size is that text's first N bytes. Small inputs are slow because a block is
split into streams of at least 2 KiB, so a 4 KB input runs 2 streams in lockstep and pays
the per-step cost for ~2 bytes; from ~1 MB on the engine runs hundreds of rows per step.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

import lstmzip
from lstmzip.pipeline import default_threads
from lstmzip.pipeline import CodingConfig, plan_streams

HERE = Path(__file__).resolve().parent
EVAL = HERE.parents[1] / "shared" / "corpora" / "eval"
TEXTS = ["calgary/book1", "calgary/book2", "canterbury/lcet10.txt", "canterbury/plrabn12.txt", "large/bible.txt",
         "large/world192.txt", "misc/shakespeare.txt", "canterbury/alice29.txt", "calgary/news"]
UNITS = {"K": 1 << 10, "M": 1 << 20}


def parse_size(s: str) -> int:
    return int(s[:-1]) * UNITS[s[-1].upper()] if s[-1].upper() in UNITS else int(s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="*", default=["1K", "4K", "16K", "64K", "256K", "1M", "4M", "8M"])
    ap.add_argument("--model", default="default")
    ap.add_argument("--threads", type=int, default=0, help="0: cores - 1, as the CLI")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "throughput")
    a = ap.parse_args()
    torch.set_num_threads(a.threads or default_threads())
    text = b"".join((EVAL / t).read_bytes() for t in TEXTS)
    lstmzip.decompress(lstmzip.compress(b"warm-up " * 300, a.model))
    rows = []
    for s in a.sizes:
        n = parse_size(s)
        if n > len(text):
            raise SystemExit(f"{s}: only {len(text)} bytes of eval text")
        data = text[:n]
        t0 = time.perf_counter()
        packed = lstmzip.compress(data, a.model)
        t1 = time.perf_counter()
        ok = lstmzip.decompress(packed) == data
        t2 = time.perf_counter()
        if not ok:
            raise SystemExit(f"round trip FAILED at {s}")
        block = min(n, CodingConfig().block_size)
        row = {"size": s, "bytes": n, "streams_per_block": plan_streams(block, CodingConfig()),
               "bpc": round(8 * len(packed) / n, 4), "compress_kbps": round(n / 1e3 / (t1 - t0), 1),
               "decompress_kbps": round(n / 1e3 / (t2 - t1), 1)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    meta = {"model": a.model, "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d"),
            "machine": f"{os.cpu_count()} cores"}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    md = [f"Model `{a.model}`, {meta['machine']}, {meta['threads']} torch thread(s), {meta['date']}; "
          "prefixes of the concatenated eval texts; every round trip verified.", "",
          "| input | streams per block | bpc | compress KB/s | decompress KB/s |", "|---:|---:|---:|---:|---:|"]
    md += [f"| {r['size']} | {r['streams_per_block']} | {r['bpc']:.3f} | {r['compress_kbps']:.1f} | "
           f"{r['decompress_kbps']:.1f} |" for r in rows]
    a.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [r["bytes"] for r in rows]
    ax.plot(xs, [r["compress_kbps"] for r in rows], "o-", label="compress")
    ax.plot(xs, [r["decompress_kbps"] for r in rows], "s-", label="decompress")
    ax.set_xscale("log")
    ax.set_xlabel("input bytes (log)")
    ax.set_ylabel("KB/s")
    ax.set_title(f"lstmzip throughput vs input size ({meta['machine']})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(a.out.with_suffix(".png"), dpi=110)


if __name__ == "__main__":
    main()
