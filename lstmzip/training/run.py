"""`lstmzip train` as a function: corpus in, quantised model file (and its float weights,
training log and loss curve) out, with a report of float vs integer bpc beside xz and bzip2.

Files next to MODEL (e.g. code.lstmzm):
  code.lstmzm                 the integer model (what compress --model code.lstmzm uses)
  code.float.safetensors      float weights (fine-tune again with --init-from)
  code.log.csv, code.png      the training log and loss curve
  code.run/                   checkpoints (resume with --resume code.run)
"""
from __future__ import annotations

import bz2
import json
import lzma
import random
import shlex
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from lstmzip.errors import LstmzipError
from lstmzip.training import sources
from lstmzip.training.corpus import concatenate, split_documents
from lstmzip.training.loop import FitResult, TrainConfig, fit
from lstmzip.models.config import ModelConfig

MIN_VAL_BYTES = 4096
MEASURE_BYTES = 65536  # validation bytes the float/integer/xz/bzip2 comparison runs on
EVAL_BYTES = 256 << 10  # validation bytes evaluated during training (keeps evaluations cheap)


@dataclass
class TrainOptions:
    layers: int = 2
    hidden: int = 256
    embed: int = 64
    seq_len: int = 128
    batch: int = 128  # parallel streams per step
    lr: float = 2e-3
    steps: int = 0  # 0: no step limit (then a time budget is needed)
    time_budget: float = 0.0  # seconds; 0: none
    val_fraction: float = 0.05
    seed: int = 1234
    device: str = "auto"
    init_from: str | None = None
    resume: Path | None = None
    quantize: bool = True
    patience: int = 8  # evaluations without a new best before stopping early; 0: never
    eval_every: int = 100
    checkpoint_every_s: float = 180.0
    name: str = ""
    command: str = field(default_factory=lambda: " ".join(shlex.quote(a) for a in sys.argv))


@dataclass
class TrainReport:
    model_path: Path | None
    float_path: Path
    steps: int
    elapsed_s: float
    stopped: str
    train_bytes: int
    val_bytes: int
    best_val_bpc: float
    float_bpc: float | None = None
    int_bpc: float | None = None
    ratio: float | None = None
    xz_bpc: float | None = None
    bzip2_bpc: float | None = None
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model_path"] = str(self.model_path) if self.model_path else None
        d["float_path"] = str(self.float_path)
        return d


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise LstmzipError("--device cuda: no CUDA GPU is available to torch here")
    if device not in ("cpu", "cuda"):
        raise LstmzipError(f"--device must be auto, cpu or cuda, not '{device}'")
    return device


def load_init(name: str):
    """Float weights to start from: a shipped model's name, or a float .safetensors file."""
    from lstmzip.models import float_weights, registry
    from lstmzip.models.errors import ModelError

    try:
        if name in registry.SHIPPED:
            return float_weights.load_float(name)
        path = Path(name)
        if path.suffix == ".lstmzm":
            float_path = path.with_name(path.name[: -len(".lstmzm")] + ".float.safetensors")
            if float_path.exists():
                return float_weights.read_float(float_path)
            raise LstmzipError(f"--init-from {name}: an integer model cannot be trained; give its float weights "
                               f"({float_path.name} was not found beside it)")
        if not path.is_file():
            raise LstmzipError(f"--init-from {name}: no shipped model or file of that name")
        return float_weights.read_float(path)
    except ModelError as e:
        raise LstmzipError(str(e)) from None


def inherited_methods(init_from: str | None) -> dict[str, int]:
    """The block methods a trained model codes with (registry.METHOD_KEYS, those it names): the
    ones of the model it was fine-tuned from (a shipped model's, or those a model file records),
    else the default model's."""
    from lstmzip.engines import load_model, model_methods
    from lstmzip.models import registry

    methods = registry.SHIPPED[registry.DEFAULT_MODEL].methods  # float weights, or from scratch
    if init_from in registry.SHIPPED or (init_from or "").endswith(".lstmzm"):
        try:
            methods = model_methods(load_model(init_from))
        except LstmzipError:  # an unreadable file, or one that asks for an unknown method
            pass
    return {key: int(m) for key, m in methods.items() if m is not None}


