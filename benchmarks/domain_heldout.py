"""bpc of domain models on held-out files of their domain, beside the default model, xz -9e
and bzip2 -9 (each file compressed on its own by each; every round trip verified).

    python benchmarks/domain_heldout.py --model runs/python.lstmzm --files runs/python_heldout/* \
        [--out benchmarks/results/domain_python]
"""
from __future__ import annotations

import argparse
import bz2
import json
import lzma
from pathlib import Path

import torch

import lstmzip
from lstmzip.pipeline import default_threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--files", nargs="+", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(default_threads())
    rows, tot = [], {"bytes": 0, "model": 0, "default": 0, "xz": 0, "bz2": 0}
    for f in a.files:
        data = f.read_bytes()
        sizes = {}
        for key, name in (("model", a.model), ("default", "default")):
            packed = lstmzip.compress(data, name)
            assert lstmzip.decompress(packed, name) == data, f
            sizes[key] = len(packed)
        sizes["xz"] = len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
        sizes["bz2"] = len(bz2.compress(data, 9))
        n = len(data)
        row = {"file": f.name, "bytes": n, **{f"{k}_bpc": round(8 * v / n, 4) for k, v in sizes.items()}}
        print(json.dumps(row), flush=True)
        rows.append(row)
        tot["bytes"] += n
        for k, v in sizes.items():
            tot[k] += v
    summary = {k: round(8 * tot[k] / tot["bytes"], 4) for k in ("model", "default", "xz", "bz2")}
    summary["model_vs_xz"] = round(summary["model"] / summary["xz"], 4)
    print(json.dumps({"all": summary, "bytes": tot["bytes"]}))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.with_suffix(".json").write_text(json.dumps({"model": a.model, "rows": rows, "all": summary}, indent=1) + "\n")
        md = [f"Model `{a.model}` on {len(rows)} held-out files ({tot['bytes']:,} bytes), each compressed on its own; "
              "round trips verified.", "", "| file | bytes | model | default | xz -9e | bzip2 -9 |", "|---|---:|---:|---:|---:|---:|"]
        md += [f"| {r['file']} | {r['bytes']:,} | {r['model_bpc']:.3f} | {r['default_bpc']:.3f} | {r['xz_bpc']:.3f} | "
               f"{r['bz2_bpc']:.3f} |" for r in rows]
        md.append(f"| **all** | {tot['bytes']:,} | **{summary['model']:.3f}** | {summary['default']:.3f} | "
                  f"{summary['xz']:.3f} | {summary['bz2']:.3f} |")
        a.out.with_suffix(".md").write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
