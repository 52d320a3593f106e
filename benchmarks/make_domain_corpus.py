"""Split a training pool into a training folder and a few held-out whole files, as a user's
corpus would look (one file per document): the input of `lstmzip train` for the shipped
domain models, and the held-out files of benchmarks/domain_heldout.py.

    python benchmarks/make_domain_corpus.py python runs/python_corpus runs/python_heldout
    lstmzip train runs/python_corpus -o runs/python.lstmzm --init-from default --time-budget 1800 \
        --val-fraction 0.01 -T 2
    python benchmarks/domain_heldout.py --model runs/python.lstmzm --files runs/python_heldout/* \
        --out benchmarks/results/domain_python
    (logs: --heldout 8 --min-heldout-bytes 20000, and --time-budget 600)
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

from lstmzip.training import corpus

POOLS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "train"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pool", help="python or logs")
    ap.add_argument("train_dir", type=Path)
    ap.add_argument("heldout_dir", type=Path)
    ap.add_argument("--heldout", type=int, default=12, help="whole files kept out of training")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--min-heldout-bytes", type=int, default=0, help="only hold out files at least this big")
    a = ap.parse_args()
    docs = corpus.read_pool(POOLS / f"{a.pool}.txt.xz")
    random.Random(a.seed).shuffle(docs)
    big = [d for d in docs if len(d.data) >= a.min_heldout_bytes]
    held = big[: a.heldout]
    rest = [d for d in docs if not any(d is h for h in held)]
    for folder, part in ((a.heldout_dir, held), (a.train_dir, rest)):
        folder.mkdir(parents=True, exist_ok=True)
        for i, d in enumerate(part):
            (folder / f"{i:05d}_{Path(d.name).name}").write_bytes(d.data)
    print(f"{len(held)} held out ({sum(len(d.data) for d in held):,} bytes), {len(rest)} for training")


if __name__ == "__main__":
    main()
