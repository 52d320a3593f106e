"""Model files: safetensors holding the integer model, with JSON metadata (docs/DESIGN.md §5).

The model id is the sha256 of the file. Files are checked (format, engine version, tensor
names, shapes and dtypes) before the engine sees them; never unpickled.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from lstmzip.models import fixed_point as fp
from lstmzip.models.config import ModelConfig
from lstmzip.models.errors import ModelError
from lstmzip.models.quantize import QuantizedModel, expected_shapes

FORMAT = "lstmzip-model"
FORMAT_VERSION = 1
MAX_MODEL_BYTES = 512 << 20


@dataclass
class LoadedModel:
    name: str
    sha256: str
    qmodel: QuantizedModel
    meta: dict = field(default_factory=dict)
    size: int = 0
    raw: bytes = field(default=b"", repr=False)  # the file's bytes (what scale-out workers load)


def to_bytes(qm: QuantizedModel, meta: dict) -> bytes:
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "engine_version": fp.ENGINE_VERSION,
              "config": qm.cfg.to_dict(), **meta}
    return save(qm.tensors, metadata={"lstmzip": json.dumps(header, sort_keys=True)})


def from_bytes(data: bytes, name: str = "") -> LoadedModel:
    if len(data) > MAX_MODEL_BYTES:
        raise ModelError(f"model file {name} is too large")
    try:
        tensors = load(data)
        header_len = int.from_bytes(data[:8], "little")
        raw_meta = json.loads(data[8 : 8 + header_len]).get("__metadata__", {})
        meta = json.loads(raw_meta["lstmzip"])
    except (SafetensorError, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"{name or 'model'} is not an lstmzip model file ({e})") from None
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{name}: unsupported model format {meta.get('format')} v{meta.get('format_version')}")
    if meta.get("engine_version") != fp.ENGINE_VERSION:
        raise ModelError(f"{name}: model needs engine version {meta.get('engine_version')}, this is {fp.ENGINE_VERSION}")
    try:
        cfg = ModelConfig.from_dict(meta["config"])
        cfg.validate()
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{name}: bad model config ({e})") from None
    want = expected_shapes(cfg)
    if set(tensors) != set(want):
        raise ModelError(f"{name}: model tensors do not match its config")
    for k, (shape, dtype) in want.items():
        if tuple(tensors[k].shape) != shape or tensors[k].dtype != dtype:
            raise ModelError(f"{name}: tensor {k} has shape {tuple(tensors[k].shape)} {tensors[k].dtype}, want {shape} {dtype}")
    sha = hashlib.sha256(data).hexdigest()
    return LoadedModel(name or meta.get("name", sha[:12]), sha, QuantizedModel(cfg, tensors), meta, len(data), bytes(data))


def read(path: Path, name: str = "") -> LoadedModel:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read model file {path}: {e.strerror}") from None
    return from_bytes(data, name or Path(path).stem)


def write(path: Path, qm: QuantizedModel, meta: dict) -> str:
    data = to_bytes(qm, meta)
    Path(path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()
