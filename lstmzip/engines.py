"""Model resolution and engine construction (cached per model and device)."""
from __future__ import annotations

import dataclasses

import torch

from lstmzip.container import LSTM_METHODS, Header, Method
from lstmzip.errors import ArchiveError, LstmzipError
from lstmzip.models import registry
from lstmzip.models.errors import ModelError
from lstmzip.models.int_engine import IntegerLSTM
from lstmzip.models.model_file import LoadedModel
from lstmzip.pipeline import CodingConfig


def load_model(name: str) -> LoadedModel:
    try:
        return registry.load(name)
    except ModelError as e:
        raise LstmzipError(str(e)) from None


def archive_model(header: Header) -> str:
    """How messages name an archive's model: "model 'NAME' (sha256 ...)" where the name is
    known (version-1 archives record it; else a shipped model's), else "a model of sha256 ..."."""
    name = header.model_name or registry.name_for_id(header.model_id)
    return f"model '{name}' (sha256 {header.model_id[:16]}...)" if name else f"a model of sha256 {header.model_id[:16]}..."


def model_for_archive(header: Header, override: str | None = None) -> LoadedModel:
    """The model an archive was made with: `override` (checked), else a shipped model of its
    sha256 (version 1: by name first)."""
    if override:
        m = load_model(override)
        if not header.made_with(m.sha256):
            raise ArchiveError(f"archive was made with {archive_model(header)}, "
                               f"not with '{m.name}' (sha256 {m.sha256[:16]}...)")
        return m
    name = header.model_name
    try:
        m = registry.load(name) if name in registry.SHIPPED else None
    except ModelError:
        m = None
    if m is not None and header.made_with(m.sha256):
        return m
    found = registry.find_by_id(header.model_id)
    if found is not None:
        return found
    here = f"; model '{name}' here has sha256 {m.sha256[:16]}..." if m is not None else ""
    raise ArchiveError(f"archive was made with {archive_model(header)}, which is not "
                       f"available{here} (give the model file with --model)")


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> str:
    """'auto' -> 'cuda' when torch sees a CUDA device, else 'cpu'; 'cuda' without one is an error."""
    if name not in DEVICES:
        raise LstmzipError(f"unknown device {name!r} (auto, cpu or cuda)")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        why = "this torch is built without CUDA" if torch.version.cuda is None else "torch sees no CUDA device"
        raise LstmzipError(f"--device cuda: no CUDA device ({why})")
    return name


_ENGINES: dict[tuple[str, str], IntegerLSTM] = {}


def engine_for(model: LoadedModel, device: str = "cpu") -> IntegerLSTM:
    """One engine per (model sha256, device), built on first use."""
    key = (model.sha256, device)
    if key not in _ENGINES:
        _ENGINES[key] = IntegerLSTM(model.qmodel, torch.device(device))
    return _ENGINES[key]


def model_methods(model: LoadedModel) -> dict[str, Method | None]:
    """How this model's LSTM blocks are coded when the caller does not say (registry.METHOD_KEYS):
    a shipped model's registry entry, else what its file records (lstmzip train writes the
    methods of the model it fine-tuned from), else the default model's block method alone."""
    shipped = registry.SHIPPED_BY_SHA.get(model.sha256)
    if shipped is not None:
        chosen = shipped.methods
    else:
        chosen = {key: model.meta.get(key) for key in registry.METHOD_KEYS}
        if chosen["block_method"] is None:
            chosen["block_method"] = registry.FALLBACK_METHOD
    for key, method in chosen.items():
        if method is not None and method not in [int(m) for m in LSTM_METHODS]:
            raise LstmzipError(f"model {model.name} asks for block method {method!r}, which this lstmzip cannot write")
    return {key: None if method is None else Method(method) for key, method in chosen.items()}


def lstm_method_for(model: LoadedModel) -> Method:
    """The block method of this model's LSTM blocks when the caller does not say (model_methods)."""
    return model_methods(model)["block_method"]


def with_model_methods(cfg: CodingConfig, model: LoadedModel) -> CodingConfig:
    """cfg with the model's own block methods where the caller named none (`--method` names one
    for every block): lstm_method_for's, and for small and for repetitive blocks the ones the
    model names, if any (model_methods, CodingConfig.method_for)."""
    if cfg.lstm_method is not None:
        return cfg
    methods = model_methods(model)
    return dataclasses.replace(cfg, lstm_method=methods["block_method"], small_block_method=methods["small_block_method"],
                               repetitive_block_method=methods["repetitive_block_method"])
