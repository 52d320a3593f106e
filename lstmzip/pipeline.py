"""Block coding: split a block into S equal streams and code them in lockstep with the engine.

Per step, the engine's logits go through the context bias (lstmzip.stages.host.context_bias, learned from
the block as it is coded; methods 3 and up) and the match model before
the coder. Each LSTM block method fixes the versions of these stages (STAGES).

Stream i of a block of n model bytes covers a contiguous slice; lstmzip.stream_layout says
at which steps each stream codes (all from step 0, the first n % S streams one byte longer;
or, for methods 6-9, streams that join one after another). At each step the engine is fed
every active stream's previous byte (START_BYTE at its first step; a stream that joins starts
from zeros, or in methods 7-9 from an earlier stream's state) and codes every active stream's
next byte with the resulting frequency rows, in stream order. The decoder runs the identical
loop.
"""
from __future__ import annotations

import contextlib
import lzma
import os
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable, Iterator

import numpy as np
import torch

from lstmzip.codec.errors import CodecError
from lstmzip.codec.range_coder import Decoder, Encoder
from lstmzip import transforms
from lstmzip.container import LSTM_METHODS, MAX_ADAPTIVE_STREAMS, MAX_STREAMS, BlockHeader, Method, crc32
from lstmzip.errors import BlockDamaged
from lstmzip.stages import coding as device_coding
from lstmzip.stages.recipes import RECIPES
from lstmzip.stream_layout import Ramp, StreamLayout, layout, warm_sources
from lstmzip.models.int_engine import EngineState, IntegerLSTM
from lstmzip.stages.host.context_bias import BIAS_V1, BIAS_V2, BIAS_V3, BIAS_V4, BIAS_V5, BIAS_V6, BIAS_V7, BiasConfig, ContextBias
from lstmzip.stages.host.match_model import MATCH_V1, MATCH_V2, MATCH_V3, MATCH_V4, MATCH_V5, MATCH_V6, MatchConfig, MatchModel

Progress = Callable[[int], None]
_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 6}]  # what a Method.LZMA block is decoded with
# As the LSTM's fallback the encoder searches as hard as xz -9e (its time is small beside the
# LSTM's). Only the dictionary size (preset 6's, 8 MiB, above the block size) reaches the
# decoder, so these blocks decode with _LZMA_FILTERS like preset 6's. `--fast` keeps preset 6.
_LZMA_THOROUGH = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": 8 << 20}]


# Chosen on training-pool slices with the default model: logs (9 files, 47-120 KB) 0.3921 ->
# 0.3860 bpc (first=512, double=32: 0.3864), English and Python (4 x 100 KB) 1.5863 -> 1.5819,
# for ~20% more steps, the added ones with few streams.
RAMP_V1 = Ramp(first=256, double=64)


@dataclass(frozen=True)
class Stages:
    """What an LSTM block method runs between the engine and the coder."""
    bias: BiasConfig | None  # None: no context bias
    match: MatchConfig
    ramp: Ramp | None = None  # None: every stream starts at step 0 (lstmzip.stream_layout)
    # A stream that joins a ramped layout starts from the LSTM state that stream
    # i - 2^floor(log2(i)) has then (one that started earlier), not from zeros: it is already
    # in the block's kind of text. Training-pool logs 0.3726 -> 0.3696 bpc (with stream 0's
    # state 0.3705).
    warm_start: bool = False
    # Blocks are coded in streams of at least CodingConfig.columns_stream_len (an encoder choice:
    # the stream count is in the block header).
    long_streams: bool = False


STAGES = {
    Method.LSTM: Stages(None, MATCH_V1),
    Method.LSTM_ADAPTIVE: Stages(BIAS_V1, MATCH_V1),
    Method.LSTM_ADAPTIVE2: Stages(BIAS_V2, MATCH_V2),
    Method.LSTM_RECORDS: Stages(BIAS_V3, MATCH_V3),
    Method.LSTM_RAMP: Stages(BIAS_V4, MATCH_V4, RAMP_V1),
    Method.LSTM_FIELDS: Stages(BIAS_V5, MATCH_V5, RAMP_V1, warm_start=True),
    Method.LSTM_COLUMNS: Stages(BIAS_V5, MATCH_V6, RAMP_V1, warm_start=True, long_streams=True),
    Method.LSTM_MIXER: Stages(BIAS_V6, MATCH_V6, RAMP_V1, warm_start=True, long_streams=True),
    Method.LSTM_MIXER16: Stages(BIAS_V7, MATCH_V6, RAMP_V1, warm_start=True, long_streams=True),
}


