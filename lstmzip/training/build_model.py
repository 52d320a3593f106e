"""Turn a float training run into a shipped model: float weights + integer model file.

    python -m lstmzip.training.build_model runs/default/float.safetensors --name default

Writes models/float_weights/NAME.safetensors and models/weights/NAME.lstmzm, measures float
and integer bpc on the run's validation text (held-out training documents), and prints the
sha256 to put in models/registry.py.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import lzma
from pathlib import Path

import torch
from safetensors.torch import load_file

from lstmzip.training.measure import compare
from lstmzip.models import float_weights, model_file
from lstmzip.models.config import ModelConfig
from lstmzip.models.float_lstm import FloatLSTM
from lstmzip.models.int_engine import IntegerLSTM
from lstmzip.models.quantize import quantize
from lstmzip.models.registry import WEIGHTS_DIR


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", type=Path, help="float state dict (safetensors) from a training run")
    ap.add_argument("--name", required=True)
    ap.add_argument("--run-dir", type=Path, help="training run folder (ckpt.json, log.csv); default: beside weights")
    ap.add_argument("--val-bytes", type=int, default=65536)
    ap.add_argument("--description", default="")
    ap.add_argument("--command", default="", help="the training command(s) to record (default: made from the run's config)")
    a = ap.parse_args()
    run = a.run_dir or a.weights.parent
    meta_run = json.loads((run / "ckpt.json").read_text()) if (run / "ckpt.json").exists() else {}
    cfg = ModelConfig.from_dict(meta_run.get("config", {}).get("model", ModelConfig().to_dict()))
    model = FloatLSTM(cfg)
    model.load_state_dict(load_file(a.weights))
    qm = quantize(model)

    from lstmzip.training.loop import build_corpus

    pools = Path(__file__).resolve().parents[3] / "shared/corpora/train"
    seed = meta_run.get("config", {}).get("seed", 1234)
    _, val = build_corpus(pools, seed, a.val_bytes)
    figures = compare(model, IntegerLSTM(qm), bytes(val), streams=4)
    print(json.dumps(figures, indent=1))

    run_cfg = meta_run.get("config", {})
    # a run that continued an earlier one's weights (--init-from, --start-step) counts its steps too
    steps = (meta_run.get("step") or 0) + run_cfg.get("start_step", 0)

    def sha(p: Path) -> str:
        return hashlib.sha256(lzma.open(p).read()).hexdigest()

    training = {
        "corpus": "shared/corpora/train english.txt.xz (98% of books; 2% held out for validation) "
                  "+ python.txt.xz (~1/12 of the English bytes, half re-indented with tabs) "
                  "+ logs.txt.xz (~1/50); 4% of documents with CRLF line endings",
        "steps": steps,
        "characters": steps * run_cfg.get("streams", 0) * run_cfg.get("seq_len", 0),
        "command": a.command or "python -m lstmzip.training.loop " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in [("steps", run_cfg.get("steps"))]),
        "best_val_bpc_during_training": meta_run.get("best_val"),
        "pool_sha256_raw": {p: sha(pools / f"{p}.txt.xz") for p in ("english", "python", "logs")},
    }
    meta = {"name": a.name, "description": a.description, "training": training,
            "validation": figures}
    float_weights.FLOAT_DIR.mkdir(exist_ok=True)
    float_weights.save_float(model, float_weights.FLOAT_DIR / f"{a.name}.safetensors", {"training": training})
    digest = model_file.write(WEIGHTS_DIR / f"{a.name}.lstmzm", qm, meta)
    print(f"{a.name}: sha256 {digest}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