def inherited_method(init_from: str | None) -> int:
    """The block method of a trained model's blocks (inherited_methods)."""
    return inherited_methods(init_from)["block_method"]


def split(corpus: sources.Corpus, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Whole documents for validation; a single document gives its last `fraction` instead."""
    docs = corpus.documents
    if len(docs) >= 2:
        train_docs, val_docs = split_documents(docs, fraction, seed)
        if train_docs:
            return concatenate(train_docs, seed), concatenate(val_docs, seed), f"{len(val_docs)} whole documents"
    data = np.frombuffer(b"\n\n".join(d.data for d in docs), dtype=np.uint8).copy()
    cut = int(len(data) * (1 - fraction))
    return data[:cut], data[cut:], "the last part of the only document"


def _compare(model, val: bytes) -> dict:
    from lstmzip.training.measure import float_bits, int_bits
    from lstmzip.models.int_engine import IntegerLSTM
    from lstmzip.models.quantize import quantize

    qm = quantize(model.cpu())
    fb = float_bits(model, val, streams=4)
    ib = int_bits(IntegerLSTM(qm), val, streams=4)
    n = len(val)
    return {"bytes": n, "float_bpc": fb / n, "int_bpc": ib / n, "ratio": ib / fb,
            "xz9e_bpc": 8 * len(lzma.compress(val, preset=9 | lzma.PRESET_EXTREME)) / n,
            "bzip2_9_bpc": 8 * len(bz2.compress(val, 9)) / n}, qm


def plot_log(log_csv: Path, png: Path, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    import csv

    rows = list(csv.DictReader(open(log_csv)))
    if not rows:
        return
    chars = [int(r["chars"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(chars, [float(r["train_bpc"]) for r in rows], label="train")
    ax.plot(chars, [float(r["val_bpc"]) for r in rows], label="validation")
    ax.set_xlabel("characters trained")
    ax.set_ylabel("bpc (float model)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def train(corpus_paths: list[Path], out: Path, opts: TrainOptions,
          on_eval: Callable | None = None, on_step: Callable | None = None) -> TrainReport:
    """Train a model on `corpus_paths` and write it to `out` (see the module docstring)."""
    from lstmzip.models import float_weights, model_file

    out = Path(out)
    if out.suffix != ".lstmzm":
        raise LstmzipError(f"{out}: the model file name must end in .lstmzm")
    if not out.parent.exists():
        raise LstmzipError(f"{out.parent}: no such directory")
    if not opts.steps and not opts.time_budget:
        raise LstmzipError("give --steps or --time-budget (or both)")
    if not 0 < opts.val_fraction < 1:
        raise LstmzipError("--val-fraction must be between 0 and 1")
    device = resolve_device(opts.device)
    init = load_init(opts.init_from) if opts.init_from else None  # bad arguments fail before reading
    corpus = sources.read_corpus(corpus_paths)
    if not corpus.documents:
        why = f" ({len(corpus.skipped)} skipped: {'; '.join(corpus.skipped[:3])})" if corpus.skipped else ""
        raise LstmzipError(f"the corpus holds no text to train on{why}")
    train_data, val_data, how = split(corpus, opts.val_fraction, opts.seed)
    if len(train_data) < opts.seq_len + 1:
        raise LstmzipError(f"the corpus is shorter than one training sequence ({len(train_data)} training bytes, "
                           f"--seq-len {opts.seq_len})")
    if len(val_data) < MIN_VAL_BYTES:
        raise LstmzipError(f"validation text is only {len(val_data)} bytes ({how}); give more text or a larger "
                           f"--val-fraction (at least {MIN_VAL_BYTES} bytes are needed)")
    model_cfg = init.cfg if init is not None else ModelConfig(opts.layers, opts.hidden, opts.embed)
    try:
        model_cfg.validate()
    except ValueError as e:
        raise LstmzipError(str(e)) from None
    streams = max(1, min(opts.batch, len(train_data) // (opts.seq_len + 1)))
    cfg = TrainConfig(model=model_cfg, streams=streams, seq_len=opts.seq_len, steps=opts.steps or 10**12,
                      lr=opts.lr, seed=opts.seed, warmup=min(200, max(1, (opts.steps or 2000) // 10)),
                      eval_every=opts.eval_every, checkpoint_every_s=opts.checkpoint_every_s)
    run_dir = opts.resume or out.with_name(out.name[: -len(".lstmzm")] + ".run")
    resume = opts.resume is not None
    if resume:
        meta_path = Path(run_dir) / "ckpt.json"
        if not meta_path.exists():
            raise LstmzipError(f"--resume {run_dir}: no checkpoint there (ckpt.json missing)")
        saved = json.loads(meta_path.read_text())["config"]["model"]
        if ModelConfig.from_dict(saved) != model_cfg:
            raise LstmzipError(f"--resume {run_dir}: the checkpoint is a {saved['layers']} x {saved['hidden']} "
                               f"(embed {saved['embed']}) model, not {model_cfg.layers} x {model_cfg.hidden} "
                               f"(embed {model_cfg.embed})")
    torch.manual_seed(opts.seed)
    random.seed(opts.seed)
    res: FitResult = fit(cfg, train_data, val_data[:EVAL_BYTES], Path(run_dir), resume=resume, init=init,
                         time_budget=opts.time_budget or None, patience=opts.patience, device=device,
                         on_eval=on_eval, on_step=on_step)
    from lstmzip.models.float_lstm import FloatLSTM
    from safetensors.torch import load_file

    model = FloatLSTM(model_cfg)
    model.load_state_dict(load_file(res.float_path))
    stem = out.name[: -len(".lstmzm")]
    float_out = out.with_name(stem + ".float.safetensors")
    log_out = out.with_name(stem + ".log.csv")
    shutil.copyfile(Path(run_dir) / "log.csv", log_out)
    plot_log(log_out, out.with_name(stem + ".png"), f"lstmzip train: {stem}")
    training = {"command": opts.command, "corpus": corpus.describe(), "validation_split": how,
                "train_bytes": int(len(train_data)), "val_bytes": int(len(val_data)), "steps": res.steps,
                "elapsed_s": round(res.elapsed_s, 1), "stopped": res.stopped, "best_val_bpc": res.best_val,
                "config": {**asdict(cfg), "model": model_cfg.to_dict()}, "device": device,
                "init_from": opts.init_from}
    float_weights.save_float(model, float_out, {"training": training})
    report = TrainReport(None, float_out, res.steps, res.elapsed_s, res.stopped, int(len(train_data)),
                         int(len(val_data)), res.best_val, skipped=corpus.skipped)
    if not opts.quantize:
        return report
    figures, qm = _compare(model, bytes(val_data[:MEASURE_BYTES]))
    from lstmzip import __version__

    meta = {"name": opts.name or stem, "description": f"trained with lstmzip train on {len(corpus.files)} file(s)",
            "library_version": __version__, "training": training, "validation": figures,
            **inherited_methods(opts.init_from)}
    model_file.write(out, qm, meta)
    report.model_path = out
    report.float_bpc, report.int_bpc, report.ratio = figures["float_bpc"], figures["int_bpc"], figures["ratio"]
    report.xz_bpc, report.bzip2_bpc = figures["xz9e_bpc"], figures["bzip2_9_bpc"]
    return report


def train_api(corpus, out, **options) -> TrainReport:
    """`lstmzip.train(corpus, "my.lstmzm", steps=2000, ...)`: options are TrainOptions' fields.
    Returns the report; report.model_path is the model file."""
    paths = [corpus] if isinstance(corpus, (str, Path)) else list(corpus)
    options.setdefault("command", f"lstmzip.train({paths!r}, {str(out)!r}, **{options!r})")
    return train([Path(p) for p in paths], Path(out), TrainOptions(**options))
