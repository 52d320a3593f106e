"""Float vs integer bpc of a model on the same bytes, streamed the way the compressor does."""
from __future__ import annotations

import math

import numpy as np
import torch

from lstmzip.container import Method
from lstmzip.pipeline import _active, _stream_matrix, _trim, code_bits, lstm_encode
from lstmzip.models import fixed_point as fp
from lstmzip.models.float_lstm import FloatLSTM
from lstmzip.models.int_engine import IntegerLSTM


@torch.no_grad()
def float_bits(model: FloatLSTM, data: bytes, streams: int) -> float:
    """-log2 p summed over `data` split into streams like the pipeline (zero state, START_BYTE)."""
    mat, base, extra = _stream_matrix(data, streams)
    x = np.concatenate([np.full((streams, 1), fp.START_BYTE, dtype=np.int64), mat.astype(np.int64)], axis=1)
    model.eval()
    logits, _ = model(torch.from_numpy(x[:, :-1]))
    logp = torch.log_softmax(logits.double(), dim=-1)
    tgt = torch.from_numpy(x[:, 1:])
    nll = -logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    mask = torch.zeros_like(nll, dtype=torch.bool)
    mask[:extra, : base + 1] = True
    mask[extra:, :base] = True
    return float(nll[mask].sum()) / math.log(2)


def int_bits(engine: IntegerLSTM, data: bytes, streams: int) -> float:
    """-log2 p of the integer LSTM alone (no match model), same streaming."""
    mat, base, extra = _stream_matrix(data, streams)
    state = engine.initial_state(streams)
    x = engine.start_bytes(streams)
    bits = 0.0
    for t in range(mat.shape[1]):
        rows = _active(t, base, extra, streams)
        f, state = engine.step(x[:rows], _trim(state, rows))
        sym = mat[:rows, t].astype(np.int64)
        bits += code_bits(f.cpu().numpy(), sym)
        x = torch.from_numpy(sym).to(engine.device)
    return bits


def compare(model: FloatLSTM, engine: IntegerLSTM, data: bytes, streams: int = 1) -> dict:
    """Float vs integer LSTM (the quantisation cost), then with the match model, then the full
    coder model (context bias + match)."""
    fb = float_bits(model, data, streams)
    ib = int_bits(engine, data, streams)
    _, mb = lstm_encode(engine, data, streams, method=Method.LSTM)
    _, cb = lstm_encode(engine, data, streams)
    n = len(data)
    return {"bytes": n, "float_bpc": fb / n, "int_bpc": ib / n, "ratio": ib / fb,
            "with_match_bpc": mb / n, "full_bpc": cb / n}
