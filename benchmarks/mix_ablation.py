"""What context mixing (block method 11, lstmzip.stages.mix) buys, file by file and part by part.

    python benchmarks/mix_ablation.py --eval [--lpaq1 PATH] --out benchmarks/results/mix_eval
    python benchmarks/mix_ablation.py --tuning DIR --out benchmarks/results/mix_ablation

--eval: the 25 eval texts, each coded with the default model's method (4) and with method 11
(the same streams), both round-tripped through lstmzip.compress/decompress; with --lpaq1, that
peer (`lpaq1 9`, built outside this repository) on the same files in the same run. Sizes only (the
JSON keeps each run's seconds, but speed is measured by a same-run A/B on a quiet machine).
--tuning DIR: the training-pool files in DIR (never eval files), coded with method 10 (method
11 without mixing) and method 11 with one part left out at a time: the ablation. Sizes are
the archives' (the whole container for --eval, the block payload for --tuning).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import lstmzip
from lstmzip import engines
from lstmzip.container import Method
from lstmzip.pipeline import CodingConfig, block_streams
from lstmzip.stages import coding
from lstmzip.stages.recipes import RECIPES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_files import EVAL, TEXT  # noqa: E402

MIX = RECIPES[Method.LSTM_MIX]
VARIANTS = {  # ablation rows: method 11 less one part
    "method 10 (no mixing)": dataclasses.replace(MIX, mix=None),
    "method 11": MIX,
    "- adaptive probability map": dataclasses.replace(MIX, mix=dataclasses.replace(MIX.mix, apm=False)),
    "- word context": dataclasses.replace(MIX, mix=dataclasses.replace(MIX.mix, word=False)),
    "- orders 1 and 6": dataclasses.replace(MIX, mix=dataclasses.replace(MIX.mix, orders=(2, 3, 4))),
}


def lpaq1(binary: Path, src: Path) -> dict:
    """bpc of `lpaq1 9` on src, its round trip verified."""
    with tempfile.TemporaryDirectory() as tmp:
        packed, back = Path(tmp) / "x.lpq", Path(tmp) / "x"
        subprocess.run([str(binary), "9", str(src), str(packed)], check=True, capture_output=True)
        subprocess.run([str(binary), "d", str(packed), str(back)], check=True, capture_output=True)
        if back.read_bytes() != src.read_bytes():
            raise SystemExit(f"lpaq1 round trip FAILED on {src}")
        return {"bpc": round(8 * os.path.getsize(packed) / src.stat().st_size, 4)}


def eval_rows(peer: Path | None) -> list[dict]:
    rows = []
    for name in TEXT:
        data = (EVAL / name).read_bytes()
        row = {"file": name, "bytes": len(data)}
        if peer is not None:
            row["lpaq1"] = lpaq1(peer, EVAL / name)
        for method in (Method.LSTM_ADAPTIVE2, Method.LSTM_MIX):
            cfg = CodingConfig(lstm_method=method, try_lzma=False)
            t0 = time.perf_counter()
            z = lstmzip.compress(data, config=cfg)
            t1 = time.perf_counter()
            if lstmzip.decompress(z) != data:
                raise SystemExit(f"round trip FAILED on {name} with method {int(method)}")
            t2 = time.perf_counter()
            row[f"m{int(method)}"] = {"bpc": round(8 * len(z) / len(data), 4), "compress_s": round(t1 - t0, 2),
                                      "decompress_s": round(t2 - t1, 2)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def tuning_rows(folder: Path) -> list[dict]:
    engine = engines.engine_for(engines.load_model("default"), "cpu")
    rows = []
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        streams = block_streams(data, CodingConfig(), Method.LSTM_MIX)
        row = {"file": path.name, "bytes": len(data)}
        for label, recipe in VARIANTS.items():
            (payload, _), = coding.encode_blocks(engine, [data], [streams], recipe)
            row[label] = round(8 * len(payload) / len(data), 4)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def markdown(meta: dict, rows: list[dict], kind: str) -> str:
    head = [f"# Context mixing (method 11): {kind}", "",
            f"lstmzip {meta['version']}, {meta['machine']}, torch {meta['torch']}; `{meta['command']}`.", ""]
    if meta.get("note"):
        head += [meta["note"], ""]
    if kind == "eval":
        peer = all("lpaq1" in r for r in rows)
        head += ["| file | bytes | method 4 bpc | method 11 bpc | change |" + (" lpaq1 9 bpc |" if peer else ""),
                 "|---|---:|---:|---:|---:|" + ("---:|" if peer else "")]
        for r in rows:
            a, b = r["m4"], r["m11"]
            head.append(f"| {r['file']} | {r['bytes']:,} | {a['bpc']:.4f} | {b['bpc']:.4f} | "
                        f"{100 * (b['bpc'] / a['bpc'] - 1):+.2f}% |" + (f" {r['lpaq1']['bpc']:.4f} |" if peer else ""))
        n = sum(r["bytes"] for r in rows)
        keys = ("m4", "m11", "lpaq1") if peer else ("m4", "m11")
        w = {k: sum(r[k]["bpc"] * r["bytes"] for r in rows) / n for k in keys}
        head += ["", f"Size-weighted: method 4 {w['m4']:.4f} bpc, method 11 {w['m11']:.4f} bpc "
                 f"({100 * (w['m11'] / w['m4'] - 1):+.2f}%); method 11 smaller on "
                 f"{sum(r['m11']['bpc'] < r['m4']['bpc'] for r in rows)} of {len(rows)}."]
        if peer:
            head += ["", f"lpaq1 9: {w['lpaq1']:.4f} bpc size-weighted; method 11 below it on "
                     f"{sum(r['m11']['bpc'] < r['lpaq1']['bpc'] for r in rows)} of {len(rows)}, "
                     f"method 4 on {sum(r['m4']['bpc'] < r['lpaq1']['bpc'] for r in rows)}."]
    else:
        labels = list(VARIANTS)
        head += ["| file | bytes | " + " | ".join(labels) + " |", "|---|---:|" + "---:|" * len(labels)]
        for r in rows:
            head.append(f"| {r['file']} | {r['bytes']:,} | " + " | ".join(f"{r[k]:.4f}" for k in labels) + " |")
    return "\n".join(head) + "\n"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval", action="store_true")
    ap.add_argument("--tuning", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--from-json", action="store_true", help="rewrite OUT.md from OUT.json")
    ap.add_argument("--lpaq1", type=Path, help="an lpaq1 binary (a peer built outside the repository)")
    a = ap.parse_args()
    meta = {"version": lstmzip.__version__, "machine": f"{_cpu()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads",
            "torch": torch.__version__,
            "command": "python " + " ".join(sys.argv)}
    if a.from_json:  # only rewrite the Markdown
        rows = json.loads(a.out.with_suffix(".json").read_text())["rows"]
        meta = json.loads(a.out.with_suffix(".json").read_text())["meta"]
    else:
        rows = eval_rows(a.lpaq1) if a.eval else tuning_rows(a.tuning)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    a.out.with_suffix(".md").write_text(markdown(meta, rows, "eval" if a.eval else "ablation on training-pool text"))


if __name__ == "__main__":
    main()
