"""Peak memory and speed on large inputs, through the real command and real pipes.

    python benchmarks/large_input.py [--sizes 20:pipe,200:both] [--fast-from 100] [--out benchmarks/results/large_input]

For each size (MB) it builds an input from the English training pool (repeated when the pool
is shorter; this measures memory and speed, not ratio), then runs
`cat IN | lstmzip compress -c - | lstmzip decompress -c -` as three processes joined by pipes,
compares the output with the input byte for byte, and reads each lstmzip process's peak RSS
from wait4(). With `both`, compress and decompress also run one after the other on files, each
timed. Sizes of at least --fast-from MB use `compress --fast` (LZMA blocks, no LSTM) to save
time, and the results say so.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POOL = ROOT.parent / "shared" / "corpora" / "train" / "english.txt.xz"
CLI = [sys.executable, "-m", "lstmzip.launcher"]
MB = 1_000_000


def make_input(path: Path, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "wb") as out:
        left = size
        while left:
            with lzma.open(POOL) as src:
                while left:
                    chunk = src.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    out.write(chunk)
                    h.update(chunk)
                    left -= len(chunk)
    return h.hexdigest()


def _wait(p: subprocess.Popen) -> tuple[int, float]:
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, usage.ru_maxrss / 1024  # KiB -> MiB


def run_pipe(src: Path, fast: bool, threads: int) -> dict:
    """cat src | compress -c - | decompress -c -, output hashed as it streams out."""
    extra = ["--fast"] if fast else []
    t0 = time.time()
    with open(src, "rb") as fin:
        comp = subprocess.Popen([*CLI, "compress", "-q", "-T", str(threads), *extra, "-c", "-"], stdin=fin,
                                stdout=subprocess.PIPE)
        dec = subprocess.Popen([*CLI, "decompress", "-q", "-T", str(threads), "-c", "-"], stdin=comp.stdout,
                               stdout=subprocess.PIPE)
        comp.stdout.close()
        h, n = hashlib.sha256(), 0
        while chunk := dec.stdout.read(1 << 20):
            h.update(chunk)
            n += len(chunk)
        rc_c, rss_c = _wait(comp)
        rc_d, rss_d = _wait(dec)
    return {"rc": [rc_c, rc_d], "bytes_out": n, "sha256_out": h.hexdigest(), "wall_s": round(time.time() - t0, 1),
            "compress_peak_rss_mib": round(rss_c, 1), "decompress_peak_rss_mib": round(rss_d, 1)}


def run_files(src: Path, work: Path, fast: bool, threads: int) -> dict:
    """compress and decompress one after the other, to time each and get the archive size."""
    extra = ["--fast"] if fast else []
    arc, back = work / "in.lstmz", work / "back"
    out = {}
    for step, cmd in [("compress", [*CLI, "compress", "-q", "-f", "-T", str(threads), *extra, "-o", str(arc), str(src)]),
                      ("decompress", [*CLI, "decompress", "-q", "-f", "-T", str(threads), "-o", str(back), str(arc)])]:
        t0 = time.time()
        p = subprocess.Popen(cmd)
        rc, rss = _wait(p)
        dt = time.time() - t0
        out[step] = {"rc": rc, "seconds": round(dt, 1), "kb_per_s": round(src.stat().st_size / 1e3 / dt, 1),
                     "peak_rss_mib": round(rss, 1)}
    out["archive_bytes"] = arc.stat().st_size
    out["bpc"] = round(8 * arc.stat().st_size / src.stat().st_size, 4)
    out["identical"] = back.read_bytes() == src.read_bytes() if src.stat().st_size < 512 * MB else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="20:pipe,200:both",
                    help="input sizes in MB, each with what to run: pipe, files or both")
    ap.add_argument("--fast-from", type=float, default=100, help="use --fast from this size (MB) up")
    ap.add_argument("--threads", type=int, default=0, help="lstmzip -T (0: its default)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "large_input")
    ap.add_argument("--markdown-only", action="store_true", help="rewrite OUT.md from OUT.json")
    args = ap.parse_args()
    if args.markdown_only:
        args.out.with_suffix(".md").write_text(markdown(json.loads(args.out.with_suffix(".json").read_text())))
        return
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
               "python": platform.python_version(), "runs": []}
    with tempfile.TemporaryDirectory(dir=ROOT.parent if os.access(ROOT.parent, os.W_OK) else None) as tmp:
        work = Path(tmp)
        for item in args.sizes.split(","):
            size, _, mode = item.partition(":")
            size_mb, mode = float(size), mode or "both"
            src = work / "input.txt"
            sha = make_input(src, int(size_mb * MB))
            fast = size_mb >= args.fast_from
            run = {"size_mb": size_mb, "bytes": src.stat().st_size, "path": "fast (--fast: LZMA blocks, no LSTM)"
                   if fast else "LSTM (default)"}
            if mode in ("pipe", "both"):
                pipe = run_pipe(src, fast, args.threads)
                pipe["identical"] = pipe["sha256_out"] == sha and pipe["bytes_out"] == run["bytes"]
                run["pipe"] = pipe
            if mode in ("files", "both"):
                run["files"] = run_files(src, work, fast, args.threads)
            results["runs"].append(run)
            print(json.dumps(run), flush=True)
            src.unlink()
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(results))


def markdown(results: dict) -> str:
    lines = ["# Large inputs: peak memory and speed\n", f"Machine: {results['machine']}. Input: the English training "
             "pool (repeated if shorter), streamed through `cat | lstmzip compress -c - | lstmzip decompress -c -` "
             "(three processes joined by pipes, compress and decompress running at once), the output compared byte "
             "for byte; with `both`, compress and decompress were also run one after the other on files, each timed. "
             "Peak RSS is each lstmzip process's own (wait4), torch included.\n",
             "| input | path | pipe: identical | pipe: end to end KB/s | compress peak RSS | decompress peak RSS "
             "| compress KB/s (file) | decompress KB/s (file) | bpc |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results["runs"]:
        p, f = r.get("pipe", {}), r.get("files", {})
        end_to_end = f"{r['bytes'] / 1e3 / p['wall_s']:.1f}" if p else "-"
        rss_c = p.get("compress_peak_rss_mib", f.get("compress", {}).get("peak_rss_mib", "-"))
        rss_d = p.get("decompress_peak_rss_mib", f.get("decompress", {}).get("peak_rss_mib", "-"))
        lines.append(f"| {r['size_mb']:g} MB | {r['path']} | {p.get('identical', '-')} | {end_to_end} | {rss_c} MiB | "
                     f"{rss_d} MiB | {f.get('compress', {}).get('kb_per_s', '-')} | "
                     f"{f.get('decompress', {}).get('kb_per_s', '-')} | {f.get('bpc', '-')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
