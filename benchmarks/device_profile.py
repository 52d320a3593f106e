"""Where a device-pipeline step spends its time on CUDA: torch.profiler over eager steps of a
batch of blocks (kernels by GPU time, ops by CPU time), then graphs on and off, timed.

    python benchmarks/device_profile.py [--blocks 16] [--steps 128] [--out DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lstmzip.container import Method  # noqa: E402
from lstmzip.engines import engine_for, load_model  # noqa: E402
from lstmzip.stages.coding import decode_blocks, encode_blocks  # noqa: E402
from lstmzip.stages.recipes import RECIPES  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=16)
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--out", type=Path, default=Path("."))
    args = ap.parse_args()
    text = (ROOT / "README.md").read_bytes() + (ROOT / "docs" / "FORMAT.md").read_bytes()
    size = 512 * args.steps
    text = (text * (1 + args.blocks * size // len(text)))[: args.blocks * size]
    blocks = [text[i * size:(i + 1) * size] for i in range(args.blocks)]
    engine = engine_for(load_model("default"), "cuda")
    recipe = RECIPES[Method.LSTM_RANS]
    os.environ["LSTMZIP_CUDA_GRAPHS"] = "0"
    coded = encode_blocks(engine, blocks[:1], [512], recipe)  # warm-up
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        coded = encode_blocks(engine, blocks, [512] * args.blocks, recipe)
        decode_blocks(engine, [c for c, _ in coded], [size] * args.blocks, [512] * args.blocks, recipe)
        torch.cuda.synchronize()
    by_gpu = prof.key_averages().table(sort_by="cuda_time_total", row_limit=30)
    by_cpu = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20)
    print(by_gpu)
    print(by_cpu)
    (args.out / "profile.txt").write_text(by_gpu + "\n\n" + by_cpu)
    for graphs in ("1", "0", "1"):
        os.environ["LSTMZIP_CUDA_GRAPHS"] = graphs
        torch.cuda.synchronize()
        t = time.perf_counter()
        coded = encode_blocks(engine, blocks, [512] * args.blocks, recipe)
        torch.cuda.synchronize()
        enc = time.perf_counter() - t
        t = time.perf_counter()
        back = decode_blocks(engine, [c for c, _ in coded], [size] * args.blocks, [512] * args.blocks, recipe)
        torch.cuda.synchronize()
        dec = time.perf_counter() - t
        print(f"graphs={graphs}: encode {1e3 * enc / args.steps:.2f} ms/step, decode {1e3 * dec / args.steps:.2f} "
              f"ms/step, round trip {back == blocks}", flush=True)


if __name__ == "__main__":
    main()
