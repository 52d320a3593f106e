"""Interrupt lstmzip at many moments and look at what is left behind.

    python benchmarks/kill_test.py [--points 8] [--out benchmarks/results/kill_test]

For compress and decompress, and for SIGINT, SIGTERM and SIGKILL, the command is started on a
real file and signalled after each of --points delays spread over its measured run time.
After each run: is the input intact (sha256), is there an output file (complete and valid,
or partial), and is any other file left in the folder (a temporary)?
"""
from __future__ import annotations

import argparse
import hashlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "corpora" / "eval"
CLI = [sys.executable, "-m", "lstmzip.launcher"]
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_run(cmd: list[str], folder: Path, src: Path, target: Path, delay: float, sig: int, expect: bytes) -> dict:
    before = sha(src)
    start = set(folder.iterdir())
    # A shell without job control starts background commands with SIGINT ignored, and Python
    # then keeps it ignored: give the child the default disposition, as a terminal would.
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(delay)
    finished_first = p.poll() is not None
    if not finished_first:
        p.send_signal(sig)
    _, err = p.communicate(timeout=300)
    left = sorted(x.name for x in set(folder.iterdir()) - start if x != target)
    out = None
    if target.exists():
        out = "complete" if target.read_bytes() == expect else "partial"
    return {"delay_s": round(delay, 2), "signal": signal.Signals(sig).name, "finished_before_signal": finished_first,
            "exit_code": p.returncode, "input_intact": sha(src) == before, "output": out, "other_files_left": left,
            "stderr": err.decode(errors="replace").strip()[-200:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=8)
    ap.add_argument("--file", type=Path, default=EVAL / "canterbury" / "alice29.txt")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "kill_test")
    args = ap.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src = folder / "input.txt"
        src.write_bytes(args.file.read_bytes())
        archive_ref = folder.parent / f"{folder.name}.ref.lstmz"
        t0 = time.time()
        subprocess.run([*CLI, "compress", "-q", "-o", str(archive_ref), str(src)], check=True)
        compress_s = time.time() - t0
        archive = folder / "input.txt.lstmz"
        plans = [("compress", [*CLI, "compress", "-q", "-f", "-o", str(archive), str(src)], src, archive,
                  archive_ref.read_bytes(), compress_s)]  # compression is deterministic
        arc_src = folder / "packed.lstmz"
        arc_src.write_bytes(archive_ref.read_bytes())
        archive_ref.unlink()
        back = folder / "unpacked.txt"
        t0 = time.time()
        subprocess.run([*CLI, "decompress", "-q", "-o", str(back), str(arc_src)], check=True)
        decompress_s = time.time() - t0
        back.unlink()
        plans.append(("decompress", [*CLI, "decompress", "-q", "-f", "-o", str(back), str(arc_src)], arc_src, back,
                      src.read_bytes(), decompress_s))
        for name, cmd, source, target, expect, seconds in plans:
            for sig in SIGNALS:
                for k in range(args.points):
                    delay = seconds * (k + 0.5) / args.points
                    if target.exists():
                        target.unlink()
                    r = one_run(cmd, folder, source, target, delay, sig, expect)
                    r["command"] = name
                    runs.append(r)
                    print(json.dumps(r), flush=True)
                    for x in r["other_files_left"]:
                        (folder / x).unlink()
    interrupted = [r for r in runs if not r["finished_before_signal"]]
    summary = {"runs": len(runs), "interrupted": len(interrupted),
               "input_damaged": sum(not r["input_intact"] for r in runs),
               "partial_outputs": sum(r["output"] == "partial" for r in runs),
               "outputs_after_interruption": sum(r["output"] is not None for r in interrupted),
               "temporary_files_left": sum(len(r["other_files_left"]) for r in runs),
               "compress_s": round(compress_s, 1), "decompress_s": round(decompress_s, 1)}
    args.out.with_suffix(".json").write_text(json.dumps({"summary": summary, "runs": runs}, indent=1) + "\n")
    lines = ["# Kill test: interrupting lstmzip\n",
             f"Input {args.file.name}; compress took {summary['compress_s']} s and decompress "
             f"{summary['decompress_s']} s uninterrupted; each run was signalled after a delay spread over that time.\n",
             "| command | signal | runs | interrupted before exit | input intact | partial outputs | complete outputs of interrupted runs | temporary files left |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name in ("compress", "decompress"):
        for sig in SIGNALS:
            rs = [r for r in runs if r["command"] == name and r["signal"] == sig.name]
            inter = [r for r in rs if not r["finished_before_signal"]]
            lines.append(f"| {name} | {sig.name} | {len(rs)} | {len(inter)} | {sum(r['input_intact'] for r in rs)} | "
                         f"{sum(r['output'] == 'partial' for r in rs)} | {sum(r['output'] is not None for r in inter)} | "
                         f"{sum(len(r['other_files_left']) for r in rs)} |")
    lines.append("\n'Complete outputs of interrupted runs' are byte-identical archives (or originals) whose "
                 "signal arrived after the output had been renamed into place, while Python was exiting. "
                 "Runs not 'interrupted before exit' had finished before the signal.")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
