"""Code many blocks in one engine batch: the LSTM, the stages and the rANS coder all on the
engine's device, one step for every block's streams at once.

Each block keeps its own adaptive state and its own coders, so its payload is the same bytes
whether it is coded alone or beside others (tested), and on any device. Every step updates
its state in place and has shapes that follow from the active rows alone, with no host sync;
on CUDA the steps where every row is active run as one captured CUDA graph, replayed step
after step (an eager step costs ~5 ms of kernel launches, whatever its width).
"""
from __future__ import annotations

import functools
import os
import warnings
from typing import Callable

import numpy as np
import torch

from lstmzip.stages import rans
from lstmzip.stages.lstm_bias import ForkedLstmBias, LstmBias, lstm_bias
from lstmzip.stages.mix import MixStage
from lstmzip.stages.recipes import Recipe
from lstmzip.stages.rows import RowBatch, pick, put
from lstmzip.models.int_engine import IntegerLSTM

Progress = Callable[[int], None]
Observer = Callable[[int, np.ndarray, np.ndarray], None]  # (step, frequency rows, symbols)
# steps with every row active from which a CUDA graph is captured (fewer: all eager)
_MIN_GRAPH_STEPS = 8
# CUDA graphs captured, and captures that failed, in this process (the device check shows them)
graph_counts = {"captured": 0, "failed": 0}


def graphs_enabled(device: torch.device) -> bool:
    return device.type == "cuda" and os.environ.get("LSTMZIP_CUDA_GRAPHS", "1") != "0"


class Predictor:
    """Each step's frequency rows over a RowBatch: the LSTM, context bias and match model
    (`side`, maybe in a child process: lstmzip.stages.lstm_bias), then the mixing."""

    def __init__(self, side: LstmBias | ForkedLstmBias, rows: RowBatch, recipe: Recipe):
        self.side, self.rows = side, rows
        self.match = side.match  # (what the mixing reads of it)
        self.mix = MixStage(recipe.mix, rows, self.match) if recipe.mix is not None else None
        self.parts = recipe.parts

    def freqs(self, t: int, act: torch.Tensor | None) -> torch.Tensor:
        """Frequency rows (int64, or int32 from a decoding child: integers in 1 .. 2^24 - 1) of
        step t's active rows: [n, 256] for the byte, or [n, 16] for its first nibble where the
        recipe mixes. (In a captured CUDA graph t is the captured step's: no stream joins there.)"""
        # what the mixing reads of its state first: with a child process, while it works
        self.side.prepare_match(t, act)
        if self.mix is not None:
            self.mix.prepare_hi(act)
        f = self.side.freqs(t, act)
        return f if self.mix is None else self.mix.hi(f, act, self.side.lstm_input(t, f.shape[0]))

    def next_freqs(self, first: torch.Tensor) -> torch.Tensor:
        """[n, 16] for the second nibble, once the first (int64 [n]) is known."""
        return self.mix.lo(first)

    def symbols(self, y: torch.Tensor) -> list[torch.Tensor]:
        """The coded symbols of bytes y: the bytes, or their two nibbles."""
        return [y] if self.parts == 1 else [y >> 4, y & 15]

    def update(self, t: int, t_dev: torch.Tensor, y: torch.Tensor, act: torch.Tensor | None) -> None:
        self.side.update(t, t_dev, y, act)  # first: a child process works on the next step meanwhile
        if self.mix is not None:
            self.mix.update(y, act)


def _run_steps(rows: RowBatch, step: Callable[[int, torch.Tensor | None], None], progress: Progress | None,
               graphs: bool = True) -> None:
    """step(t, active rows) for every step; on CUDA, the steps where all rows are active
    (after step 0, whose match model indexes nothing) replay one captured graph."""
    first, full = rows.full_steps()  # steps first .. full - 1 have every row active
    # the graph replays the step it captures: after `first`, the last at which streams join
    tried = not (graphs and graphs_enabled(rows.device))
    t = 0
    while t < rows.steps:
        act = rows.active(t)
        if not tried and act is None and t > first and full - t >= _MIN_GRAPH_STEPS:
            tried = True
            # runs step t (the warm-up) and captures it: each replay is a step with the Python
            # values of step t and the device state of its own (what a step may depend on)
            graph = _capture(functools.partial(step, t, None))
            t += 1
            if progress:
                progress(rows.rows)
            while graph is not None and t < full:
                graph.replay()
                t += 1
                if progress:
                    progress(rows.rows)
            continue
        step(t, act)
        t += 1
        if progress:
            progress(rows.rows if act is None else len(act))


