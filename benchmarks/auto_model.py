"""`--model auto` against the truth: every shipped model compresses each file, and the choice
of lstmzip.auto_model (and of the old rule, the full pipeline on the first 16 KiB) is compared
with the smallest archive. Timings are of the decision alone, with the models not yet loaded.

    python benchmarks/auto_model.py [FILE...] [--max-bytes N] [--out benchmarks/results/auto_model]
    python benchmarks/auto_model.py --tuning   # the files its discount was chosen on instead

Without FILE: slices of the training pools (never the eval files) and text files of kinds
the models were not trained on, from this machine (Markdown, XML, JSON, HTML, C, CSV, shell,
reStructuredText, JavaScript, YAML, system logs); missing ones are skipped and every file is
named with its size and sha256 in the results.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import lzma
import platform
import time
from pathlib import Path

import torch

import lstmzip
from lstmzip import api, auto_model, engines, transforms
from lstmzip.models import registry
from lstmzip.pipeline import CodingConfig, lstm_encode, plan_streams

HERE = Path(__file__).resolve().parent
POOLS = HERE.parents[1] / "shared" / "corpora" / "train"
SYSTEM_FILES = [
    "/usr/share/doc/nodejs/api/process.md", "/usr/share/xml/iso-codes/iso_639-2.xml",
    "/usr/share/iso-codes/json/iso_3166-2.json", "/usr/share/doc/python3/python-policy.html",
    "/usr/lib/jvm/java-17-openjdk-amd64/include/jni.h", "/usr/share/doc/zlib1g-dev/examples/gzlog.c",
    "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/matplotlib/mpl-data/sample_data/Stocks.csv",
    "/usr/share/doc/git/contrib/subtree/t/t7900-subtree.sh", "/usr/share/cmake-3.25/Help/command/file.rst",
    "/usr/share/gitweb/static/gitweb.js",
    "/usr/lib/google-cloud-sdk/lib/googlecloudsdk/command_lib/util/resource_map/resource_map.yaml",
    "/var/log/dpkg.log", "/var/log/apt/term.log", "/var/log/alternatives.log",
    "/root/.pyenv/versions/3.11.7/lib/python3.11/argparse.py",
]
POOL_SLICES = [("english", 50_000_000), ("python", 20_000_000), ("logs", 2_000_000), ("logs", 9_000_000)]
# --tuning: the files auto_model.LONG_STREAM_DISCOUNT was chosen on, none of them above
SITE = "/root/.pyenv/versions/3.11.7/lib/python3.11/"
TUNING_FILES = [
    "/usr/share/xml/iso-codes/iso_639-3.xml", "/usr/share/X11/xkb/rules/evdev.xml",
    "/usr/share/dbus-1/interfaces/org.freedesktop.PackageKit.Transaction.xml",
    "/usr/share/doc/libxml-parser-perl/examples/REC-xml-19980210.xml",
    SITE + "site-packages/boto3/data/ec2/2016-11-15/resources-1.json",
    SITE + "site-packages/cfnlint/data/Serverless/ManagedPolicies.json", "/root/.cache/matplotlib/fontlist-v3.11.0.json",
    SITE + "site-packages/numpy/_core/tests/data/umath-validation-set-log2.csv",
    "/usr/share/package-lists/nuget.tsv", "/usr/share/package-lists/go-partial.tsv",
    SITE + "site-packages/torchgen/packaged/ATen/native/native_functions.yaml",
    SITE + "site-packages/torchgen/packaged/autograd/derivatives.yaml",
    "/var/log/apt/history.log", "/var/log/apt/eipp.log.xz", "/usr/share/drirc.d/00-mesa-defaults.conf",
    "/usr/share/alsa/topology/hda-dsp/skl_hda_dsp_generic-tplg.conf", "/usr/share/doc/libpng-dev/examples/pngtest.c",
    SITE + "site-packages/wrapt/_wrappers.c", "/usr/share/javascript/jquery/jquery.js",
    "/usr/share/javascript/underscore/underscore.js", SITE + "typing.py", SITE + "tarfile.py",
]
TUNING_SLICES = [("english", 20_000_000), ("english", 80_000_000), ("python", 5_000_000), ("python", 27_000_000),
                 ("logs", 5_000_000), ("logs", 12_000_000), ("logs", 13_500_000)]


def inputs(files: list[str], max_bytes: int, tuning: bool = False) -> list[tuple[str, bytes]]:
    out = []
    for f in files or (TUNING_FILES if tuning else SYSTEM_FILES):
        p = Path(f)
        if p.is_file():
            data = lzma.decompress(p.read_bytes()) if p.suffix == ".xz" else p.read_bytes()
            out.append((p.name, data[:max_bytes]))
    if not files:
        for pool, offset in TUNING_SLICES if tuning else POOL_SLICES:
            path = POOLS / f"{pool}.txt.xz"
            if path.is_file():
                with lzma.open(path) as z:
                    z.seek(offset)
                    out.append((f"{pool}.txt.xz@{offset}", z.read(max_bytes)))
    return out


def old_rule(sample: bytes, names: list[str]) -> str:
    """lstmzip 0.8's rule: the full pipeline of each model on the first 16 KiB."""
    data = transforms.forward(sample, transforms.choose(sample))[: 16 << 10]
    streams = plan_streams(len(data), CodingConfig())
    scores = []
    for n in names:
        m = engines.load_model(n)
        scores.append(lstm_encode(engines.engine_for(m), data, streams, method=engines.lstm_method_for(m))[1])
    return names[scores.index(min(scores))]


