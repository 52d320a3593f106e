"""What the model sees: the cost in bits of every byte of a file, and its top predictions.

The bits are the ones `lstmzip bpc` adds up (the model's estimate, with the context bias and
the match model, blocks and streams exactly as compression codes them), so they sum to its
model bpc figure. Rendering: `explain_html` (a self-contained page) and `explain_terminal`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstmzip import transforms
from lstmzip.engines import engine_for, load_model, with_model_methods
from lstmzip.pipeline import CodingConfig, block_layout, block_streams, lstm_encode, row_bits
from lstmzip.models.registry import DEFAULT_MODEL

TOP = 5


@dataclass
class Explanation:
    data: bytes  # the bytes explained (the first `limit` of the file)
    bits: np.ndarray  # float64 [n]: -log2 p of each byte (0 for a CR the CRLF transform dropped)
    top_symbols: np.ndarray  # uint8 [n, TOP]: the model's most likely bytes at each position
    top_probs: np.ndarray  # float32 [n, TOP]: their probabilities
    predicted: np.ndarray  # bool [n]: False where the byte was not coded (a dropped CR)
    model: str
    file_bytes: int  # size of the whole input (data may be a prefix)

    @property
    def total_bits(self) -> float:
        return float(self.bits.sum())

    @property
    def bpc(self) -> float:
        return self.total_bits / len(self.data) if self.data else 0.0


def _model_positions(block: bytes, transform: transforms.Transform) -> np.ndarray:
    """Index in `block` of each byte the model codes (the CRLF transform drops the CR of CRLF)."""
    arr = np.frombuffer(block, dtype=np.uint8)
    if transform != transforms.Transform.CRLF:
        return np.arange(len(arr), dtype=np.int64)
    dropped = np.zeros(len(arr), dtype=bool)
    dropped[:-1] = (arr[:-1] == 13) & (arr[1:] == 10)
    return np.flatnonzero(~dropped)


def explain_bytes(data: bytes, model: str = DEFAULT_MODEL, config: CodingConfig | None = None,
                  file_bytes: int | None = None, device: str = "cpu") -> Explanation:
    loaded = load_model(model)
    engine = engine_for(loaded, device)
    cfg = with_model_methods(config or CodingConfig(), loaded)  # as compress takes them
    n = len(data)
    bits = np.zeros(n)
    top_symbols = np.zeros((n, TOP), dtype=np.uint8)
    top_probs = np.zeros((n, TOP), dtype=np.float32)
    predicted = np.zeros(n, dtype=bool)
    for offset in range(0, n, cfg.block_size):
        block = data[offset : offset + cfg.block_size]
        method = cfg.method_for(block)
        transform = transforms.choose(block)
        model_data = transforms.forward(block, transform)
        streams = block_streams(model_data, cfg, method)
        origin = offset + _model_positions(block, transform)
        lay = block_layout(len(model_data), streams, method)
        first = lay.offsets - lay.starts  # block offset of a stream's byte = first + step

        def observe(t: int, freqs: np.ndarray, sym: np.ndarray) -> None:
            rows = len(sym)
            pos = origin[first[:rows] + t]
            bits[pos] = row_bits(freqs, sym)
            best = np.argsort(-freqs, axis=1, kind="stable")[:, :TOP]
            top_symbols[pos] = best
            top_probs[pos] = np.take_along_axis(freqs, best, axis=1) / freqs.sum(axis=1, dtype=np.float64)[:, None]
            predicted[pos] = True

        lstm_encode(engine, model_data, streams, cfg.physical_batch, None, method, observe)
    return Explanation(data, bits, top_symbols, top_probs, predicted, loaded.name,
                       n if file_bytes is None else file_bytes)


def explain_file(path: str, model: str = DEFAULT_MODEL, limit: int = 64 << 10, device: str = "cpu") -> Explanation:
    """The first `limit` bytes of `path` (0: all of it)."""
    import os
    from pathlib import Path

    from lstmzip.fileio import open_input

    with open_input(Path(path)) as f:
        data = f.read(limit) if limit else f.read()
        size = max(len(data), os.fstat(f.fileno()).st_size)
    return explain_bytes(data, model, file_bytes=size, device=device)