def _replay(body: Callable[[], None], steps: int) -> None:
    """body() `steps` times: on CUDA as one captured graph (the first call is its warm-up)."""
    graph, done = None, 0
    if steps > _MIN_GRAPH_STEPS:
        graph, done = _capture(body), 1
    for _ in range(done, steps):
        if graph is not None:
            graph.replay()
        else:
            body()


def check_payload(payload: bytes, streams: int, recipe: Recipe) -> None:
    """CodecError where the payload cannot be this recipe's rANS for `streams` streams."""
    rans.unpack(payload, rans.coders_for(streams, recipe.coder_group))


def _capture(fn: Callable[[], None]) -> "torch.cuda.CUDAGraph | None":
    """Run fn once on a side stream (a real step, which also warms up the kernels), then
    capture it (capturing runs nothing): replaying the graph is the next step. None where the
    capture fails: the steps then run eagerly (same integers, only slower)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            fn()
    except RuntimeError as e:  # nothing ran: the state is the warm-up step's
        warnings.warn(f"lstmzip: CUDA graph capture failed, coding eagerly ({e})", RuntimeWarning)
        torch.cuda.synchronize()
        graph_counts["failed"] += 1
        return None
    graph_counts["captured"] += 1
    return graph


def _model_bits(rows: RowBatch, freq: torch.Tensor, parts: int) -> torch.Tensor:
    """Each block's coded symbols' information, sum(log2(2^24 / f)), from the frequencies of
    the coded symbols ([symbols, rows]; rows code from their starts to their ends)."""
    starts, ends = rows.starts.unsqueeze(0) * parts, rows.ends.unsqueeze(0) * parts
    per_row = torch.zeros(freq.shape[1], dtype=torch.float64, device=freq.device)
    for u in range(0, freq.shape[0], 1024):  # in slices: a float64 copy of all would be twice freq
        part = freq[u : u + 1024]
        at = torch.arange(u, u + part.shape[0], device=freq.device).unsqueeze(1)
        coded = (at < ends) & (at >= starts)
        per_row += torch.where(coded, rans.SCALE_BITS - torch.log2(part.to(torch.float64)), 0.0).sum(0)
    return torch.zeros(rows.blocks, dtype=torch.float64, device=freq.device).index_add_(0, rows.block, per_row)


def _observed(tables: list[torch.Tensor], syms: list[torch.Tensor], pred: "Predictor", top: int = 5) -> np.ndarray:
    """One [n, 256] table for lstmzip explain: the byte's own, or for nibbles the first
    nibble's table times the second's. The second nibble's table is worked out (without
    learning from it) for the `top` likeliest first nibbles as well as the coded one, and spread
    evenly over the others: the coded byte's probability is exact either way, and the top
    predictions are not all drawn from the coded byte's subtree."""
    if len(tables) == 1:
        return tables[0].cpu().numpy()
    (q1, q2), first = tables, syms[0]
    n = q1.shape[0]
    rows = torch.full((n, 16, 16), rans.TOTAL // 16, dtype=torch.int64, device=q1.device)
    for h in q1.topk(min(top, 16), dim=1).indices.t():
        rows.scatter_(1, h.view(n, 1, 1).expand(n, 1, 16), rans.quantize(pred.mix.peek_lo(h)).unsqueeze(1))
    rows.scatter_(1, first.view(n, 1, 1).expand(n, 1, 16), q2.unsqueeze(1))
    return (q1.unsqueeze(2) * rows).view(n, 256).cpu().numpy()


def encode_blocks(engine: IntegerLSTM, blocks: list[bytes], streams: list[int], recipe: Recipe,
                  progress: Progress | None = None, observe: Observer | None = None) -> list[tuple[bytes, float]]:
    """(payload, bits) for each block: its model bytes coded in `streams[b]` streams.
    `observe` (one block only) sees every step's quantised frequency rows and bytes."""
    dev = engine.device
    rows = RowBatch.of([len(b) for b in blocks], streams, dev, recipe.ramp)
    # a row that joins later reads the start byte before its first, as a decoder's row does
    # (uint8: a step widens its own column; a 4 MiB block's bytes as int64 would be 32 MiB in
    # this process and, shared, counted again in a child's)
    mat = rows.matrix(blocks, before=int(engine.start_bytes(1)[0]))
    parts = recipe.parts  # symbol u = t * parts + k is part k of step t's byte
    T, R = rows.steps * parts, rows.rows
    start = torch.zeros((max(T, 1), R), dtype=torch.int32, device=dev)
    freq = torch.ones((max(T, 1), R), dtype=torch.int32, device=dev)
    t_dev = torch.zeros((), dtype=torch.int64, device=dev)  # the step, for in-graph indexing

    def step(t: int, act: torch.Tensor | None) -> None:
        y = pick(mat.index_select(1, t_dev.view(1)).squeeze(1).to(torch.int64), act)
        syms, tables = pred.symbols(y), []
        for k, sym in enumerate(syms):
            q = rans.quantize(pred.freqs(t, act) if k == 0 else pred.next_freqs(syms[0]))
            f = q.gather(1, sym.unsqueeze(1)).squeeze(1)
            lo = q.cumsum(dim=1).gather(1, sym.unsqueeze(1)).squeeze(1) - f
            if act is None:  # record t * parts + k by the device's step counter (a graph replays this)
                u = (t_dev * parts + k).view(1)
                start.index_copy_(0, u, lo.to(torch.int32).unsqueeze(0))
                freq.index_copy_(0, u, f.to(torch.int32).unsqueeze(0))
            else:
                put(start.select(0, t * parts + k), act, lo.to(torch.int32))
                put(freq.select(0, t * parts + k), act, f.to(torch.int32))
            tables.append(q)
        if observe:
            observe(t, _observed(tables, syms, pred), y.cpu().numpy())
        pred.update(t, t_dev, y, act)
        t_dev.add_(1)

    coders = rans.Coders(streams, rows.starts_np * parts, rows.ends_np * parts, recipe.coder_group, dev)
    # inference_mode, not only no_grad: no version counting or view tracking on a step's hundreds
    # of small ops (200 KB of training-pool English, method 16, 2 cores: compress -19%,
    # decompress -12%). Captures run inside it too, as graphs captured and replayed must.
    with torch.inference_mode():
        with lstm_bias(engine, rows, recipe, known=mat) as side:
            pred = Predictor(side, rows, recipe)
            _run_steps(rows, step, None if observe else progress, graphs=observe is None)
        del pred, side, mat  # the stages' tables go before the coder's words come
        runner = _replay if graphs_enabled(dev) else None
        states, words, wrote = rans.encode(coders, start, freq, runner)
        bits = _model_bits(rows, freq, parts)
    states, words, wrote = states.cpu().numpy(), words.cpu().numpy(), wrote.cpu().numpy()
    out = []
    for b in range(rows.blocks):
        cr = slice(coders.first[b], coders.first[b] + coders.per_block[b])
        out.append((rans.pack(states[cr], words[:, :, cr][wrote[:, :, cr]]), float(bits[b])))
    return out


def decode_blocks(engine: IntegerLSTM, payloads: list[bytes], sizes: list[int], streams: list[int],
                  recipe: Recipe, progress: Progress | None = None) -> list[bytes | None]:
    """Each block's model bytes, or None where its payload is damaged (a CodecError from
    rans.unpack is raised for the first block whose payload cannot be rANS at all)."""
    dev = engine.device
    rows = RowBatch.of(sizes, streams, dev, recipe.ramp)
    parts = recipe.parts
    coders = rans.Coders(streams, rows.starts_np * parts, rows.ends_np * parts, recipe.coder_group, dev)
    unpacked = [rans.unpack(p, n) for p, n in zip(payloads, coders.per_block.tolist())]
    counts = np.array([len(w) for _, w in unpacked], dtype=np.int64)
    word_start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    dec = rans.Decoder(coders, torch.from_numpy(np.concatenate([s for s, _ in unpacked])).to(dev),
                       torch.from_numpy(np.concatenate([w for _, w in unpacked])).to(dev),
                       torch.from_numpy(word_start).to(dev), torch.from_numpy(word_start + counts).to(dev))
    mat = torch.zeros((rows.rows, max(rows.steps, 1)), dtype=torch.uint8, device=dev)
    t_dev = torch.zeros((), dtype=torch.int64, device=dev)

    def step(t: int, act: torch.Tensor | None) -> None:
        key = rows.active_key(t)
        y = dec.decode(rans.quantize(pred.freqs(t, act)), act, key)
        if parts == 2:  # the nibbles
            y = (y << 4) | dec.decode(rans.quantize(pred.next_freqs(y)), act, key)
        if act is None:
            mat.index_copy_(1, t_dev.view(1), y.to(torch.uint8).unsqueeze(1))
        else:
            put(mat.select(1, t), act, y.to(torch.uint8))
        pred.update(t, t_dev, y, act)
        t_dev.add_(1)

    with torch.inference_mode():
        with lstm_bias(engine, rows, recipe, known=None) as side:
            pred = Predictor(side, rows, recipe)
            _run_steps(rows, step, progress)
    damaged = dec.damaged()
    data = rows.unstream(mat.cpu().numpy())
    return [None if bad else d for d, bad in zip(data, damaged)]
