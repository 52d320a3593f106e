"""Host-side costs behind the scale-out estimate (benchmarks/results/scaleout.md):

1. What a worker's CPU does per coded byte besides the LSTM: the context bias, the match model
   and the range coder, per step of a 4 MiB block (512 streams). On a GPU worker these run on
   the host beside the GPU's LSTM steps, so they cap one worker's throughput however fast the
   GPU is.
2. How fast lstmzip hands 4 MiB blocks to its Ray driver process (lstmzip.frames over a pipe):
   every byte of the input goes that way on the machine that runs lstmzip.

    python benchmarks/host_costs.py [--steps 1500] [--out benchmarks/results/host_costs.json]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "corpora" / "eval"
_ECHO = """
import sys
from lstmzip.frames import FrameWriter, read_frame
out = FrameWriter(sys.stdout.buffer)
while (msg := read_frame(sys.stdin.buffer)) is not None:
    out.send(len(msg[1]))
"""


def pipe_mb_per_s(blocks: int = 64, size: int = 4 << 20) -> float:
    """4 MiB blocks through FrameWriter and a pipe to a child that answers with their length."""
    from lstmzip.frames import FrameWriter, read_frame

    child = subprocess.Popen([sys.executable, "-c", _ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, block = FrameWriter(child.stdin), bytes(range(256)) * (size // 256)
    t0 = time.perf_counter()
    for i in range(blocks):
        out.send(("job", block))
        assert read_frame(child.stdout) == size
    elapsed = time.perf_counter() - t0
    child.stdin.close()
    child.wait()
    return blocks * size / elapsed / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--streams", type=int, default=512)
    ap.add_argument("--eval", type=Path, default=EVAL)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "host_costs.json")
    args = ap.parse_args()
    torch.set_num_threads(1)

    from lstmzip.codec.range_coder import Encoder
    from lstmzip.engines import engine_for, load_model
    from lstmzip.pipeline import _stream_matrix
    from lstmzip.stages.host.context_bias import ContextBias
    from lstmzip.stages.host.match_model import MatchModel

    S = args.streams
    text = (args.eval / "large" / "bible.txt").read_bytes()[: S * args.steps]
    mat, base, extra = _stream_matrix(text, S)
    engine = engine_for(load_model("default"))
    # One real step's logits, reused: the stages' cost does not depend on the values.
    logits, _ = engine.step_logits(engine.start_bytes(S), engine.initial_state(S))
    t_lstm0 = time.perf_counter()
    state = engine.initial_state(S)
    x = engine.start_bytes(S)
    for t in range(20):
        _, state = engine.step_logits(x, state)
        x = torch.from_numpy(mat[:, t].astype(np.int64))
    lstm_step = (time.perf_counter() - t_lstm0) / 20

    bias, match, enc = ContextBias(S, engine.lut_exp), MatchModel(S, mat.shape[1], base + (np.arange(S) < extra)), Encoder()
    times = {"context_bias": 0.0, "match_model": 0.0, "range_coder": 0.0}
    for t in range(mat.shape[1]):
        sym = mat[:, t].astype(np.int64)
        t0 = time.perf_counter()
        f = bias.freqs(logits)
        t1 = time.perf_counter()
        f = match.adjust(f)
        t2 = time.perf_counter()
        enc.encode(sym, f)
        t3 = time.perf_counter()
        bias.update(sym)
        t4 = time.perf_counter()
        match.update(t, sym)
        t5 = time.perf_counter()
        times["context_bias"] += (t1 - t0) + (t4 - t3)
        times["match_model"] += (t2 - t1) + (t5 - t4)
        times["range_coder"] += t3 - t2
    enc.finish()
    steps = mat.shape[1]
    per_step = {k: v / steps * 1e6 for k, v in times.items()}
    total = sum(per_step.values())
    res = {"streams": S, "steps": steps, "us_per_step": {k: round(v, 1) for k, v in per_step.items()},
           "cpu_stages_us_per_step": round(total, 1), "cpu_stages_MB_per_s": round(S / total, 3),
           "lstm_cpu_us_per_step": round(lstm_step * 1e6, 1), "lstm_cpu_MB_per_s": round(S / (lstm_step * 1e6), 3),
           "driver_pipe_MB_per_s": round(pipe_mb_per_s(), 1),
           "note": "one core, torch 1 thread; MB/s = streams bytes per step / time per step; "
                   "driver pipe: 4 MiB frames, one at a time, each answered"}
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
