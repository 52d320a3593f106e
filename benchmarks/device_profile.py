"""Where a device-pipeline step spends its time on CUDA: torch.profiler over eager steps of a
batch of blocks (kernels by GPU time, ops by CPU time), then graphs on and off, timed.

    python benchmarks/device_profile.py [--blocks 16] [--streams 512] [--steps 128] [--method 10] [--out DIR]

(The 100 MB run of the device check codes 24 blocks of 2,048 streams: --blocks 24 --streams 2048.)
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
    ap.add_argument("--streams", type=int, default=512, help="streams a block")
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--method", type=int, default=int(Method.LSTM_RANS), help="a device-stage block method")
    ap.add_argument("--out", type=Path, default=Path("."))
    ap.add_argument("--device", default="cuda", help="cuda; cpu only to try the script out")
    args = ap.parse_args()
    cuda = args.device == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    text = (ROOT / "README.md").read_bytes() + (ROOT / "docs" / "FORMAT.md").read_bytes()
    size = args.streams * args.steps
    text = (text * (1 + args.blocks * size // len(text)))[: args.blocks * size]
    blocks = [text[i * size:(i + 1) * size] for i in range(args.blocks)]
    engine = engine_for(load_model("default"), args.device)
    recipe = RECIPES[Method(args.method)]
    os.environ["LSTMZIP_CUDA_GRAPHS"] = "0"
    coded = encode_blocks(engine, blocks[:1], [args.streams], recipe)  # warm-up
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])) as prof:
        coded = encode_blocks(engine, blocks, [args.streams] * args.blocks, recipe)
        decode_blocks(engine, [c for c, _ in coded], [size] * args.blocks, [args.streams] * args.blocks, recipe)
        sync()
    by_gpu = prof.key_averages().table(sort_by="cuda_time_total" if cuda else "cpu_time_total", row_limit=30)
    by_cpu = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20)
    print(by_gpu)
    print(by_cpu)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "profile.txt").write_text(by_gpu + "\n\n" + by_cpu)
    for graphs in ("1", "0", "1"):
        os.environ["LSTMZIP_CUDA_GRAPHS"] = graphs
        sync()
        t = time.perf_counter()
        coded = encode_blocks(engine, blocks, [args.streams] * args.blocks, recipe)
        sync()
        enc = time.perf_counter() - t
        t = time.perf_counter()
        back = decode_blocks(engine, [c for c, _ in coded], [size] * args.blocks, [args.streams] * args.blocks, recipe)
        sync()
        dec = time.perf_counter() - t
        print(f"graphs={graphs}: encode {1e3 * enc / args.steps:.2f} ms/step, decode {1e3 * dec / args.steps:.2f} "
              f"ms/step, round trip {back == blocks}", flush=True)


if __name__ == "__main__":
    main()
