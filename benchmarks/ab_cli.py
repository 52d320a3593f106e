"""Same-run A/B of lstmzip builds through the CLI: rounds of compress and decompress of one
file, each build in turn within a round (so a machine whose speed drifts shifts all of them
alike), every round trip verified.

    python benchmarks/ab_cli.py FILE --rounds 4 \
        --build 0.7.0 /tmp/env_v070/bin/python - "" \
        --build this python . "--method lstm_mix6" [--out benchmarks/results/ab_cli]

A build is LABEL PYTHON TREE ARGS: the interpreter to run, a source tree put first on its
PYTHONPATH ("-": none, the interpreter's installed lstmzip), and extra compress arguments. An
older release is a clone at its tag with its own virtual environment (`pip install -e` there).
The first build is the baseline: each other one's speed is given as a ratio to it, per round
and over all rounds (total time against total time).

--import-baseline PYTHON also times `PYTHON -c "import torch"` in every round, and gives each
build's times as multiples of it (issue 23's small-input target: a 4 KB file through the CLI
in at most twice the import):

    python benchmarks/ab_cli.py xargs.1 --rounds 5 --import-baseline python \
        --build this python . "" --out benchmarks/results/small_input
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

CLI = "from lstmzip.launcher import main; main()"


def _env(build: dict) -> dict:
    env = dict(os.environ)
    if build["tree"] != "-":
        env["PYTHONPATH"] = str(Path(build["tree"]).resolve())
    return env


def run(build: dict, argv: list[str], cwd: str, stdout=None) -> float:
    """Seconds the CLI took for argv (an error raises)."""
    start = time.perf_counter()
    subprocess.run([build["python"], "-c", CLI, *argv], cwd=cwd, env=_env(build), stdout=stdout, check=True)
    return time.perf_counter() - start


def describe(build: dict, cwd: str) -> str:
    """The build's lstmzip version, and its tree's commit (+ "modified" where it has changes)."""
    version = subprocess.run([build["python"], "-c", "import lstmzip; print(lstmzip.__version__)"], cwd=cwd,
                             env=_env(build), capture_output=True, text=True, check=True).stdout.strip()
    if build["tree"] == "-":
        return f"lstmzip {version}, installed"
    git = ["git", "-C", str(Path(build["tree"]).resolve())]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout
    return f"lstmzip {version} at {commit or '?'}{' (modified)' if dirty.strip() else ''}"


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--build", nargs=4, action="append", metavar=("LABEL", "PYTHON", "TREE", "ARGS"), required=True)
    ap.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    ap.add_argument("--import-baseline", metavar="PYTHON", help='time PYTHON -c "import torch" in every round')
    args = ap.parse_args()
    builds = [dict(label=b[0], python=b[1], tree=b[2], args=shlex.split(b[3])) for b in args.build]
    data = args.file.read_bytes()
    rows = []
    with tempfile.TemporaryDirectory() as work:  # (a cwd outside any tree: no '' on sys.path)
        src = Path(work) / args.file.name
        src.write_bytes(data)
        for b in builds:
            b["what"] = describe(b, work)
            print(f"{b['label']}: {b['what']}, compress {' '.join(b['args']) or '(defaults)'}")
        imports = []
        for r in range(1, args.rounds + 1):
            if args.import_baseline:
                start = time.perf_counter()
                subprocess.run([args.import_baseline, "-c", "import torch"], cwd=work, check=True)
                imports.append(round(time.perf_counter() - start, 2))
                print(f"round {r} import torch: {imports[-1]:6.2f} s", flush=True)
            for b in builds:
                arc, back = Path(work) / f"{b['label']}.lstmz", Path(work) / f"{b['label']}.out"
                c = run(b, ["compress", "-q", "-f", *b["args"], "-o", str(arc), str(src)], work)
                with open(back, "wb") as out:
                    d = run(b, ["decompress", "-q", "-f", "-c", str(arc)], work, stdout=out)
                if back.read_bytes() != data:
                    raise SystemExit(f"{b['label']}: round trip failed")
                rows.append(dict(round=r, build=b["label"], compress_s=round(c, 2), decompress_s=round(d, 2),
                                 bytes=arc.stat().st_size))
                print(f"round {r} {b['label']:>10s}: compress {c:6.2f} s, decompress {d:6.2f} s, {arc.stat().st_size:,} bytes",
                      flush=True)
    base = builds[0]["label"]

    def times(label: str, key: str) -> list[float]:
        return [x[key] for x in rows if x["build"] == label]

    def table(pairs: dict, what: str) -> dict:
        """{label: {key: pooled and per-round num / den}} for pairs {label: (num(key), den(key))},
        each printed with what the ratio is."""
        out = {}
        for label, (num, den) in pairs.items():
            out[label] = {}
            for key in ("compress_s", "decompress_s"):
                n, d = num(key), den(key)
                per_round = [a / b for a, b in zip(n, d)]
                out[label][key] = dict(pooled=round(sum(n) / sum(d), 3), per_round=[round(x, 3) for x in per_round])
                print(f"{label} {key[:-2]}: {sum(n) / sum(d):.2f}x {what} over all rounds "
                      f"(per round {min(per_round):.2f}-{max(per_round):.2f}x)")
        return out

    # speed against the first build (its time over the build's); time against the import
    summary = table({b["label"]: (lambda k: times(base, k), lambda k, b=b: times(b["label"], k))
                     for b in builds[1:]}, f"`{base}`'s speed")
    against_import = table({b["label"]: (lambda k, b=b: times(b["label"], k), lambda k: imports)
                            for b in builds}, "the import's time") if imports else {}
    if args.out:
        machine = f"{cpu_name()}, {os.cpu_count()} cores, {platform.system()}"
        report = dict(file=str(args.file), bytes=len(data), machine=machine, rounds=rows,
                      builds=[dict(label=b["label"], what=b["what"], args=b["args"]) for b in builds],
                      speed_against_first=summary, date=time.strftime("%Y-%m-%d"))
        if imports:
            report.update(import_torch_s=imports, time_against_import=against_import)
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
        lines = [f"# CLI A/B: {args.file.name} ({len(data):,} bytes)", "",
                 f"{report['date']}, {machine}; `python benchmarks/ab_cli.py`, {args.rounds} rounds, builds "
                 + ", ".join(f"`{b['label']}` ({b['what']}; compress {' '.join(b['args']) or 'defaults'})" for b in builds)
                 + f". Speed ratios are against `{base}` (its time over the build's).", "",
                 "| round | build | compress s | decompress s | bytes |", "|---:|---|---:|---:|---:|"]
        lines += [f"| {x['round']} | {x['build']} | {x['compress_s']:.2f} | {x['decompress_s']:.2f} | {x['bytes']:,} |"
                  for x in rows]
        lines.append("")
        for result, what in ((summary, f"`{base}`'s speed"), (against_import, "the import's time")):
            if result is against_import and imports:
                lines.append(f"- `{args.import_baseline} -c \"import torch\"` per round: "
                             + ", ".join(f"{t:.2f}" for t in imports) + " s")
            for label, s in result.items():
                for key, v in s.items():
                    lines.append(f"- {label}, {key[:-2]}: {v['pooled']:.2f}x {what} over all rounds "
                                 f"(per round {min(v['per_round']):.2f}-{max(v['per_round']):.2f}x)")
        args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
