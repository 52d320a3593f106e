"""Repetitive blocks' longer streams (CodingConfig.repetitive_stream_lens) against none, on
training-pool documents: bpc, the streams each config chose, seconds to compress and to
decompress, every round trip checked.

    python benchmarks/repetitive_streams.py [--per-pool 6] [--out benchmarks/results/repetitive_streams]

Documents of 30-120 KB are drawn (seeded) from the logs and Python pools in two bands of zlib
level 1 bpc: under 1.2 (which the rule reaches) and 1.2-2.0 (code and logs it leaves alone);
and 1 MB of logs (the pool's bytes 8,000,000 to 9,000,000). In one process, 1 torch thread
(the CLI's on 2 cores), the default model; both configs code each file in turn.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import lzma
import random
import time
from dataclasses import replace
from pathlib import Path

import torch

import lstmzip
from lstmzip import CodingConfig
from lstmzip.api import compress_stream, decompress_stream
from lstmzip.bench import machine as describe_machine
from lstmzip.container import Method
from lstmzip.pipeline import block_streams, zlib_bpc

TRAIN = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "train"
BANDS = ((0.0, 1.2), (1.2, 2.0))


def pool_documents(pool: str) -> tuple[bytes, list[dict]]:
    raw = lzma.open(TRAIN / f"{pool}.txt.xz").read()
    with open(TRAIN / f"{pool}.SOURCES.tsv", newline="") as f:
        return raw, list(csv.DictReader(f, delimiter="\t"))


def pick(per_pool: int, seed: int) -> list[tuple[str, bytes]]:
    files = []
    for pool in ("logs", "python"):
        raw, docs = pool_documents(pool)
        for lo, hi in BANDS:
            band = []
            for d in docs:
                off, n = int(d["pool_offset"]), int(d["bytes"])
                if 30_000 <= n <= 120_000 and lo <= zlib_bpc(raw[off : off + n]) < hi:
                    band.append((f"{pool}:{d['path']}", raw[off : off + n]))
            files += random.Random(seed).sample(band, min(per_pool, len(band)))
        if pool == "logs":
            files.append(("logs: pool bytes 8,000,000-9,000,000", raw[8_000_000:9_000_000]))
    return files


def run(name: str, data: bytes, configs: dict[str, CodingConfig]) -> dict:
    row = {"file": name, "bytes": len(data), "zlib1_bpc": round(zlib_bpc(data), 3)}
    for label, cfg in configs.items():
        packed = io.BytesIO()
        t = time.perf_counter()
        compress_stream(io.BytesIO(data), packed, "default", cfg)
        t_c = time.perf_counter() - t
        out = io.BytesIO()
        t = time.perf_counter()
        decompress_stream(io.BytesIO(packed.getvalue()), out)
        t_d = time.perf_counter() - t
        if out.getvalue() != data:
            raise SystemExit(f"round trip failed: {name}, {label}")
        row[label] = {"streams": block_streams(data, cfg, Method.LSTM_MIX6), "archive_bytes": len(packed.getvalue()),
                      "bpc": round(8 * len(packed.getvalue()) / len(data), 4),
                      "compress_s": round(t_c, 2), "decompress_s": round(t_d, 2)}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-pool", type=int, default=6, help="documents per pool and band")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "repetitive_streams")
    a = ap.parse_args()
    torch.set_num_threads(1)
    rule = CodingConfig()
    configs = {"without": replace(rule, repetitive_stream_lens=()), "with": rule}
    rows = []
    for name, data in pick(a.per_pool, a.seed):
        rows.append(run(name, data, configs))
        print(json.dumps(rows[-1]), flush=True)
    machine = f"{describe_machine()}, {torch.get_num_threads()} torch thread, torch {torch.__version__}"
    result = {"lstmzip": lstmzip.__version__, "rule": [list(r) for r in rule.repetitive_stream_lens],
              "least_streams": rule.repetitive_least_streams, "machine": machine,
              "date": time.strftime("%Y-%m-%d"), "rows": rows}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    md = [f"lstmzip {lstmzip.__version__}, default model (method 16), {machine}, {result['date']}: repetitive "
          f"blocks' longer streams (`CodingConfig.repetitive_stream_lens` = {rule.repetitive_stream_lens}, at "
          f"least {rule.repetitive_least_streams} streams) against none. Made by "
          "`python benchmarks/repetitive_streams.py`.", "",
          "| file | KB | zlib-1 bpc | streams | bpc without | bpc with | change | compress s | decompress s |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        w, n = r["without"], r["with"]
        md.append(f"| {r['file']} | {r['bytes'] / 1e3:.0f} | {r['zlib1_bpc']:.2f} | {w['streams']} -> {n['streams']} | "
                  f"{w['bpc']:.4f} | {n['bpc']:.4f} | {100 * (n['bpc'] / w['bpc'] - 1):+.1f}% | "
                  f"{w['compress_s']:.1f} -> {n['compress_s']:.1f} | {w['decompress_s']:.1f} -> {n['decompress_s']:.1f} |")
    for lo, hi in BANDS:
        band = [r for r in rows if lo <= r["zlib1_bpc"] < hi]
        if band:
            size = {k: sum(r[k]["archive_bytes"] for r in band) for k in configs}
            secs = {k: (sum(r[k]["compress_s"] for r in band), sum(r[k]["decompress_s"] for r in band)) for k in configs}
            md.append(f"| **all with zlib-1 {lo}-{hi}** | {sum(r['bytes'] for r in band) / 1e3:.0f} | | | "
                      f"{size['without']:,} B | {size['with']:,} B | {100 * (size['with'] / size['without'] - 1):+.1f}% | "
                      f"{secs['without'][0]:.1f} -> {secs['with'][0]:.1f} | {secs['without'][1]:.1f} -> {secs['with'][1]:.1f} |")
    a.out.with_suffix(".md").write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
