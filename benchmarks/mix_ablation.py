"""What context mixing (block methods 11 to 16, 18 and 19, lstmzip.stages.mix) buys, file by file
and part by part.

    python benchmarks/mix_ablation.py --eval [--methods 4,11,12] [--earlier JSON] [--lpaq1 PATH] --out benchmarks/results/mix_eval
    python benchmarks/mix_ablation.py --tuning DIR [--earlier JSON] --out benchmarks/results/mix_ablation

--eval: the 25 eval texts, each coded with each of --methods (the same streams), round-tripped
through lstmzip.compress/decompress; --earlier takes the figures of methods not run from an
earlier run's JSON (archives are the same bytes whenever the code is: say which run in the
note); with --lpaq1, that peer (`lpaq1 9`, built outside this repository) on the same files in
the same run; gzip -9, bzip2 -9 and xz -9e (Python's own) always. Sizes only (the JSON keeps each run's seconds, but speed is measured by a same-run
A/B on a quiet machine).
--tuning DIR: the training-pool files in DIR (never eval files), coded with method 10 (method
11 without mixing), method 11 with one part left out at a time, methods 12 and 13 with one
of their parts left out at a time, method 14, method 15 with and without its warm start, and
method 16 less one of its parts at a time, methods 18 and 19, and 19 less one of its own-stream
tables: the ablation. Sizes are the archives' (the whole container for
--eval, the block payload for --tuning).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

import lstmzip
from lstmzip import peers
from lstmzip.bench import machine
from lstmzip import engines
from lstmzip.container import Method
from lstmzip.pipeline import CodingConfig, block_streams
from lstmzip.stages import coding
from lstmzip.stages.recipes import RECIPES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_files import EVAL, TEXT  # noqa: E402
from lpaq1_peer import lpaq1_bytes  # noqa: E402

MIX, MIX2, MIX3, MIX4, MIX5, MIX6, MIX7, MIX8 = (
    RECIPES[m] for m in (Method.LSTM_MIX, Method.LSTM_MIX2, Method.LSTM_MIX3, Method.LSTM_MIX4, Method.LSTM_MIX5,
                         Method.LSTM_MIX6, Method.LSTM_MIX7, Method.LSTM_MIX8))


CLASSIC = [peers.load(name) for name in ("gzip", "bz2", "xz")]  # come with Python: measured in every --eval run


def _less(recipe, **change):
    return dataclasses.replace(recipe, mix=dataclasses.replace(recipe.mix, **change))


VARIANTS = {  # ablation rows: method 11 less one part, method 12 less one part
    "method 10 (no mixing)": dataclasses.replace(MIX, mix=None),
    "method 11": MIX,
    "- adaptive probability map": _less(MIX, apm=False),
    "- word context": _less(MIX, word=False),
    "- orders 1 and 6": _less(MIX, orders=(2, 3, 4)),
    "method 12": MIX2,
    "12 - match input": _less(MIX2, match_input=False),
    "12 - weight sets by match length": _less(MIX2, match_set_edges=()),
    "method 13": MIX3,
    "13 - weight warm-up": _less(MIX3, weight_warm=0),
    "13 - class weights": _less(MIX3, class_weights=False),
    "13 - sqrt shares": _less(MIX3, shares="mean", mix_shift=8, apm_rate=7),
    "method 14": MIX4,
    "method 15": MIX5,
    "15 - warm start": dataclasses.replace(MIX5, warm_start=False),
    "method 16": MIX6,
    "16 - long context": dataclasses.replace(MIX6, match=MIX5.match),
    "16 - own-stream long entries": dataclasses.replace(MIX6, match=dataclasses.replace(MIX6.match, own_long_table=False)),
    "16 - third weight set": dataclasses.replace(MIX6, mix=MIX5.mix),
    "16 - context bias order 3": dataclasses.replace(MIX6, bias=dataclasses.replace(MIX6.bias, orders=(1, 2, 4, 6, 7))),
    "16 - context bias orders 1, 3": dataclasses.replace(MIX6, bias=dataclasses.replace(MIX6.bias, orders=(2, 4, 6, 7))),
    "method 18 (16 with bias orders 2, 4, 7)": MIX7,
    "method 19 (16 with own-stream counters)": MIX8,
    "19 - own order 2": _less(MIX8, own_orders=(4,)),
    "19 - own order 4": _less(MIX8, own_orders=(2,)),
}


def _method(key: str) -> int | None:
    """The block method of a row's key ("m12" -> 12), None for other keys."""
    return int(key[1:]) if key.startswith("m") and key[1:].isdigit() else None


