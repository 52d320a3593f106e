"""Per eval file: the default of this tree (an eval_bench.py run) beside lstmzip 0.7.0's default,
method 16 with 0.16's model and lpaq1 9 (a mix_ablation.py --eval run). Sizes only: both runs
round-tripped every archive, and a codec's bytes do not depend on the run (speeds do: they
are in the eval_bench run's own table). --before LABEL JSON adds an earlier eval_bench run's
default (an earlier release's model) as a column.

    python benchmarks/compare_eval.py --bench benchmarks/results/bench_eval.json \
        --mix benchmarks/results/mix_eval.json [--before "0.17.0 default" OLD.json] \
        --out benchmarks/results/default_vs_peers
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", type=Path, required=True, help="eval_bench.py's JSON (this tree's default)")
    ap.add_argument("--mix", type=Path, required=True, help="mix_ablation.py --eval's JSON (m4, m16, lpaq1)")
    ap.add_argument("--codec", default="lstmzip:default")
    ap.add_argument("--before", nargs=2, metavar=("LABEL", "JSON"), help="an earlier eval_bench.py run's default")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    bench, mix = json.loads(a.bench.read_text()), json.loads(a.mix.read_text())
    ours = {r["file"]: r for r in bench["results"] if r["codec"] == a.codec}
    peers = {(r["file"], r["codec"]): r for r in bench["results"]}
    earlier = {}
    if a.before:
        earlier = {r["file"]: r for r in json.loads(Path(a.before[1]).read_text())["results"] if r["codec"] == a.codec}
    cols = ([("this default", None)] + ([(a.before[0], None)] if a.before else [])
            + [("0.7.0 default (method 4)", "m4"), ("0.16.0 method 16", "m16"), ("lpaq1 9", "lpaq1")])
    rows, tot = [], {c: 0.0 for c, _ in cols} | {"gzip": 0.0, "bz2": 0.0, "xz": 0.0, "bytes": 0}
    below = {c: 0 for c, _ in cols[1:]}
    for m in mix["rows"]:
        name = m["file"].split("/")[-1]
        if name not in ours:
            continue
        n = m["bytes"]
        vals = {"this default": ours[name]["bpc"]} | {c: m[k]["bpc"] for c, k in cols[1:] if k}
        if a.before:
            vals[a.before[0]] = earlier[name]["bpc"]
        vals |= {k: peers[(name, k)]["bpc"] for k in ("gzip", "bz2", "xz")}
        for c in vals:
            tot[c] += vals[c] * n
        tot["bytes"] += n
        for c in below:
            below[c] += vals["this default"] < vals[c]
        rows.append((m["file"], n, vals))
    keys = [c for c, _ in cols] + ["gzip", "bz2", "xz"]
    heads = [c for c, _ in cols] + ["gzip -9", "bzip2 -9", "xz -9e"]
    lines = [f"# {a.codec} on the eval texts beside earlier lstmzip and lpaq1 (bpc)", "",
             f"This tree's default: {a.bench} ({bench['meta']['versions'].get('lstmzip')}, {bench['meta']['machine']}, "
             f"{bench['meta']['date']}); gzip, bzip2 and xz from the same run. 0.7.0's default, method 16 with the 0.16 "
             f"model and lpaq1 9: {a.mix} ({mix['meta']['version']}, {mix['meta']['machine']}; method 4 with the "
             "0.16 model writes 0.7.0's bytes; its method 16 figures coded blocks of <= 16 KiB in 1,024 steps, "
             "this tree in 512)" + (f"; {a.before[0]}: {a.before[1]}" if a.before else "")
             + ". Made by `python benchmarks/compare_eval.py`.", "",
             "| file | bytes | " + " | ".join(heads) + " |", "|---|---:|" + "---:|" * len(heads)]
    for f, n, vals in rows:
        best = min(vals[k] for k in keys)
        cells = [f"**{vals[k]:.4f}**" if vals[k] == best else f"{vals[k]:.4f}" for k in keys]
        lines.append(f"| {f} | {n:,} | " + " | ".join(cells) + " |")
    lines.append(f"| **size-weighted** | {tot['bytes']:,} | " + " | ".join(f"{tot[k] / tot['bytes']:.4f}" for k in keys) + " |")
    lines += ["", "Files where this default is smaller: " + ", ".join(f"than {c} {v} of {len(rows)}" for c, v in below.items()) + "."]
    a.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    a.out.with_suffix(".json").write_text(json.dumps({"bench": str(a.bench), "mix": str(a.mix), "rows": [
        {"file": f, "bytes": n, **vals} for f, n, vals in rows], "size_weighted": {k: tot[k] / tot["bytes"] for k in keys},
        "smaller_than": below}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