@dataclass(frozen=True)
class CodingConfig:
    block_size: int = 4 << 20
    # Measured on book1 (benchmarks/results/stream_length.md): streams of 2 KiB cost 0.15% in
    # ratio against 4 KiB and code 20% faster on 2 CPU cores; beyond ~400 streams it slows.
    # Method 16 (768 KB of the English training pool's last 3 MB, 2-core Xeon, 0.16.0+): payload
    # 1.9602 bpc in 2 KiB streams, 1.9553 in 4 KiB at 1.3x the time, 1.9543 in 8 KiB at 2.2x;
    # through lstmzip.compress 1 KiB 1.9761 against 1.9612, at 0.95x (compress) and 0.93x
    # (decompress) the time: the mixing's per-row work leaves no speed to buy with shorter streams.
    min_stream_len: int = 2048
    max_streams: int = 512
    # Repetitive blocks (zlib level 1 under repetitive_bpc bits a byte: code, logs, tables,
    # technical prose) take at most repetitive_streams streams in the device stages' methods
    # (10-16): at step t a stream sees only the first t bytes of the others, and in such text
    # much of what a stream repeats lies just before its start, which its neighbour codes last.
    # Method 16, default model, training-pool text, 2-core Xeon, bpc in 512 (or as many as
    # 2 KiB streams make) / 256 / 128 streams: 2 MB of logs (zlib-1 0.66 bpc) 0.2388 / 0.2258 /
    # 0.2177 (in-process 68.9 / 67.3 / 93.0 s to compress, 62.1 / 63.5 / 111.7 s to decompress;
    # lpaq1 9: 0.2043); 2 MB of Python (1.86) 1.0046 / 0.9937 / 0.9867 (lpaq1 0.9699); books
    # (the default model's own training text): Insectivorous Plants (3.12) 1.3954 in 456, 1.3881
    # in 228; On the Origin of Species (3.26) 1.4881 in 456, 1.4821 in 256; 4 MB of novels
    # (3.59) 1.7702 / 1.7690; 768 KB of other novels of the pool (3.61) 1.7857 in 375, 1.7811
    # in 187.
    # Decoding 256 streams instead of 512 takes ~1.15x the time (twice the steps, each with its
    # fixed costs), coding about the same: taken where it buys ~0.4% or more, up to 3.4 bits.
    repetitive_bpc: float = 3.4
    repetitive_streams: int = 256
    # ... and where zlib level 1 does better still (logs, tables), streams at least this long
    # (the first row whose bpc the block is under), but never fewer than
    # repetitive_least_streams: a block's time grows with its size up to 64 KiB (a 10 KB log in
    # 8 streams, not the 25 of the small blocks' rule; a 20 KB one in 8, not 10), then is the
    # longer streams'. On a CPU a step of a few streams costs the same whatever their number, so
    # fewer streams cost time. Method 16, default model, 2-core AMD EPYC, 30-120 KB of
    # training-pool logs and Python (and C and JavaScript of a Linux install), bpc against 2 KiB
    # streams in 4 / 8 / 16 KiB streams, at 1.6x / 3.1x / 6.4x the time: zlib-1 0.33-1.16 (8
    # logs, a Python test) -1.6 to -7.4% / -3.6 to -10.0% / -4.1 to -12.5% (6 of them); 1.5-2.1
    # (code and a log, 11) -0.6 to -1.4% / -1.5 to -2.3% (4 KiB streams for code, ~1% for ~1.8x
    # the time: not taken); 2.3-2.65 (Python, 3) -0.5 to -0.7% / -0.6 to -1.5%; a novel (3.57)
    # -0.2% / -0.2%. With this rule: benchmarks/results/repetitive_streams.md; 6-14 KB slices of
    # 8 other logs -2.4 to -19.5% (-10.7% in all), 0.5-0.6 -> 0.7-1.6 s to compress.
    repetitive_stream_lens: tuple[tuple[float, int], ...] = ((1.2, 8 << 10),)
    repetitive_least_streams: int = 8
    # Small inputs: a block of at most small_block_len bytes is cut into as many streams as it
    # takes to code in small_block_steps steps (so shorter streams than min_stream_len). On a
    # CPU a step of a few streams costs the same whatever their number (per-op overhead, ~0.8
    # ms), so a 4 KB file codes in 5 streams in about half the time of 2 of 2 KiB, for ~1% in
    # ratio (eval files of 4-13 KB, default model: +0.5 to +1.2%). 0: off.
    small_block_steps: int = 1024
    small_block_len: int = 16 << 10
    # ... in at most this many steps for the device stages' methods (10-16, lstmzip.stages),
    # whose steps cost ~2.5x method 4's at a few rows (more ops a step). Method 16, 9 slices of
    # 4-16 KB of training-pool English, Python and logs, 2-core Xeon: 1,024 steps 18,683 bytes,
    # 29.5 s to compress them and 33.5 s to decompress; 512 steps 18,983 bytes (+1.6%) in 15.9
    # and 20.0 s; 256 steps 19,539 (+4.6%) in 11.4 and 12.5 s (before 0.18.1 the ramp's steps
    # came on top: ~550 for "512"; streams_within). 0: small_block_steps.
    device_small_block_steps: int = 512
    physical_batch: int = 0  # engine rows per call; 0 = all active streams (no effect on output)
    try_lzma: bool = True
    # how LSTM blocks are coded: None = the model's own method (models.registry: LSTM_MIXER16
    # for the logs model, LSTM_MIX12 for the default, LSTM_MIX13 for python), or one of container.LSTM_METHODS
    lstm_method: Method | None = None
    # ... and a block of at most small_block_len bytes with this one instead (None: lstm_method),
    # unless repetitive_block_method takes it: the model's own choice (models.registry), set with
    # lstm_method where the caller gives neither
    small_block_method: Method | None = None
    # ... and a block, of any size, that zlib level 1 codes in under repetitive_bpc bits a byte
    # (code, logs, tables) with this one instead (None: lstm_method): the model's own choice, as above
    repetitive_block_method: Method | None = None
    lstm: bool = True  # False: LZMA or stored blocks only (`--fast`: xz speed, no model work)
    # Methods with line contexts (5-7) learn from the lines above in the same stream: where
    # lines are long (JSON events, state dumps), streams are made at least this many lines
    # long (bytes-weighted mean line length), up to long_line_stream_len. 0: off. On
    # training-pool logs with method 7 (before MATCH_V5): a Kafka controller log (365 KB,
    # lines 3.7 KB on that mean) 0.1424 bpc with 2 KiB streams, 0.1395 with 4, 0.1241 with 8,
    # 0.1102 with 16 (xz -9e 0.1199) at 1, 1.2, 1.6 and 2.3 times the time; JSON logs (300 KB,
    # 5.5 KB lines) 0.2082, 0.1892 (8 KiB), 0.1701 (16 KiB; xz 0.1743).
    lines_per_stream: int = 4
    long_line_stream_len: int = 16 << 10
    # Methods 8 and 9 (the logs model's) code in streams of at least this many bytes (0: as the
    # others): training-pool logs (9 files, default model) 0.3553 bpc with 2 KiB streams,
    # 0.3427 with 8 KiB, in about 1.5 times the time (method 7 there: 1.7).
    columns_stream_len: int = 8 << 10
    # ... and a small block in at most this many steps (instead of small_block_steps): the
    # columns learnt from the lines above pay more (3 x 12 KB of training-pool logs, logs model:
    # 1.063 bpc in one stream each, 14 s a file; 1.093 at 2048 steps, 3.2 s; 1.124 at 1024, 2.2
    # s; a 27 KB apt log 0.576 bpc in 3 streams, 0.618 in 14).
    columns_small_block_steps: int = 2048
    # blocks of a device-stage method (lstmzip.stages) coded together in one engine batch;
    # 0: batch_blocks_for(device). The archive is the same bytes whatever it is.
    batch_blocks: int = 0

    def method_for(self, block: bytes) -> Method:
        """The block method of an LSTM block of these bytes: a repetitive block's where there is
        one (the default model's: small or not, code and tables keep the stages that suit them;
        a small block of prose takes the small blocks' method), else a small block's."""
        if self.repetitive_block_method is not None and zlib_bpc(block) < self.repetitive_bpc:
            return self.repetitive_block_method
        if self.small_block_method is not None and len(block) <= self.small_block_len:
            return self.small_block_method
        return self.lstm_method if self.lstm_method is not None else Method.LSTM_ADAPTIVE2

    def with_streams(self, n: int) -> "CodingConfig":
        """At most n streams a block whatever its text (`--streams`, the GPU's wider steps): the
        cap replaces repetitive blocks' own cap and longer streams too."""
        return replace(self, max_streams=n, repetitive_streams=n, repetitive_stream_lens=())