def lpaq1(binary: Path, src: Path) -> dict:
    """bpc of `lpaq1 9` on src, its round trip verified."""
    return {"bpc": round(8 * lpaq1_bytes(binary, src) / src.stat().st_size, 4)}


def eval_rows(peer: Path | None, methods: list[Method], earlier: Path | None, rerun_below: int = 0) -> list[dict]:
    before = {r["file"]: r for r in json.loads(earlier.read_text())["rows"]} if earlier else {}
    rows = []
    for name in TEXT:
        data = (EVAL / name).read_bytes()
        row = {"file": name, "bytes": len(data)}
        run = list(methods)
        for key, value in before.get(name, {}).items():
            if _method(key) is not None and _method(key) not in methods:
                if len(data) <= rerun_below:
                    run.insert(0, Method(_method(key)))
                else:
                    row[key] = {**value, "earlier": True}
        if peer is not None:
            row["lpaq1"] = lpaq1(peer, EVAL / name)
        for codec in CLASSIC:
            z = codec.compress(data)
            if codec.decompress(z) != data:
                raise SystemExit(f"round trip FAILED on {name} with {codec.label}")
            row[codec.name] = {"bpc": round(8 * len(z) / len(data), 4)}
        for method in run:
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


def tuning_rows(folder: Path, earlier: Path | None) -> list[dict]:
    engine = engines.engine_for(engines.load_model("default"), "cpu")
    before = {r["file"]: r for r in json.loads(earlier.read_text())["rows"]} if earlier else {}
    rows = []
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        streams = block_streams(data, CodingConfig(), Method.LSTM_MIX)
        row = {"file": path.name, "bytes": len(data)}
        for label, recipe in VARIANTS.items():
            if label in before.get(path.name, {}):  # the same recipe, the same code: the same payload
                row[label] = before[path.name][label]
                continue
            (payload, _), = coding.encode_blocks(engine, [data], [streams], recipe)
            row[label] = round(8 * len(payload) / len(data), 4)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def markdown(meta: dict, rows: list[dict], kind: str) -> str:
    head = [f"# Context mixing (methods 11 to 16, 18, 19): {kind}", "",
            f"lstmzip {meta['version']}, {meta['machine']}, torch {meta['torch']}; `{meta['command']}`.", ""]
    if meta.get("note"):
        head += [meta["note"], ""]
    if kind == "eval":
        methods = sorted({_method(k) for r in rows for k in r} - {None})
        keys = [f"m{m}" for m in methods]
        base, prev, best = keys[0], keys[-2] if len(keys) > 1 else keys[0], keys[-1]
        peer = all("lpaq1" in r for r in rows)
        classic = [c for c in CLASSIC if all(c.name in r for r in rows)]
        earlier = sorted({int(k[1:]) for r in rows for k in keys if r[k].get("earlier")})
        if earlier:
            rerun = [r["file"] for r in rows if any(not r[f"m{m}"].get("earlier") for m in earlier)]
            head += [f"Methods {', '.join(map(str, earlier))}: figures of the earlier run (`--earlier`), "
                     "the same code for those methods, so the same archives"
                     + (f"; re-run in this run on {', '.join(rerun)} (`--rerun-below`)." if rerun else "."), ""]
        head += ["| file | bytes | " + " | ".join(f"method {m} bpc" for m in methods)
                 + f" | {best[1:]} vs {prev[1:]} |" + (" lpaq1 9 bpc |" if peer else "")
                 + "".join(f" {c.label} bpc |" for c in classic),
                 "|---|---:|" + "---:|" * (len(methods) + 1 + len(classic)) + ("---:|" if peer else "")]
        for r in rows:
            head.append(f"| {r['file']} | {r['bytes']:,} | " + " | ".join(f"{r[k]['bpc']:.4f}" for k in keys)
                        + f" | {100 * (r[best]['bpc'] / r[prev]['bpc'] - 1):+.2f}% |"
                        + (f" {r['lpaq1']['bpc']:.4f} |" if peer else "")
                        + "".join(f" {r[c.name]['bpc']:.4f} |" for c in classic))
        n = sum(r["bytes"] for r in rows)
        w = {k: sum(r[k]["bpc"] * r["bytes"] for r in rows) / n
             for k in keys + (["lpaq1"] if peer else []) + [c.name for c in classic]}
        head += ["", "Size-weighted: " + ", ".join(f"method {k[1:]} {w[k]:.4f} bpc" for k in keys)
                 + "".join(f"; method {best[1:]} {100 * (w[best] / w[k] - 1):+.2f}% against method {k[1:]}, smaller on "
                           f"{sum(r[best]['bpc'] < r[k]['bpc'] for r in rows)} of {len(rows)}" for k in dict.fromkeys((base, prev)))
                 + "."]
        if peer:
            head += ["", f"lpaq1 9: {w['lpaq1']:.4f} bpc size-weighted. Files below it: "
                     + ", ".join(f"method {k[1:]} {sum(r[k]['bpc'] < r['lpaq1']['bpc'] for r in rows)}" for k in keys)
                     + f" of {len(rows)}."]
        if classic:
            head += ["", "Size-weighted, the classical compressors of the same run: "
                     + ", ".join(f"{c.label} {w[c.name]:.4f}" for c in classic) + " bpc."]
    else:
        labels = list(VARIANTS)
        head += ["| file | bytes | " + " | ".join(labels) + " |", "|---|---:|" + "---:|" * len(labels)]
        for r in rows:
            head.append(f"| {r['file']} | {r['bytes']:,} | " + " | ".join(f"{r[k]:.4f}" for k in labels) + " |")
    return "\n".join(head) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval", action="store_true")
    ap.add_argument("--tuning", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--from-json", action="store_true", help="rewrite OUT.md from OUT.json")
    ap.add_argument("--lpaq1", type=Path, help="an lpaq1 binary (a peer built outside the repository)")
    ap.add_argument("--methods", default="4,11,12", help="--eval: block methods to run ('': none, the rest from --earlier)")
    ap.add_argument("--earlier", type=Path, help="an earlier run's JSON: --eval, for the methods not run; "
                    "--tuning, for the rows (variants) it has")
    ap.add_argument("--rerun-below", type=int, default=0,
                    help="--eval: run the --earlier methods again on files of at most this many bytes "
                         "(where the encoder's stream rule changed since that run)")
    a = ap.parse_args()
    meta = {"version": lstmzip.__version__, "machine": f"{machine()}, {torch.get_num_threads()} torch threads",
            "torch": torch.__version__,
            "command": "python " + " ".join(sys.argv)}
    if a.from_json:  # only rewrite the Markdown
        rows = json.loads(a.out.with_suffix(".json").read_text())["rows"]
        meta = json.loads(a.out.with_suffix(".json").read_text())["meta"]
    else:
        methods = [Method(int(m)) for m in a.methods.split(",") if m]  # "": only the peers run (with --earlier)
        rows = eval_rows(a.lpaq1, methods, a.earlier, a.rerun_below) if a.eval else tuning_rows(a.tuning, a.earlier)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    a.out.with_suffix(".md").write_text(markdown(meta, rows, "eval" if a.eval else "ablation on training-pool text"))


if __name__ == "__main__":
    main()
