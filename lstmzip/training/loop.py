"""A small, readable training loop (truncated BPTT with state carried across batches).

Run as a module to train the shipped default model:
    python -m lstmzip.training.loop --out runs/default --steps 8000
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from lstmzip.training import corpus
from lstmzip.models.config import ModelConfig
from lstmzip.models.float_lstm import FloatLSTM

LN2 = math.log(2.0)


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    streams: int = 128  # batch: parallel streams, each a contiguous walk through the corpus
    seq_len: int = 128  # truncated BPTT length
    steps: int = 8000
    lr: float = 2e-3
    min_lr_ratio: float = 0.05
    warmup: int = 200
    weight_decay: float = 0.01
    clip: float = 5.0
    seed: int = 1234
    threads: int = 2
    checkpoint_every_s: float = 300.0
    eval_every: int = 250
    val_bytes: int = 1 << 20
    # Each batch, a stream's state is zeroed with this probability, so the model learns to
    # start cold: every stream of a compressed file begins from the zero state.
    reset_prob: float = 1 / 64
    # A run continuing an earlier one (warm restart from its weights) starts each stream's
    # walk where that run's walk ended, so it reads the corpus on instead of re-reading it.
    start_step: int = 0


class BatchStream:
    """S cursors spread evenly over the corpus; each batch advances every cursor by seq_len."""

    def __init__(self, data: np.ndarray, streams: int, seq_len: int, positions=None):
        self.data = torch.from_numpy(data.astype(np.int64))
        self.n, self.seq_len = len(data), seq_len
        step = self.n // streams
        self.pos = np.array(positions if positions is not None else [i * step for i in range(streams)])

    def next(self):
        idx = (self.pos[:, None] + np.arange(self.seq_len + 1)[None, :]) % self.n
        chunk = self.data[torch.from_numpy(idx)]
        self.pos = (self.pos + self.seq_len) % self.n
        return chunk[:, :-1], chunk[:, 1:]


@torch.no_grad()
def evaluate(model: FloatLSTM, data: np.ndarray, streams: int = 32, seq_len: int = 256, device="cpu") -> float:
    """bpc on `data`, streamed in `streams` contiguous pieces with state carried."""
    model.eval()
    streams = max(1, min(streams, len(data) // (seq_len + 1)))
    n = (len(data) // streams // seq_len) * seq_len
    x_all = torch.from_numpy(data[: n * streams].astype(np.int64)).view(streams, n).to(device)
    state, total, count = None, 0.0, 0
    for t in range(0, n - 1, seq_len):
        x = x_all[:, t : t + seq_len]
        y = x_all[:, t + 1 : t + seq_len + 1]
        x = x[:, : y.shape[1]]
        logits, state = model(x, state)
        total += torch.nn.functional.cross_entropy(logits.reshape(-1, 256), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.train()
    return total / count / LN2


def build_corpus(pools: Path, seed: int, val_bytes: int):
    """English books plus a little code and logs, augmented (see corpus.AugmentConfig)."""
    english = corpus.read_pool(pools / "english.txt.xz")
    train_en, val_en = corpus.split_documents(english, 0.02, seed)
    aug = corpus.AugmentConfig()
    train_docs = corpus.augment(train_en, aug, seed)
    en_bytes = sum(len(d.data) for d in train_docs)
    python = corpus.read_pool(pools / "python.txt.xz")
    logs = corpus.read_pool(pools / "logs.txt.xz")
    train_docs += corpus.augment(corpus.take_bytes(python, en_bytes // 12, seed), aug, seed + 1, code=True)
    train_docs += corpus.augment(corpus.take_bytes(logs, en_bytes // 50, seed), aug, seed + 2)
    train = corpus.concatenate(train_docs, seed)
    val = corpus.concatenate(val_en, seed)[:val_bytes]
    return train, val


def optimizer_tensors(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for i, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"{i}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return out


def load_optimizer_tensors(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    sd = opt.state_dict()
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        i, k = key.split(".", 1)
        state.setdefault(int(i), {})[k] = v
    sd["state"] = state
    opt.load_state_dict(sd)


def save_checkpoint(out: Path, model, opt, step: int, stream: BatchStream, cfg: TrainConfig, extra: dict,
                    state=None) -> None:
    """Weights, optimiser state and the carried LSTM state as safetensors, the rest as JSON;
    written then renamed (the JSON last: it is what marks a checkpoint complete)."""
    out.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), out / "ckpt.model.safetensors.tmp")
    save_file(optimizer_tensors(opt), out / "ckpt.optim.safetensors.tmp")
    carried = {f"{i}.{k}": t.detach().cpu().contiguous() for i, hc in enumerate(state or []) for k, t in zip("hc", hc)}
    save_file(carried, out / "ckpt.state.safetensors.tmp")
    meta = {"step": step, "positions": stream.pos.tolist(), "config": asdict(cfg),
            "torch_rng": torch.get_rng_state().tolist(), **extra}
    (out / "ckpt.json.tmp").write_text(json.dumps(meta))
    for name in ("ckpt.model.safetensors", "ckpt.optim.safetensors", "ckpt.state.safetensors", "ckpt.json"):
        os.replace(out / (name + ".tmp"), out / name)


@dataclass
class FitResult:
    float_path: Path  # the best weights seen (by validation bpc), safetensors
    steps: int
    best_val: float
    last_train: float
    elapsed_s: float
    stopped: str  # "steps", "time budget", "early stop", "interrupted"


def lr_at_fraction(frac: float, step: int, cfg: TrainConfig) -> float:
    """Warm-up by steps, then cosine decay over `frac` (0..1) of the run (time or steps)."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, max(0.0, frac))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def fit(cfg: TrainConfig, train_data: np.ndarray, val_data: np.ndarray, out: Path, resume: bool = False,
        init: FloatLSTM | None = None, time_budget: float | None = None, patience: int = 0,
        device: str = "cpu", on_eval=None, on_step=None) -> FitResult:
    """Train a FloatLSTM on `train_data`, validating on `val_data`; checkpoints in `out`.

    With `time_budget` (seconds) the cosine decay runs over time instead of steps (cfg.steps
    still caps the run). `patience` > 0 stops after that many evaluations without a new best.
    Checkpoints every cfg.checkpoint_every_s and on SIGINT/SIGTERM; `resume` continues from
    out/ckpt.* with the same data order, RNG and schedule (exact for step-based runs).
    """
    dev = torch.device(device)
    torch.manual_seed(cfg.seed)
    model = init if init is not None else FloatLSTM(cfg.model)
    model.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
    stream = BatchStream(train_data, cfg.streams, cfg.seq_len)
    stream.pos = (stream.pos + cfg.start_step * cfg.seq_len) % stream.n
    step, best_val, bad_evals, elapsed_before = 0, float("inf"), 0, 0.0
    resumed_state = None
    out.mkdir(parents=True, exist_ok=True)
    if resume:
        meta = json.loads((out / "ckpt.json").read_text())
        model.load_state_dict(load_file(out / "ckpt.model.safetensors"))
        load_optimizer_tensors(opt, load_file(out / "ckpt.optim.safetensors"))
        step, best_val = meta["step"], meta.get("best_val", best_val)
        bad_evals, elapsed_before = meta.get("bad_evals", 0), meta.get("elapsed_s", 0.0)
        stream = BatchStream(train_data, cfg.streams, cfg.seq_len, meta["positions"])
        torch.set_rng_state(torch.tensor(meta["torch_rng"], dtype=torch.uint8))
        carried = load_file(out / "ckpt.state.safetensors") if (out / "ckpt.state.safetensors").exists() else {}
        if carried:
            resumed_state = [(carried[f"{i}.h"].to(dev), carried[f"{i}.c"].to(dev)) for i in range(cfg.model.layers)]
    best_path = out / "best.safetensors"
    if not best_path.exists():
        save_file(model.state_dict(), best_path)
    log_path = out / "log.csv"
    new_log = not log_path.exists() or step == 0
    log = open(log_path, "w" if new_log else "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "chars", "lr", "train_bpc", "val_bpc", "elapsed_s"])
    stop = {"why": ""}
    handler = lambda *_: stop.update(why="interrupted")  # noqa: E731
    old = [signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)]
    state = resumed_state
    t0 = last_ckpt = time.time()
    run_loss, run_n, last_train = 0.0, 0, float("nan")

    def elapsed() -> float:
        return elapsed_before + time.time() - t0

    def checkpoint() -> None:
        save_checkpoint(out, model, opt, step, stream, cfg, {"best_val": best_val, "bad_evals": bad_evals,
                                                           "elapsed_s": elapsed()}, state)

    try:
        while not stop["why"]:
            if step >= cfg.steps:
                stop["why"] = "steps"
                break
            if time_budget and elapsed() >= time_budget:
                stop["why"] = "time budget"
                break
            frac = elapsed() / time_budget if time_budget else (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
            lr = lr_at_fraction(frac, step, cfg)
            for g in opt.param_groups:
                g["lr"] = lr
            x, y = stream.next()
            x, y = x.to(dev), y.to(dev)
            if state is None:
                state = model.initial_state(cfg.streams, dev)
            logits, state = model(x, state)
            keep = (torch.rand(cfg.streams) >= cfg.reset_prob).float().view(1, -1, 1).to(dev)
            state = [(h.detach() * keep, c.detach() * keep) for h, c in state]
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 256), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            opt.step()
            step += 1
            run_loss += loss.item()
            run_n += 1
            if on_step:
                on_step(step, elapsed())
            if step % cfg.eval_every == 0 or step == cfg.steps:
                val = evaluate(model, val_data, device=dev)
                last_train = run_loss / run_n / LN2
                run_loss, run_n = 0.0, 0
                if val < best_val:
                    best_val, bad_evals = val, 0
                    save_file(model.state_dict(), best_path)
                else:
                    bad_evals += 1
                writer.writerow([step, step * cfg.streams * cfg.seq_len, f"{lr:.6f}", f"{last_train:.4f}",
                                 f"{val:.4f}", f"{elapsed():.0f}"])
                log.flush()
                if on_eval:
                    on_eval(step, last_train, val, elapsed())
                if patience and bad_evals >= patience:
                    stop["why"] = "early stop"
            if time.time() - last_ckpt > cfg.checkpoint_every_s:
                checkpoint()
                last_ckpt = time.time()
    finally:
        checkpoint()
        log.close()
        for sig, h in zip((signal.SIGINT, signal.SIGTERM), old):
            signal.signal(sig, h)
    if best_val == float("inf"):  # stopped before the first evaluation: use what there is
        save_file(model.state_dict(), best_path)
    return FitResult(best_path, step, best_val, last_train, elapsed(), stop["why"])


