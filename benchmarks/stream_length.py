"""How the ratio and speed change with stream length (streams per block) on one file.

    python benchmarks/stream_length.py [--file calgary/book1] [--out benchmarks/results/stream_length]
"""
from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import torch

from lstmzip import CodingConfig
from lstmzip.api import compress_stream
from lstmzip.pipeline import default_threads

EVAL = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "eval"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--file", default="calgary/book1")
    ap.add_argument("--model", default="default")
    ap.add_argument("--lengths", type=int, nargs="*", default=[1024, 2048, 4096, 8192, 16384, 65536])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "stream_length")
    ap.add_argument("--threads", type=int, default=0, help="0: cores - 1, as the CLI")
    a = ap.parse_args()
    torch.set_num_threads(a.threads or default_threads())
    data = (EVAL / a.file).read_bytes()
    rows = []
    for min_len in a.lengths:
        cfg = CodingConfig(min_stream_len=min_len, max_streams=1 << 20, try_lzma=False)
        t = time.perf_counter()
        s = compress_stream(io.BytesIO(data), io.BytesIO(), a.model, cfg)
        dt = time.perf_counter() - t
        streams = max(1, len(data) // min_len)
        row = {"file": a.file, "min_stream_len": min_len, "streams": streams, "actual_bpc": round(s.actual_bpc, 4),
               "model_bpc": round(s.model_bpc, 4), "compress_kbps": round(len(data) / dt / 1e3, 1)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    md = ["| stream length (bytes) | streams | actual bpc | model bpc | compress KB/s |", "|---:|---:|---:|---:|---:|"]
    md += [f"| {r['min_stream_len']} | {r['streams']} | {r['actual_bpc']:.3f} | {r['model_bpc']:.3f} | {r['compress_kbps']:.1f} |" for r in rows]
    a.out.with_suffix(".md").write_text(f"`{a.file}` ({len(data)} bytes), model `{a.model}`, "
                                        f"{torch.get_num_threads()} torch thread(s), {time.strftime('%Y-%m-%d')}\n\n"
                                        + "\n".join(md) + "\n")


if __name__ == "__main__":
    main()