# `--best`: every stream starts cold and at step t sees only the first t bytes of the others,
# which costs most on repetitive text. Training-pool logs (method 3): 2 KiB streams 0.542 bpc,
# 8 KiB 0.510, 30 KiB 0.492, at 1, 2.4 and 6.8 times the time.
BEST = CodingConfig(min_stream_len=16 << 10, small_block_steps=0)


# Device memory per block in one batch with the default model's recipe: context-bias tables
# (328K rows x 1 KiB), match tables, the history and the rANS records of a 4 MiB block (600 MiB),
# and for method 11 the mixing's counters (6 tables x 2^20 buckets x 32 B) and map (8.7 MB).
_DEVICE_BYTES_PER_BLOCK = 800 << 20
MAX_BATCH_BLOCKS = 64  # 512 streams each: 32K rows per engine step


def batch_blocks_for(device: str | torch.device) -> int:
    """Blocks per engine batch: one on a CPU (wider steps do not pay there), as many as the
    GPU's free memory holds otherwise."""
    device = torch.device(device)
    if device.type != "cuda":
        return 1
    free, _ = torch.cuda.mem_get_info(device)
    return max(1, min(MAX_BATCH_BLOCKS, int(free * 0.8) // _DEVICE_BYTES_PER_BLOCK))


def default_threads() -> int:
    """torch threads unless told otherwise: one less than the cores, so that the LSTM can run on
    the last core beside the adaptive stages (the host stages' worker thread, _Predictor; the
    device stages' child process, lstmzip.stages.lstm_bias)."""
    return max(1, (os.cpu_count() or 2) - 1)


def check_threads(n: int | None) -> None:
    """ValueError unless n is a thread count torch_threads takes (None, 0 or more)."""
    if n is not None and n < 0:
        raise ValueError(f"threads must be >= 0, not {n}")


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch's CPU threads while coding inside: None leaves them as they are, 0 is the CLI's
    choice (default_threads: a core left for the LSTM beside the stages), N > 0 that many; the
    count before comes back afterwards. The count is the process's: threads coding at the same
    time with different counts see each other's (archives are the same bytes whatever it is)."""
    check_threads(n)
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n or default_threads())
    try:
        yield
    finally:
        torch.set_num_threads(before)


def plan_streams(n: int, cfg: CodingConfig, min_len: int | None = None) -> int:
    """Streams for n model bytes, each at least min_len (cfg.min_stream_len if None) long."""
    if n == 0:
        return 0
    cap = min(cfg.max_streams, MAX_STREAMS if cfg.lstm_method == Method.LSTM else MAX_ADAPTIVE_STREAMS)
    return max(1, min(cap, n // (min_len or cfg.min_stream_len)))


def weighted_line_length(data: bytes) -> float:
    """Mean length of the line a byte sits in (its newline included): long lines weigh more."""
    if not data:
        return 0.0
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    lengths = np.diff(np.concatenate([[-1], ends, [len(data) - 1]]))
    return float(np.square(lengths, dtype=np.float64).sum() / len(data))


def zlib_bpc(data: bytes) -> float:
    """Bits a byte zlib at level 1 codes data in (~15 ms a MB): how repetitive it is."""
    return 8 * len(zlib.compress(data, 1)) / max(len(data), 1)


def block_streams(model_data: bytes, cfg: CodingConfig, method: Method) -> int:
    """How many streams compress codes a block's model bytes in: streams of at least
    min_stream_len (longer for the methods that learn from lines or columns above; fewer and
    longer for a repetitive block in the device stages' methods: CodingConfig.repetitive_bpc and
    repetitive_stream_lens, small blocks too), but a block of at most small_block_len bytes in
    as many as it takes to code in small_block_steps steps (device_small_block_steps for the
    device stages' methods)."""
    min_len = cfg.min_stream_len
    stages = STAGES.get(method)
    small_steps = cfg.small_block_steps
    if stages is not None and stages.long_streams and cfg.columns_stream_len:
        min_len = max(min_len, cfg.columns_stream_len)
        small_steps = small_steps and max(small_steps, cfg.columns_small_block_steps)
    bias = stages.bias if stages is not None else None
    if cfg.lines_per_stream and bias is not None and bias.record:
        by_lines = int(cfg.lines_per_stream * weighted_line_length(model_data))
        min_len = max(min_len, min(by_lines, cfg.long_line_stream_len))
    if small_steps and method in RECIPES:
        small_steps = cfg.device_small_block_steps or small_steps
    streams = plan_streams(len(model_data), cfg, min_len)
    if streams and small_steps and len(model_data) <= cfg.small_block_len:
        streams = max(streams, streams_within(len(model_data), small_steps, method, cfg.max_streams))
    if method in RECIPES and streams > 1:  # repetitive blocks: fewer, longer streams
        bpc = zlib_bpc(model_data)
        longer = next((n for below, n in cfg.repetitive_stream_lens if bpc < below), 0)
        if longer > min_len:
            streams = min(streams, max(plan_streams(len(model_data), cfg, longer), cfg.repetitive_least_streams))
        if bpc < cfg.repetitive_bpc:
            streams = min(streams, cfg.repetitive_streams)
    return streams


def streams_within(n: int, steps: int, method: Method, most: int) -> int:
    """Streams (up to `most`) for n model bytes in at most `steps` steps: n / steps rounded up,
    and for the device stages' methods (lstmzip.stages) as many more as their ramped layout
    takes, whose later streams start later (xargs.1, method 16, 512 steps: 10 streams in 506
    steps, not 9 in 550). Method 16 on 9 slices of 4-12 KB of held-out training-pool English,
    Python and logs, 2-core Xeon: 13,579 bytes against 13,395 (+1.4%) in 0.91x the time to
    compress and 0.83x to decompress. (The host stages' methods 6-9 keep n / steps.)"""
    streams = max(1, min(most, -(-n // steps)))
    while method in RECIPES and streams < most and block_layout(n, streams, method).steps > steps:
        streams += 1
    return streams


def _stream_matrix(data: bytes, streams: int) -> tuple[np.ndarray, int, int]:
    """[S, T] uint8 matrix of stream bytes (short rows padded), base length, long-row count."""
    n = len(data)
    base, extra = divmod(n, streams)
    arr = np.frombuffer(data, dtype=np.uint8)
    steps = base + (1 if extra else 0)
    mat = np.zeros((streams, steps), dtype=np.uint8)
    split = extra * (base + 1)
    if extra:
        mat[:extra, :] = arr[:split].reshape(extra, base + 1)
    if base:
        mat[extra:, :base] = arr[split:].reshape(streams - extra, base)
    return mat, base, extra


def _engine_step(engine: IntegerLSTM, x: torch.Tensor, state: EngineState, batch: int):
    """int32 logits [rows, 256] and the next state, in slices of `batch` rows (same result)."""
    rows = x.shape[0]
    if not batch or rows <= batch:
        return engine.step_logits(x, state)
    logits, states = [], []
    for lo in range(0, rows, batch):
        sl = slice(lo, min(rows, lo + batch))
        lg, s = engine.step_logits(x[sl], EngineState([h[sl] for h in state.h], [c[sl] for c in state.c]))
        logits.append(lg)
        states.append(s)
    return torch.cat(logits), EngineState.concat(states)


OVERLAP_MIN_ROWS = 64  # 16-64 KB of book1 (8-32 streams) coded 5-15% faster without the worker


class _Predictor:
    """Engine, context bias (optional) and match model: the frequency table for each step.

    The next step's LSTM only needs the bytes just coded, so it can run on a worker thread while
    this thread updates the context bias and the match model (torch and numpy release the GIL
    in their kernels). Each side touches only its own state: the result does not depend on
    the timing. It only pays when torch leaves a core free for it (`torch.set_num_threads`
    below the core count; the CLI does that by default): torch's own threads spin between
    kernels and fight a worker on a busy core (book1 on 2 cores: 74 KB/s with 1 torch thread
    and the worker, 65 with 2 threads and none, 44 with 2 threads and the worker). Below
    OVERLAP_MIN_ROWS rows a step is too small for the hand-over to pay: xargs.1 (2 streams)
    compressed in 2.5-2.8 s with the worker, 1.9 s without.
    """

    def __init__(self, engine: IntegerLSTM, lay: StreamLayout, stages: Stages, batch: int):
        self.engine, self.batch, self.warm_start = engine, batch, stages.warm_start
        streams, steps = lay.streams, lay.steps
        first = int(lay.active[0]) if steps else 0
        self.state = engine.initial_state(first)
        self.x = engine.start_bytes(first)
        self.bias = ContextBias(streams, engine.lut_exp, stages.bias, steps, lay.starts) if stages.bias is not None else None
        self.match = MatchModel(streams, steps, lay.ends, stages.match, lay.starts)
        self._overlap = torch.get_num_threads() < (os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: Future | None = None

    def __enter__(self) -> "_Predictor":
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # The predictor's torch work runs under inference_mode (a per-thread mode, so each method
    # that touches tensors says so, the worker thread's _lstm too): no autograd bookkeeping on a
    # step's many small ops (xargs.1, 2 streams: 1.9-2.1 s -> 1.7 s in one process; same bytes).
    @torch.inference_mode()
    def _lstm(self, rows: int) -> torch.Tensor:
        have = self.x.shape[0]
        if rows > have:  # streams that start at this step (a ramped layout)
            self.x = torch.cat([self.x, self.engine.start_bytes(rows - have)])
            old = _trim(self.state, have)
            if self.warm_start:
                new = old.select(torch.from_numpy(warm_sources(have, rows)).to(self.engine.device))
            else:
                new = self.engine.initial_state(rows - have)
            self.state = EngineState.concat([old, new])
        self.state = _trim(self.state, rows)
        logits, self.state = _engine_step(self.engine, self.x[:rows], self.state, self.batch)
        return logits

    @torch.inference_mode()
    def freqs(self, rows: int) -> np.ndarray:
        logits = self._pending.result() if self._pending is not None else self._lstm(rows)
        self._pending = None
        if self.bias is not None:
            rows, key, rep = logits.shape[0], None, None
            if self.bias.cfg.match_context:
                key = self.match.prediction_key(rows)
            if self.bias.cfg.rep_context:
                rep = self.match.rep_key(rows)
            f = self.bias.freqs(logits, key, rep)
        else:
            f = self.engine.freqs(logits).cpu().numpy()
        return self.match.adjust(f)

    @torch.inference_mode()
    def update(self, t: int, sym: np.ndarray, next_rows: int) -> None:
        self.x = torch.from_numpy(sym).to(self.engine.device)
        if next_rows >= OVERLAP_MIN_ROWS and self._overlap:
            self._pending = self._pool.submit(self._lstm, next_rows)
        if self.bias is not None:
            self.bias.update(sym)
        self.match.update(t, sym)


def _active(t: int, base: int, extra: int, streams: int) -> int:
    return streams if t < base else extra


def _trim(state: EngineState, rows: int) -> EngineState:
    if state.h[0].shape[0] == rows:
        return state
    return EngineState([h[:rows] for h in state.h], [c[:rows] for c in state.c])


def row_bits(freqs: np.ndarray, sym: np.ndarray) -> np.ndarray:
    """-log2 p of each row's symbol under a frequency table (the model's estimate, per byte)."""
    f = freqs.astype(np.float64, copy=False)
    return np.log2(f.sum(axis=1)) - np.log2(f[np.arange(len(sym)), sym])


def code_bits(freqs: np.ndarray, sym: np.ndarray) -> float:
    """-log2 p of `sym` summed over rows of a frequency table."""
    return float(row_bits(freqs, sym).sum())


Observer = Callable[[int, np.ndarray, np.ndarray], None]  # (step, frequency rows, symbols)


def block_layout(n: int, streams: int, method: Method) -> StreamLayout:
    """Where each of the block's n model bytes is coded (the method fixes the layout)."""
    return layout(n, streams, RECIPES[method].ramp if method in RECIPES else STAGES[method].ramp)


def _predicted(engine: IntegerLSTM, lay: StreamLayout, stages: Stages, mat: np.ndarray, batch: int = 0):
    """(step, frequency rows, coded symbols) for every step of a layout, stages updated."""
    active = lay.active.tolist() + [0]
    with _Predictor(engine, lay, stages, batch) as pred:
        for t in range(lay.steps):
            rows = active[t]
            f = pred.freqs(rows)
            sym = mat[:rows, t].astype(np.int64)
            yield t, f, sym
            pred.update(t, sym, active[t + 1])


def lstm_encode(engine: IntegerLSTM, data: bytes, streams: int, batch: int = 0,
                progress: Progress | None = None, method: Method = Method.LSTM_ADAPTIVE2,
                observe: Observer | None = None) -> tuple[bytes, float]:
    """Code `data` as `streams` streams; returns coded bytes and the model's estimate in bits.
    `observe` sees every step's frequency rows and coded symbols (lstmzip explain)."""
    if method in RECIPES:
        return device_coding.encode_blocks(engine, [data], [streams], RECIPES[method], progress, observe)[0]
    lay = block_layout(len(data), streams, method)
    enc = Encoder()
    bits = 0.0
    for t, f, sym in _predicted(engine, lay, STAGES[method], lay.matrix(data), batch):
        enc.encode(sym, f)
        bits += code_bits(f, sym)
        if observe:
            observe(t, f, sym)
        if progress:
            progress(len(sym))
    return enc.finish(), bits


def window_bits(engine: IntegerLSTM, windows: np.ndarray, method: Method) -> float:
    """The model's estimate in bits for uint8 windows [rows, n], each a stream of one plain
    layout, through `method`'s stages (a device recipe's by their host twins, the same
    integers): how --model auto scores a candidate."""
    rows, n = windows.shape
    lay = layout(rows * n, rows)
    recipe = RECIPES.get(method)
    stages = Stages(recipe.bias, recipe.match) if recipe else STAGES[method]
    return sum(code_bits(f, sym) for _, f, sym in _predicted(engine, lay, stages, windows))


def lstm_decode(engine: IntegerLSTM, coded: bytes, n: int, streams: int, batch: int = 0,
                progress: Progress | None = None, method: Method = Method.LSTM_ADAPTIVE2) -> bytes:
    if method in RECIPES:
        data = device_coding.decode_blocks(engine, [coded], [n], [streams], RECIPES[method], progress)[0]
        if data is None:
            raise CodecError("rANS coders did not end where they began")
        return data
    lay = block_layout(n, streams, method)
    mat = np.zeros((streams, lay.steps), dtype=np.uint8)
    dec = Decoder(coded)
    active = lay.active.tolist() + [0]
    with _Predictor(engine, lay, STAGES[method], batch) as pred:
        for t in range(lay.steps):
            rows = active[t]
            sym = dec.decode(pred.freqs(rows))
            mat[:rows, t] = sym
            pred.update(t, sym, active[t + 1])
            if progress:
                progress(rows)
    return lay.unstream(mat)


@dataclass
class BlockResult:
    header: BlockHeader
    coded: bytes
    model_bits: float  # the model's own estimate for this block (also when not chosen)


def _lzma_compress(data: bytes, thorough: bool) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_RAW, filters=_LZMA_THOROUGH if thorough else _LZMA_FILTERS)


def _lzma_decompress(coded: bytes, raw_len: int) -> bytes:
    d = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
    try:
        out = d.decompress(coded, max_length=raw_len + 1)
    except lzma.LZMAError:
        raise BlockDamaged("lzma data") from None
    return out


def _choose(data: bytes, cfg: CodingConfig, lstm: tuple[Method, int, int, int, bytes, float] | None,
            alt: Future | None = None) -> BlockResult:
    """The smallest of: the LSTM coding (method, transform, streams, model bytes, payload, bits)
    if there is one, LZMA (if cfg.try_lzma or not cfg.lstm; `alt`: already under way), stored."""
    best: tuple[Method, bytes] | None = None
    transform, streams, model_len, bits = transforms.Transform.NONE, 0, 0, None
    if lstm is not None:
        method, transform, streams, model_len, coded, bits = lstm
        best = (method, coded)
    if cfg.try_lzma or not cfg.lstm:
        lz = alt.result() if alt is not None else _lzma_compress(data, thorough=cfg.lstm)
        if best is None or len(lz) < len(best[1]):
            best = (Method.LZMA, lz)
    if len(best[1]) >= len(data):
        best = (Method.STORED, data)
    method, payload = best
    if method not in LSTM_METHODS:
        transform, streams, model_len = transforms.Transform.NONE, 0, 0
    header = BlockHeader(len(data), len(payload), method, int(transform), model_len, streams, crc32(data))
    return BlockResult(header, payload, bits if bits is not None else 8.0 * len(payload))


def compress_blocks(engine: IntegerLSTM | None, blocks: list[bytes], cfg: CodingConfig,
                    progress: Progress | None = None) -> list[BlockResult]:
    """compress_block for each block; a method of the device stages (lstmzip.stages) codes
    them all in one engine batch (the same bytes as one at a time)."""
    # (one batch codes one recipe: a small last block of another method is coded alone, the
    # same bytes as in a batch)
    methods = {cfg.method_for(b) for b in blocks}
    if not (cfg.lstm and len(methods) == 1 and next(iter(methods)) in RECIPES):
        return [compress_block(engine, b, cfg, progress) for b in blocks]
    (method,) = methods
    # xz -9e of every block on the CPU cores while a GPU codes them (lzma releases the GIL): it
    # would otherwise take longer than the LSTM. On the CPU, whose cores the coding keeps busy,
    # each block's after the coding instead (_choose), once the stages' tables are freed: 4 MB of
    # Python, peak RSS of the coder and its LSTM child 1,160 -> 1,111 MiB summed
    beside = cfg.try_lzma and engine.device.type != "cpu"
    with ThreadPoolExecutor(max_workers=max(1, min(len(blocks), (os.cpu_count() or 2) - 1))) as pool:
        alts = [pool.submit(_lzma_compress, b, True) if beside else None for b in blocks]
        chosen = [transforms.choose(b) for b in blocks]
        model_data = [transforms.forward(b, tr) for b, tr in zip(blocks, chosen)]
        streams = [block_streams(m, cfg, method) for m in model_data]
        coded = device_coding.encode_blocks(engine, model_data, streams, RECIPES[method], progress)
        return [_choose(b, cfg, (method, tr, s, len(m), c, bits), alt)
                for b, tr, s, m, (c, bits), alt in zip(blocks, chosen, streams, model_data, coded, alts)]


def compress_block(engine: IntegerLSTM | None, data: bytes, cfg: CodingConfig,
                   progress: Progress | None = None) -> BlockResult:
    """The smallest of: the LSTM coding (if cfg.lstm), LZMA (if cfg.try_lzma or not cfg.lstm), stored."""
    lstm = None
    if cfg.lstm:
        method = cfg.method_for(data)
        transform = transforms.choose(data)
        model_data = transforms.forward(data, transform)
        streams = block_streams(model_data, cfg, method)
        coded, bits = lstm_encode(engine, model_data, streams, cfg.physical_batch, progress, method)
        lstm = (method, transform, streams, len(model_data), coded, bits)
    return _choose(data, cfg, lstm)


def decompress_block(engine_for: Callable[[], IntegerLSTM], h: BlockHeader, payload: bytes, index: int,
                     batch: int = 0, progress: Progress | None = None) -> bytes:
    if h.method == Method.STORED:
        data = payload
    elif h.method == Method.LZMA:
        try:
            data = _lzma_decompress(payload, h.raw_len)
        except BlockDamaged as e:
            raise BlockDamaged(f"block {index} is damaged ({e})") from None
    else:
        engine = engine_for()  # outside the try: a missing model is not a damaged block
        try:
            model_data = lstm_decode(engine, payload, h.model_len, h.streams, batch, progress, h.method)
        except CodecError as e:
            raise BlockDamaged(f"block {index} is damaged ({e})") from None
        data = transforms.inverse(model_data, transforms.Transform(h.transform))
    return _checked(h, data, index)


def _checked(h: BlockHeader, data: bytes, index: int) -> bytes:
    """A decoded block, if its length and CRC are the header's."""
    if len(data) != h.raw_len or crc32(data) != h.raw_crc:
        raise BlockDamaged(f"block {index} is damaged (checksum mismatch)")
    return data


def decompress_blocks(engine_for: Callable[[], IntegerLSTM], items: list[tuple[BlockHeader, bytes, int]],
                      progress: Progress | None = None) -> list[bytes | BlockDamaged]:
    """decompress_block for each (header, payload, index); blocks of one device-stage method
    are decoded together in one engine batch. A damaged block is returned as its error."""
    out: list[bytes | BlockDamaged | None] = [None] * len(items)
    batched = [i for i, (h, _, _) in enumerate(items) if h.method in RECIPES]
    for i, (h, payload, index) in enumerate(items):
        if i not in batched:
            try:
                out[i] = decompress_block(engine_for, h, payload, index, progress=progress)
            except BlockDamaged as e:
                out[i] = e
    for method in {items[i][0].method for i in batched}:
        group = [i for i in batched if items[i][0].method == method]
        engine = engine_for()
        ok = []
        for i in group:  # a payload that cannot be rANS at all is damaged before decoding
            h, payload, index = items[i]
            try:
                device_coding.check_payload(payload, h.streams, RECIPES[method])
                ok.append(i)
            except CodecError as e:
                out[i] = BlockDamaged(f"block {index} is damaged ({e})")
        decoded = device_coding.decode_blocks(
            engine, [items[i][1] for i in ok], [items[i][0].model_len for i in ok],
            [items[i][0].streams for i in ok], RECIPES[method], progress) if ok else []
        for i, model_data in zip(ok, decoded):
            h, _, index = items[i]
            if model_data is None:
                out[i] = BlockDamaged(f"block {index} is damaged (rANS coders did not end where they began)")
                continue
            try:
                out[i] = _checked(h, transforms.inverse(model_data, transforms.Transform(h.transform)), index)
            except BlockDamaged as e:
                out[i] = e
    return out  # type: ignore[return-value]