def train(cfg: TrainConfig, pools: Path, out: Path, resume: bool = False, init_from: Path | None = None,
          time_budget: float | None = None) -> Path:
    """The shipped default model's run: English pools plus a little code and logs.

    `init_from`: float weights (safetensors) to start from instead of random ones, e.g. the
    shipped default's, with cfg.start_step set to the steps they were trained for."""
    torch.set_num_threads(cfg.threads)
    train_data, val_data = build_corpus(pools, cfg.seed, cfg.val_bytes)
    print(f"corpus: train {len(train_data):,} bytes, validation {len(val_data):,} bytes", flush=True)
    init = None
    if init_from is not None:
        init = FloatLSTM(cfg.model)
        init.load_state_dict(load_file(init_from))
    res = fit(cfg, train_data, val_data, out, resume and (out / "ckpt.json").exists(), init=init,
              time_budget=time_budget, on_eval=lambda st, tr, val, el: print(f"step {st} train {tr:.4f} val {val:.4f} ({el:.0f}s)", flush=True))
    return res.float_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pools", type=Path, default=Path(__file__).resolve().parents[3] / "shared/corpora/train")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--streams", type=int, default=128)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (not part of the schedule: resumable with another count)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init-from", type=Path, help="float weights to continue from (a warm restart)")
    ap.add_argument("--start-step", type=int, default=0,
                    help="steps the --init-from weights were trained for: the data walk goes on from there")
    ap.add_argument("--time-budget", type=float, help="seconds; the cosine decay runs over time (--steps caps it)")
    a = ap.parse_args()
    cfg = TrainConfig(model=ModelConfig(a.layers, a.hidden, a.embed), streams=a.streams, seq_len=a.seq_len,
                      steps=a.steps, lr=a.lr, warmup=a.warmup, start_step=a.start_step,
                      threads=a.threads)
    train(cfg, a.pools, a.out, a.resume, a.init_from, a.time_budget)


if __name__ == "__main__":
    main()
