"""bpc and speed of a shipped model on the eval corpora, beside gzip -9, bzip2 -9 and xz -9e.

    python benchmarks/eval_files.py [--model default] [--out benchmarks/results/eval_default]

Every file is compressed and decompressed (round trip verified) in this run; the classical
compressors run on the same bytes in the same run. Writes OUT.json and OUT.md.
bpc = 8 * output bytes / input bytes (whole archive, headers included; model not counted).
"""
from __future__ import annotations

import argparse
import bz2
import io
import json
import lzma
import platform
import time
import zlib
from pathlib import Path

import torch

import lstmzip
from lstmzip.api import compress_stream

EVAL = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "eval"
TEXT = ["canterbury/alice29.txt", "canterbury/asyoulik.txt", "canterbury/cp.html", "canterbury/fields.c",
        "canterbury/grammar.lsp", "canterbury/lcet10.txt", "canterbury/plrabn12.txt", "canterbury/xargs.1",
        "calgary/bib", "calgary/book1", "calgary/book2", "calgary/news", "calgary/paper1", "calgary/paper2",
        "calgary/paper3", "calgary/paper4", "calgary/paper5", "calgary/paper6", "calgary/progc", "calgary/progl",
        "calgary/progp", "calgary/trans", "large/bible.txt", "large/world192.txt", "misc/shakespeare.txt"]
BINARY = ["canterbury/kennedy.xls", "canterbury/ptt5", "canterbury/sum", "calgary/geo", "calgary/obj1", "calgary/obj2"]


def measure(name: str, model: str) -> dict:
    data = (EVAL / name).read_bytes()
    n = len(data)
    out = io.BytesIO()
    t0 = time.perf_counter()
    stats = compress_stream(io.BytesIO(data), out, model)
    t1 = time.perf_counter()
    back = lstmzip.decompress(out.getvalue())
    t2 = time.perf_counter()
    if back != data:
        raise SystemExit(f"round trip FAILED on {name}")
    bpc = lambda size: round(8.0 * size / n, 4)  # noqa: E731
    return {
        "file": name, "bytes": n, "archive_bytes": stats.output_bytes,
        "model_bpc": round(stats.model_bpc, 4), "actual_bpc": bpc(stats.output_bytes), "methods": stats.methods,
        "compress_s": round(t1 - t0, 3), "decompress_s": round(t2 - t1, 3),
        "compress_kbps": round(n / (t1 - t0) / 1e3, 1), "decompress_kbps": round(n / (t2 - t1) / 1e3, 1),
        "gzip9_bpc": bpc(len(zlib.compress(data, 9)) + 18),  # + gzip's header and trailer
        "bzip2_9_bpc": bpc(len(bz2.compress(data, 9))),
        "xz9e_bpc": bpc(len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))),
        "verified": True,
    }


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"Model `{meta['model']}` ({meta['model_sha256'][:16]}), {meta['machine']}, torch threads {meta['threads']}, {meta['date']}.",
             "", "| file | bytes | lstmzip bpc | model bpc | gzip -9 | bzip2 -9 | xz -9e | method | comp KB/s | decomp KB/s |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['file']} | {r['bytes']} | **{r['actual_bpc']:.3f}** | {r['model_bpc']:.3f} | {r['gzip9_bpc']:.3f} | "
                     f"{r['bzip2_9_bpc']:.3f} | {r['xz9e_bpc']:.3f} | {'+'.join(sorted(set(r['methods'])))} | "
                     f"{r['compress_kbps']:.1f} | {r['decompress_kbps']:.1f} |")
    for label, sel in (("text files", [r for r in rows if r["file"] in TEXT]), ("all files", rows)):
        if not sel:
            continue
        tot = sum(r["bytes"] for r in sel)
        w = lambda key: sum(r[key] * r["bytes"] for r in sel) / tot  # noqa: E731
        lines.append(f"| **{label}** (size-weighted) | {tot} | **{w('actual_bpc'):.3f}** | {w('model_bpc'):.3f} | "
                     f"{w('gzip9_bpc'):.3f} | {w('bzip2_9_bpc'):.3f} | {w('xz9e_bpc'):.3f} | | "
                     f"{tot / sum(r['compress_s'] for r in sel) / 1e3:.1f} | {tot / sum(r['decompress_s'] for r in sel) / 1e3:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "eval_default")
    ap.add_argument("--files", nargs="*", help="subset of eval files (default: all text and binary files)")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    from lstmzip.models import registry

    m = registry.load(a.model)
    meta = {"model": a.model, "model_sha256": m.sha256, "machine": f"{platform.machine()} {platform.processor() or ''}".strip()
            + f", {torch.get_num_threads()} threads", "threads": torch.get_num_threads(),
            "date": time.strftime("%Y-%m-%d"), "torch": torch.__version__}
    rows = []
    for name in a.files or TEXT + BINARY:
        r = measure(name, a.model)
        print(json.dumps(r), flush=True)
        rows.append(r)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "files": rows}, indent=1) + "\n")
    a.out.with_suffix(".md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))


if __name__ == "__main__":
    main()
