"""Float weights behind each shipped model (for fine-tuning and re-quantising), safetensors."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from lstmzip.models.config import ModelConfig
from lstmzip.models.errors import ModelError
from lstmzip.models.float_lstm import FloatLSTM

FLOAT_DIR = Path(__file__).resolve().parent / "float_weights"


def save_float(model: FloatLSTM, path: Path, meta: dict | None = None) -> None:
    header = {"config": model.cfg.to_dict(), **(meta or {})}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path),
              metadata={"lstmzip_float": json.dumps(header, sort_keys=True)})


def read_float(path: Path) -> FloatLSTM:
    try:
        with safe_open(str(path), framework="pt") as f:
            header = json.loads(f.metadata()["lstmzip_float"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, KeyError, ValueError) as e:
        raise ModelError(f"cannot read float weights {path}: {e}") from None
    model = FloatLSTM(ModelConfig.from_dict(header["config"]))
    model.load_state_dict(tensors)
    return model


def load_float(name: str) -> FloatLSTM:
    path = FLOAT_DIR / f"{name}.safetensors"
    if not path.exists():
        raise ModelError(f"no float weights for model '{name}'")
    return read_float(path)
