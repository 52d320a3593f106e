"""Range-coder glue over constriction: integer frequency tables in, bytes out.

constriction misreads some inputs without an error (docs/DESIGN.md §3), so every table passes
`check_frequencies` first: C-contiguous float32 [S, 256] holding integers in 1 .. 2^24-1
(such integers convert to float32 exactly, so encoder and decoder see the same table).
Both sides use the same model family: Categorical(perfect=False).
"""
from __future__ import annotations

import numpy as np
import constriction

from lstmzip.codec.errors import CodecError

ALPHABET = 256
MAX_FREQUENCY = (1 << 24) - 1
_FAMILY = constriction.stream.model.Categorical(perfect=False)


def check_frequencies(freqs: np.ndarray, rows: int | None = None) -> None:
    """Raise CodecError unless `freqs` is a table the coder reads exactly as written."""
    if not isinstance(freqs, np.ndarray) or freqs.dtype != np.float32:
        raise CodecError("frequency table must be a float32 numpy array")
    if freqs.ndim != 2 or freqs.shape[1] != ALPHABET:
        raise CodecError(f"frequency table must have shape [S, {ALPHABET}], got {freqs.shape}")
    if rows is not None and freqs.shape[0] != rows:
        raise CodecError(f"frequency table has {freqs.shape[0]} rows for {rows} symbols")
    if not freqs.flags.c_contiguous:
        raise CodecError("frequency table must be C-contiguous")
    lo, hi = freqs.min(initial=1.0), freqs.max(initial=1.0)
    if not (lo >= 1.0 and hi <= MAX_FREQUENCY):  # also false for NaN
        raise CodecError(f"frequencies must lie in [1, {MAX_FREQUENCY}], got [{lo}, {hi}]")


class Encoder:
    """Collects symbols with their frequency rows; `finish()` returns the coded bytes."""

    def __init__(self) -> None:
        self._enc = constriction.stream.queue.RangeEncoder()

    def encode(self, symbols: np.ndarray, freqs: np.ndarray) -> None:
        symbols = np.asarray(symbols)
        if symbols.ndim != 1:
            raise CodecError("symbols must be one-dimensional")
        check_frequencies(freqs, len(symbols))
        if len(symbols) == 0:
            return
        if symbols.min() < 0 or symbols.max() >= ALPHABET:
            raise CodecError("symbol outside 0..255")
        self._enc.encode(np.ascontiguousarray(symbols, dtype=np.int32), _FAMILY, freqs)

    def finish(self) -> bytes:
        return self._enc.get_compressed().astype("<u4", copy=False).tobytes()


class Decoder:
    """Decodes symbols in the order they were encoded, given the same frequency rows."""

    def __init__(self, data: bytes) -> None:
        if len(data) % 4:
            raise CodecError("coded stream length is not a multiple of 4 (truncated or damaged)")
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        try:
            self._dec = constriction.stream.queue.RangeDecoder(words)
        except Exception as e:  # constriction raises on streams it cannot start from
            raise CodecError(f"damaged coded stream: {e}") from None

    def decode(self, freqs: np.ndarray) -> np.ndarray:
        check_frequencies(freqs)
        try:
            out = self._dec.decode(_FAMILY, freqs)
        except Exception as e:
            raise CodecError(f"damaged coded stream: {e}") from None
        return np.asarray(out, dtype=np.int64)