def cold(fn):
    """fn() timed with no model loaded and no engine built."""
    registry.load.cache_clear()
    engines._ENGINES.clear()
    t = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t


@contextlib.contextmanager
def _recording_scores(into: dict):
    """auto_model.scores, with each result also put into `into`, while inside."""
    real = auto_model.scores

    def recording(sample, candidates):
        out = real(sample, candidates)
        into.update(out)
        return out
    auto_model.scores = recording
    try:
        yield
    finally:
        auto_model.scores = real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*")
    ap.add_argument("--max-bytes", type=int, default=256 << 10, help="bytes of each file compressed")
    ap.add_argument("--out", type=Path, default=None, help="default: results/auto_model (--tuning: auto_model_tuning)")
    ap.add_argument("--tuning", action="store_true", help="the files LONG_STREAM_DISCOUNT was chosen on instead")
    a = ap.parse_args()
    a.out = a.out or HERE / "results" / ("auto_model_tuning" if a.tuning else "auto_model")
    names = registry.names()
    rows = []
    for label, data in inputs(a.files, a.max_bytes, a.tuning):
        sizes = {n: len(api.compress(data, n)) for n in names}
        best = min(sizes, key=sizes.get)
        score = {}  # the scores choose_model decides by, kept as it computes them (not scored twice)
        with _recording_scores(score):
            new, t_new = cold(lambda: api.choose_model(data[: api.AUTO_SAMPLE]))
        old, t_old = cold(lambda: old_rule(data, names))
        row = {"file": label, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
               "archive_bytes": sizes, "best": best, "auto": new, "auto_s": round(t_new, 2),
               "old_rule": old, "old_rule_s": round(t_old, 2),
               "score_bits": {n: round(v, 1) for n, v in score.items()}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    meta = {"lstmzip": lstmzip.__version__, "torch": torch.__version__, "machine": platform.processor() or
            platform.machine(), "cores": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d %H:%M"),
            "windows": auto_model.WINDOWS, "window": auto_model.WINDOW, "max_bytes": a.max_bytes,
            "long_stream_discount": auto_model.LONG_STREAM_DISCOUNT, "set": "tuning" if a.tuning else "benchmark"}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    a.out.with_suffix(".md").write_text(markdown(meta, rows, names))


def markdown(meta: dict, rows: list[dict], names: list[str]) -> str:
    def bpc(r, n):
        return 8 * r["archive_bytes"][n] / r["bytes"]

    def regret(r, choice):
        return 100 * (r["archive_bytes"][choice] / r["archive_bytes"][r["best"]] - 1)

    title = "every model's archive, on its tuning files" if meta["set"] == "tuning" else "every model's archive"
    lines = [f"# `--model auto` against {title} (lstmzip {meta['lstmzip']}, {meta['date']})", "",
             f"First {meta['max_bytes'] >> 10} KiB of each file; torch {meta['torch']}, {meta['cores']} threads. "
             f"auto: {meta['windows']} windows of {meta['window']} bytes through each model's block method, the "
             f"bits of the logs model's method divided by {meta['long_stream_discount']}; "
             "old rule: the full pipeline "
             "on the first 16 KiB. Times: the decision alone, models not yet loaded. "
             "Made by `python benchmarks/auto_model.py`.", "",
             "| file | bytes | " + " | ".join(f"{n} bpc" for n in names) + " | best | auto | s | old rule | s |",
             "|---|---:|" + "---:|" * len(names) + "---|---|---:|---|---:|"]
    for r in rows:
        cells = " | ".join(f"**{bpc(r, n):.3f}**" if n == r["best"] else f"{bpc(r, n):.3f}" for n in names)
        mark = {c: c if c == r["best"] else f"{c} (+{regret(r, c):.1f}%)" for c in (r["auto"], r["old_rule"])}
        lines.append(f"| {r['file']} | {r['bytes']:,} | {cells} | {r['best']} | {mark[r['auto']]} | {r['auto_s']} | "
                     f"{mark[r['old_rule']]} | {r['old_rule_s']} |")
    total = {k: sum(r["archive_bytes"][r[k]] for r in rows) for k in ("best", "auto", "old_rule")}
    right = {k: sum(r[k] == r["best"] for r in rows) for k in ("auto", "old_rule")}
    lines += ["", f"Right choice: auto {right['auto']} of {len(rows)}, old rule {right['old_rule']} of {len(rows)}. "
              f"All files' archives with auto's choices are {100 * (total['auto'] / total['best'] - 1):.2f}% larger "
              f"than with the best model for each, with the old rule's {100 * (total['old_rule'] / total['best'] - 1):.2f}%. "
              f"Slowest decision: auto {max(r['auto_s'] for r in rows)} s, old rule {max(r['old_rule_s'] for r in rows)} s."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
