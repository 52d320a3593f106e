"""bpc of domain models on held-out files of their domain, beside the default model, xz -9e
and bzip2 -9 (each file compressed on its own by each; every round trip verified).

    python benchmarks/domain_heldout.py --model runs/python.lstmzm --files runs/python_heldout/* \
        [--out benchmarks/results/domain_python] [--best] [--lpaq1 PATH]

--best adds a column: the domain model with `compress --best` (16 KiB streams); --lpaq1 one for
that peer (`lpaq1 9`, a binary built outside this repository).
"""
from __future__ import annotations

import argparse
import bz2
import json
import lzma
import time
from pathlib import Path

import torch

import lstmzip
from lstmzip.bench import machine
from lstmzip.pipeline import BEST, default_threads

from lpaq1_peer import lpaq1_bytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--files", nargs="+", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--best", action="store_true", help="also the model with compress --best")
    ap.add_argument("--lpaq1", type=Path, help="an lpaq1 binary (a peer built outside the repository)")
    a = ap.parse_args()
    torch.set_num_threads(default_threads())
    runs = [("model", a.model, None), ("default", "default", None)] + ([("best", a.model, BEST)] if a.best else [])
    keys = [k for k, _, _ in runs] + ["xz", "bz2"] + (["lpaq1"] if a.lpaq1 else [])
    rows, tot = [], {"bytes": 0, **{k: 0 for k in keys}}
    for f in a.files:
        data = f.read_bytes()
        sizes = {}
        for key, name, config in runs:
            packed = lstmzip.compress(data, name, config)
            assert lstmzip.decompress(packed, name) == data, f
            sizes[key] = len(packed)
        sizes["xz"] = len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
        sizes["bz2"] = len(bz2.compress(data, 9))
        if a.lpaq1:
            sizes["lpaq1"] = lpaq1_bytes(a.lpaq1, f)
        n = len(data)
        row = {"file": f.name, "bytes": n, **{f"{k}_bpc": round(8 * v / n, 4) for k, v in sizes.items()}}
        print(json.dumps(row), flush=True)
        rows.append(row)
        tot["bytes"] += n
        for k, v in sizes.items():
            tot[k] += v
    summary = {k: round(8 * tot[k] / tot["bytes"], 4) for k in keys}
    summary["model_vs_xz"] = round(summary["model"] / summary["xz"], 4)
    if a.best:
        summary["best_vs_xz"] = round(summary["best"] / summary["xz"], 4)
    if a.lpaq1:
        summary["files_below_lpaq1"] = sum(r["model_bpc"] < r["lpaq1_bpc"] for r in rows)
    print(json.dumps({"all": summary, "bytes": tot["bytes"]}))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.with_suffix(".json").write_text(json.dumps({"model": a.model, "rows": rows, "all": summary}, indent=1) + "\n")
        cols = [("model", "model"), ("default", "default")] + ([("best", "model --best")] if a.best else []) + \
            [("xz", "xz -9e"), ("bz2", "bzip2 -9")] + ([("lpaq1", "lpaq1 9")] if a.lpaq1 else [])
        md = [f"Model `{a.model}` on {len(rows)} held-out files ({tot['bytes']:,} bytes), each compressed on its own; "
              f"round trips verified. lstmzip {lstmzip.__version__}, {machine()}, torch {torch.__version__} with "
              f"{torch.get_num_threads()} thread(s), {time.strftime('%Y-%m-%d')}.", "",
              "| file | bytes | " + " | ".join(title for _, title in cols) + " |", "|---|---:|" + "---:|" * len(cols)]
        md += [f"| {r['file']} | {r['bytes']:,} | " + " | ".join(f"{r[k + '_bpc']:.3f}" for k, _ in cols) + " |"
               for r in rows]
        md.append(f"| **all** | {tot['bytes']:,} | " + " | ".join(f"**{summary[k]:.3f}**" if k == "model" else
                                                               f"{summary[k]:.3f}" for k, _ in cols) + " |")
        if a.lpaq1:
            md += ["", f"The model is below lpaq1 9 on {summary['files_below_lpaq1']} of {len(rows)} files."]
        a.out.with_suffix(".md").write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
