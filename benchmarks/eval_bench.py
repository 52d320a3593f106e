"""The headline benchmark: every shipped model and every peer on the eval text files.

    python benchmarks/eval_bench.py [--out benchmarks/results/bench_eval] [--files ...]

Same code path as `lstmzip bench` (each codec and file in its own process, every round trip
verified); writes OUT.json, OUT.md and OUT.png. The README's figures table comes from here.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from eval_files import EVAL, TEXT

from lstmzip import bench, bench_report, peers
from lstmzip.models import registry

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "bench_eval")
    ap.add_argument("--files", nargs="*", default=TEXT, help="paths under the eval corpus")
    ap.add_argument("--models", nargs="*", default=registry.names())
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    cfg = bench.BenchConfig([EVAL / f for f in a.files], a.models, list(peers.NAMES), a.threads)
    report = bench.run(cfg, lambda r: print(f"{r.file}: {r.codec} {r.bpc:.3f} bpc "
                                            f"{r.compress_kbps:.1f}/{r.decompress_kbps:.1f} KB/s", flush=True))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(report.to_json())
    a.out.with_suffix(".md").write_text(bench_report.markdown(report))
    bench_report.plot(report, a.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
