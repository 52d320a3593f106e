"""The device stages (lstmzip.stages): the host stages' integers, batched over blocks, and the
interleaved rANS coder. Run on the CPU here; the same torch code runs on CUDA
(benchmarks/device_check.py checks the archives there are identical)."""
from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import lstmzip
from lstmzip.codec.errors import CodecError
from lstmzip import api
from lstmzip.container import Method
from lstmzip.engines import engine_for, load_model
from lstmzip.pipeline import STAGES, CodingConfig, Stages, _Predictor
from lstmzip.stages import coding, lstm_bias, rans
from lstmzip.stages.lstm_bias import LstmBias
from lstmzip.stages.coding import Predictor, decode_blocks, encode_blocks
from lstmzip.stages.host.context_bias import BIAS_V2
from lstmzip.stages.host.match_model import MATCH_V2, MATCH_V7
from lstmzip.stages.recipes import RECIPES
from lstmzip.stages.rows import RowBatch, full_range
from lstmzip.stream_layout import Ramp, layout
from tests.golden.make_golden import ORIGINAL

SAMPLE = ORIGINAL.read_bytes()

RECIPE = RECIPES[Method.LSTM_RANS]


@pytest.fixture(scope="module")
def engine():
    return engine_for(load_model("default"))


def host_rows(engine, data: bytes, streams: int, stages: Stages) -> list[np.ndarray]:
    """Every step's frequency rows from the host stages."""
    lay = layout(len(data), streams, stages.ramp)
    mat, active, out = lay.matrix(data), lay.active.tolist() + [0], []
    with _Predictor(engine, lay, stages, 0) as p:
        for t in range(lay.steps):
            out.append(p.freqs(active[t]).copy())
            p.update(t, mat[: active[t], t].astype(np.int64), active[t + 1])
    return out


# streams that join later, from a running stream's LSTM state (method 15's layout) on method
# 4's stages: the host stages of methods 6-8 code such layouts
RAMPED = (replace(RECIPE, ramp=Ramp(64, 16), warm_start=True),
          Stages(BIAS_V2, MATCH_V2, Ramp(64, 16), warm_start=True))
# ... and with the match model's long context (method 16's MATCH_V7: the last 12 bytes, looked
# up in the stream's own entries first)
LONG = (replace(RAMPED[0], match=MATCH_V7), replace(RAMPED[1], match=MATCH_V7))
# Every recipe's invariants run with `-m slow`; the default suite keeps the first (no mixing)
# and the newest (every part of the mixing), and the golden tests decode and re-make every
# method's archive bit for bit (methods 11-15 alone took ~7 of CI's 20 minutes here).
NEWEST = (Method.LSTM_RANS, Method.LSTM_MIX13)
EVERY_RECIPE = [m if m in NEWEST else pytest.param(m, marks=pytest.mark.slow) for m in RECIPES]


@pytest.mark.parametrize("sync_free", [False, True])
@pytest.mark.parametrize("kind", ["plain", "ramped", "long"])
def test_device_stages_give_the_host_stages_rows_for_every_block_of_a_batch(engine, sync_free, kind):
    """Two blocks of different lengths and stream counts in one batch: each block's rows at
    each step are method 4's, bit for bit (so the batch does not leak between blocks). Also
    with the bias update's CUDA way of finding its rows (sync_free: no torch.unique), with
    ramped layouts whose joining streams start warm, and with the long context's matches."""
    recipe, stages = {"plain": (RECIPE, STAGES[Method.LSTM_ADAPTIVE2]), "ramped": RAMPED, "long": LONG}[kind]
    ramped = kind != "plain"
    blocks, streams = [SAMPLE[:1900], SAMPLE[1900:2805]], [3, 2]
    ref = [host_rows(engine, b, s, stages) for b, s in zip(blocks, streams)]
    rows = RowBatch.of([len(b) for b in blocks], streams, torch.device("cpu"), recipe.ramp)
    assert rows.ramped == ramped
    mat = rows.matrix(blocks).to(torch.int64)
    pred = Predictor(LstmBias(engine, rows, recipe), rows, recipe)
    pred.side.bias.sync_free = sync_free
    checked = long_hits = 0
    before = pred.match.length.clone()
    with torch.inference_mode():
        for t in range(rows.steps):
            act = rows.active(t)
            # a match's length jumps to long_context (12) only where the long context found it
            n = MATCH_V7.long_context
            long_hits += int(((pred.match.length == n) & (before < n - 1)).sum())
            before = pred.match.length.clone()
            f = pred.freqs(t, act).numpy()
            ids = np.arange(rows.rows) if act is None else act.numpy()
            for b, lay in enumerate(rows.layouts):
                if t < lay.steps:
                    mine = (ids >= rows.first_row[b]) & (ids < rows.first_row[b] + lay.streams)
                    assert np.array_equal(f[mine].astype(np.float32), ref[b][t]), (b, t)
                    checked += 1
            pred.update(t, torch.tensor(t), mat[:, t] if act is None else mat[act, t], act)
    assert checked == sum(len(r) for r in ref)
    assert (long_hits > 0) == (kind == "long")  # matches found by the long context were tested


def test_quantize_sums_to_the_total_and_keeps_every_symbol():
    g = torch.Generator().manual_seed(1)
    f = torch.randint(1, 1 << 24, (64, 256), generator=g, dtype=torch.int64)
    f[0] = 1
    f[1] = 1
    f[1, 7] = (1 << 24) - 1
    q = rans.quantize(f)
    assert (q.sum(1) == rans.TOTAL).all() and (q >= 1).all()
    assert int(q[1].argmax()) == 7 and int(q[1, 7]) > rans.TOTAL - 300


def _coder_ops(kind: str, monkeypatch) -> None:
    """Make rans code with torch ops (a GPU's), numpy ops (a CPU's, many rows) or Python
    integers (a CPU's, a few rows)."""
    monkeypatch.setattr(rans, "codes_in_numpy", lambda device: kind != "torch")
    monkeypatch.setattr(rans, "PYTHON_ROWS", 1 << 30 if kind == "rows" else 0)


CODER_OPS = ["torch", "numpy", "rows"]


def _random_symbols(g, steps: int, rows: int, alphabet: int, starts: np.ndarray, ends: np.ndarray):
    """Random quantised tables [steps, rows, alphabet] (some rows sharp, some flat), a symbol
    drawn from each, its frequency and the sum below it, and which rows code at each step."""
    q = rans.quantize(torch.randint(1, 1 << 20, (steps, rows, alphabet), generator=g) ** 2 >> 16)
    sym = torch.multinomial(q.view(-1, alphabet).double(), 1, generator=g).view(steps, rows)
    f = q.gather(2, sym.unsqueeze(2)).squeeze(2)
    start = q.cumsum(2).gather(2, sym.unsqueeze(2)).squeeze(2) - f
    t_col = torch.arange(steps).unsqueeze(1)
    active = (t_col < torch.from_numpy(ends)) & (t_col >= torch.from_numpy(starts))
    return q, sym, f, start, active


@pytest.mark.parametrize("ops", CODER_OPS)
@pytest.mark.parametrize("group", [1, 3])
@pytest.mark.parametrize("ramped", [False, True])
def test_rans_round_trip_of_random_tables(group, ramped, ops, monkeypatch):
    """The coder alone: random tables (some rows sharp, some flat), symbols drawn from them,
    rows of unequal lengths (and with `ramped`, some starting later), several rows to a coder;
    a payload is a block's states and words. Coding with torch ops, numpy ops and Python
    integers alike, and every encoder writes the same payload."""
    g = torch.Generator().manual_seed(2)
    steps, rows = 300, 7
    ends = np.array([300, 299, 1, 150, 0, 300, 2])
    starts = np.array([0, 40, 0, 7, 0, 299, 1]) if ramped else np.zeros(rows, dtype=np.int64)
    q, sym, f, start, active = _random_symbols(g, steps, rows, 256, starts, ends)
    coders = rans.Coders([rows], starts, ends, group, torch.device("cpu"))
    payloads = []
    for encoder in [ops] + [k for k in CODER_OPS if k != ops]:
        _coder_ops(encoder, monkeypatch)
        x, words, wrote = rans.encode(coders, (start * active).to(torch.int32), torch.where(active, f, 1).to(torch.int32))
        payloads.append(rans.pack(x.numpy(), words.numpy()[wrote.numpy()]))
    assert payloads[0] == payloads[1] == payloads[2]
    _coder_ops(ops, monkeypatch)
    states, w = rans.unpack(payloads[0], coders.count)
    dec = rans.Decoder(coders, torch.from_numpy(states), torch.from_numpy(w), torch.tensor([0]), torch.tensor([len(w)]))
    for t in range(steps):
        act = torch.from_numpy(np.flatnonzero(active[t].numpy()))
        key = (int((starts <= t).sum()), int((ends <= t).sum()))
        assert torch.equal(dec.decode(q[t, act], act, key), sym[t, act])
    assert not dec.damaged().any()


def test_the_cpu_encoders_write_the_torch_encoders_words_for_several_blocks(monkeypatch):
    """Two blocks whose coders do not all take part in every sub-step (the numpy encoder's
    gathered, not sliced, coders): the same states, words and written flags every way."""
    g = torch.Generator().manual_seed(3)
    steps, streams, group = 50, [5, 4], 3
    rows = sum(streams)
    ends = np.array([50, 49, 50, 3, 50, 50, 20, 50, 49])
    starts = np.array([0, 0, 0, 0, 9, 0, 0, 0, 10])
    coders = rans.Coders(streams, starts, ends, group, torch.device("cpu"))
    t_col = torch.arange(steps).unsqueeze(1)
    active = (t_col < torch.from_numpy(ends)) & (t_col >= torch.from_numpy(starts))
    f = torch.randint(1, 1 << 23, (steps, rows), generator=g)
    start = torch.randint(0, 1 << 23, (steps, rows), generator=g)
    made = []
    for ops in CODER_OPS:
        _coder_ops(ops, monkeypatch)
        x, words, wrote = rans.encode(coders, (start * active).to(torch.int32), torch.where(active, f, 1).to(torch.int32))
        made.append((x, words[wrote].to(torch.int64) & 0xFFFFFFFF, wrote))  # (their 32 bits: int32 or int64)
    assert all(torch.equal(a, b) and torch.equal(a, c) for a, b, c in zip(*made)) and made[0][2].any()


@pytest.mark.parametrize("ops", CODER_OPS)
def test_several_blocks_decode_in_lockstep(ops, monkeypatch):
    """Two blocks' coders in one decoder (each block reads its own words; some sub-steps hold
    coders of both, some rows start late or end early): every symbol back, every way."""
    g = torch.Generator().manual_seed(4)
    steps, streams, group = 60, [5, 4], 3
    rows = sum(streams)
    ends = np.array([60, 59, 60, 3, 60, 60, 20, 60, 59])
    starts = np.array([0, 0, 0, 0, 9, 0, 0, 0, 10])
    q, sym, f, start, active = _random_symbols(g, steps, rows, 16, starts, ends)
    coders = rans.Coders(streams, starts, ends, group, torch.device("cpu"))
    _coder_ops(ops, monkeypatch)
    x, words, wrote = rans.encode(coders, (start * active).to(torch.int32), torch.where(active, f, 1).to(torch.int32))
    x, words, wrote = x.numpy(), words.numpy(), wrote.numpy()
    of_block = [coders.block_of_coder.numpy() == b for b in range(len(streams))]
    per_block = [rans.pack(x[mine], words[:, :, mine][wrote[:, :, mine]]) for mine in of_block]
    unpacked = [rans.unpack(p, n) for p, n in zip(per_block, coders.per_block.tolist())]
    counts = np.array([len(w) for _, w in unpacked])
    first = np.r_[0, np.cumsum(counts)[:-1]]
    dec = rans.Decoder(coders, torch.from_numpy(np.concatenate([s for s, _ in unpacked])),
                       torch.from_numpy(np.concatenate([w for _, w in unpacked])), torch.from_numpy(first),
                       torch.from_numpy(first + counts))
    for t in range(steps):
        act = torch.from_numpy(np.flatnonzero(active[t].numpy()))
        key = (int((starts <= t).sum()), int((ends <= t).sum()))
        assert torch.equal(dec.decode(q[t, act], act, key), sym[t, act]), t
    assert not dec.damaged().any() and counts.min() > 0


@pytest.mark.parametrize("method", EVERY_RECIPE)
def test_blocks_code_the_same_alone_and_batched(engine, method):
    """Every device recipe (method 10, and 11 and 12 with their mixing): a block's payload is
    the same bytes alone or batched with others, and the batch decodes."""
    recipe = RECIPES[method]
    blocks, streams = [SAMPLE[:1500], SAMPLE[1500:2700], SAMPLE[2700:]], [2, 3, 1]
    together = encode_blocks(engine, blocks, streams, recipe)
    alone = [encode_blocks(engine, [b], [s], recipe)[0] for b, s in zip(blocks, streams)]
    assert [c for c, _ in together] == [c for c, _ in alone]
    assert decode_blocks(engine, [c for c, _ in together], [len(b) for b in blocks], streams, recipe) == blocks


@pytest.mark.parametrize("method", EVERY_RECIPE)
def test_the_child_process_codes_the_same_bytes(engine, method, monkeypatch):
    """With the LSTM and the context bias in a forked child process (the CLI's default on a
    Linux CPU: coding runs ahead on the known bytes, decoding hands each byte over) and in
    this thread: the same payloads, and either decodes them; streams of unequal lengths, so
    the active rows change."""
    recipe = RECIPES[method]
    blocks, streams = [SAMPLE[:1500], SAMPLE[1500:2700]], [2, 3]
    made = []
    for fork in (False, True):
        monkeypatch.setattr(lstm_bias, "forking_allowed", lambda device, fork=fork: fork)
        made.append(encode_blocks(engine, blocks, streams, recipe))
    assert made[0] == made[1]
    with torch.inference_mode():  # made in the caller's inference mode too
        assert encode_blocks(engine, blocks, streams, recipe) == made[1]
    for fork in (False, True):  # the child decodes what was coded without one, and back
        monkeypatch.setattr(lstm_bias, "forking_allowed", lambda device, fork=fork: fork)
        assert decode_blocks(engine, [c for c, _ in made[int(not fork)]], [len(b) for b in blocks], streams, recipe) == blocks


class _Replayed:
    """A stand-in for a captured CUDA graph on the CPU: replay() runs the captured step again."""

    def __init__(self, step):
        self.replay = step


@pytest.mark.parametrize("method", EVERY_RECIPE)
def test_steps_replayed_as_a_captured_graph_code_the_same_bytes(engine, method, monkeypatch):
    """What a CUDA graph does, on the CPU: the captured step is replayed for every later step at
    which all rows are active, with the Python values of the step it captured (a graph replays
    kernels, not Python) and the device state of its own. The same payloads as stepping
    eagerly, both ways, and a step is captured (a layout whose rows are all active for 8 steps
    or more uses a graph: none did from 0.15 to 0.18.1)."""
    recipe = RECIPES[method]
    blocks, streams = [SAMPLE[:1500], SAMPLE[1500:2700]], [2, 3]
    monkeypatch.setattr(lstm_bias, "forking_allowed", lambda device: False)  # (as on CUDA)
    eager = encode_blocks(engine, blocks, streams, recipe)
    captured = []

    def capture(step):
        step()  # the warm-up: the captured step itself
        captured.append(step)
        return _Replayed(step)

    monkeypatch.setattr(coding, "graphs_enabled", lambda device: True)
    monkeypatch.setattr(coding, "_capture", capture)
    assert encode_blocks(engine, blocks, streams, recipe) == eager
    assert decode_blocks(engine, [c for c, _ in eager], [len(b) for b in blocks], streams, recipe) == blocks
    assert len(captured) == 2


def test_full_steps_are_those_at_which_every_row_is_active():
    assert full_range(np.array([0, 3]), np.array([9, 7])) == (3, 7) and full_range(np.zeros(0), np.zeros(0)) == (0, 0)
    plain = RowBatch.of([1500, 1200], [2, 3], torch.device("cpu"))
    assert plain.full_steps() == (0, 400)
    ramped = RowBatch.of([1500, 1200], [2, 3], torch.device("cpu"), Ramp(64, 16))
    first, full = ramped.full_steps()
    assert first == int(ramped.starts_np.max()) and full == int(ramped.ends_np.min()) and full - first >= 8
    assert all(ramped.active(t) is None for t in range(first, full))
    assert ramped.active(first - 1) is not None and ramped.active(full) is not None


@pytest.mark.parametrize("coding", [True, False])
def test_a_child_process_that_dies_is_one_error_not_a_hang(engine, monkeypatch, coding):
    """The child process fails at step 40 (here by an exception; a kill closes its pipe the
    same way): the parent raises LstmzipError instead of waiting for it, and reaps it."""
    from lstmzip.errors import LstmzipError

    real = lstm_bias.LstmBias.lstm_freqs  # (the child's, coding and decoding)

    def failing(self, t, act):
        if t == 40:
            raise MemoryError("the child ran out")
        return real(self, t, act)

    monkeypatch.setattr(lstm_bias, "forking_allowed", lambda device: True)
    blocks, streams = [SAMPLE[:1500]], [2]
    coded = [c for c, _ in encode_blocks(engine, blocks, streams, RECIPE)]
    monkeypatch.setattr(lstm_bias.LstmBias, "lstm_freqs", failing)
    with pytest.raises(LstmzipError, match="process ended"):
        if coding:
            encode_blocks(engine, blocks, streams, RECIPE)
        else:
            decode_blocks(engine, coded, [1500], streams, RECIPE)
    assert lstm_bias._running == 0
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left behind


def test_a_coder_starting_in_another_thread_waits_for_the_fork(monkeypatch):
    """A fork copies only the forking thread: a second coder (batch.py codes files in threads)
    must not be inside torch ops while the first coder forks. The first forks under the lock
    that a coder takes to start, so the second starts only after the fork."""
    import threading

    forking, forked, events = threading.Event(), threading.Event(), []

    class SlowFork:  # stands in for ForkedLstmBias: the fork takes a while
        def __init__(self, *args):
            forking.set()
            forked.wait(5)
            events.append("forked")

        def close(self):
            pass

    class InThread:
        def __init__(self, *args):
            events.append("second coder started")

        def close(self):
            pass

    monkeypatch.setattr(lstm_bias, "forking_allowed", lambda device: True)
    monkeypatch.setattr(lstm_bias, "ForkedLstmBias", SlowFork)
    monkeypatch.setattr(lstm_bias, "LstmBias", InThread)
    rows = type("Rows", (), {"device": torch.device("cpu"), "steps": 2})()

    def code(hold=None):
        with lstm_bias.lstm_bias(None, rows, None, None):
            if hold is not None:  # the first coder codes on while the second starts
                hold.wait(5)

    hold = threading.Event()
    first = threading.Thread(target=code, args=(hold,))
    first.start()
    assert forking.wait(5)
    second = threading.Thread(target=code)
    second.start()
    second.join(0.3)  # it would have started by now, were it not waiting
    forked.set()
    second.join(5)
    hold.set()
    first.join(5)
    assert events == ["forked", "second coder started"]
    assert lstm_bias._running == 0


@pytest.mark.parametrize("method", [Method.LSTM_RANS, Method.LSTM_MIX13])
def test_the_decoders_torch_ops_decode_what_its_numpy_ones_do(engine, method, monkeypatch):
    """A CPU decodes in numpy or (a few rows) in Python integers; the torch ops a GPU runs
    decode the same blocks (batched, with a ramped layout for method 24), and find a damaged
    one."""
    recipe = RECIPES[method]
    blocks, streams = [SAMPLE[:1500], SAMPLE[1500:2700]], [2, 3]
    coded = [c for c, _ in encode_blocks(engine, blocks, streams, recipe)]
    bad = bytearray(coded[0])
    bad[len(bad) // 2] ^= 0x10
    for ops in CODER_OPS:
        _coder_ops(ops, monkeypatch)
        assert decode_blocks(engine, coded, [len(b) for b in blocks], streams, recipe) == blocks
        assert decode_blocks(engine, [bytes(bad), coded[1]], [len(b) for b in blocks], streams, recipe)[0] is None


def test_rans_bits_match_the_estimate(engine):
    """The payload is the model's estimate plus what the coders' states waste (~6 bytes a
    coder: the decoders end in the known state 2^31, and words are whole): streams share
    coders, so 12 streams cost 2 coders' waste, not 12."""
    (coded, bits), = encode_blocks(engine, [SAMPLE], [12], RECIPE)
    assert RECIPE.coder_group == 8
    assert 0 <= len(coded) - bits / 8 <= 2 * 8 + 4


def test_a_damaged_block_is_found_and_its_neighbours_decode(engine):
    blocks, streams = [SAMPLE[:1400], SAMPLE[1400:]], [2, 2]
    coded = [c for c, _ in encode_blocks(engine, blocks, streams, RECIPE)]
    bad = bytearray(coded[0])
    bad[len(bad) // 2] ^= 0x10
    out = decode_blocks(engine, [bytes(bad), coded[1]], [len(b) for b in blocks], streams, RECIPE)
    assert out[0] is None and out[1] == blocks[1]


@pytest.mark.parametrize("payload", [b"", b"\x00" * 7, b"\xff" * 8 + b"\x00" * 3, b"\x00" * 16])
def test_impossible_rans_payloads_are_refused(payload):
    with pytest.raises(CodecError):
        rans.unpack(payload, 1 if len(payload) != 16 else 2)


def test_archive_is_the_same_whatever_the_batch(tmp_path):
    data = SAMPLE[:2600]
    made = [lstmzip.compress(data, config=CodingConfig(lstm_method=Method.LSTM_RANS, block_size=1000,
                                                       min_stream_len=300, try_lzma=False, batch_blocks=b))
            for b in (1, 3)]
    assert made[0] == made[1]
    for batch in (1, 2):
        out = io.BytesIO()
        api.decompress_stream(io.BytesIO(made[0]), out, batch_blocks=batch)
        assert out.getvalue() == data


def test_cli_method_and_device(runner, tmp_path):
    """--method lstm_rans writes method 10 and decodes; --device cuda without CUDA is one
    `lstmzip:` line and exit 1; a method that does not exist is a usage error."""
    from lstmzip.cli import app
    from lstmzip.container import read_header, read_record

    src = tmp_path / "sample.txt"
    src.write_bytes(SAMPLE)
    r = runner.invoke(app, ["compress", "-q", "--method", "lstm_rans", "--device", "cpu", str(src)])
    assert r.exit_code == 0, r.output
    archive = tmp_path / "sample.txt.lstmz"
    with open(archive, "rb") as f:
        read_header(f)
        assert read_record(f).method == Method.LSTM_RANS
    src.unlink()
    assert runner.invoke(app, ["decompress", "-q", "--device", "auto", str(archive)]).exit_code == 0
    assert src.read_bytes() == SAMPLE
    assert runner.invoke(app, ["compress", "-q", "--method", "nope", "-f", str(src)]).exit_code == 2
    if not torch.cuda.is_available():
        r = runner.invoke(app, ["test", "--device", "cuda", str(archive)])
        assert r.exit_code == 1 and r.stderr.strip().startswith("lstmzip: --device cuda: no CUDA device")
        assert "\n" not in r.stderr.strip()


@pytest.mark.parametrize("golden", ["sample.rans.lstmz", "sample.mix12.lstmz"] + [
    pytest.param(f"sample.mix{v}.lstmz", marks=pytest.mark.slow)
    for v in ("", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "13", "14")])
def test_mutated_rans_archives_decode_or_fail_cleanly(golden):
    """Any byte of a method-10 to 16 or 18 to 25 archive changed: the original back, or one
    lstmzip error."""
    from lstmzip.errors import LstmzipError

    archive = (Path(ORIGINAL).parent / golden).read_bytes()
    rng = np.random.default_rng(5)
    outcomes = {"error": 0, "original": 0}
    for pos in rng.choice(len(archive), size=10, replace=False):
        bad = bytearray(archive)
        bad[pos] ^= int(rng.integers(1, 256))
        try:
            assert lstmzip.decompress(bytes(bad)) == SAMPLE
            outcomes["original"] += 1
        except LstmzipError:
            outcomes["error"] += 1
    assert outcomes["error"] >= 8, outcomes


@pytest.mark.gpu
def test_cuda_archive_is_the_cpu_archive():
    """On a GPU (`-m gpu`): method 10 on CUDA (CUDA graphs included) writes the CPU's bytes,
    several blocks batched, and each side decodes the other's archive."""
    data = SAMPLE * 4
    cfg = CodingConfig(lstm_method=Method.LSTM_RANS, block_size=4096, min_stream_len=500, try_lzma=False)
    made = {}
    for device in ("cpu", "cuda"):
        out = io.BytesIO()
        api.compress_stream(io.BytesIO(data), out, config=cfg, device=device)
        made[device] = out.getvalue()
    assert made["cuda"] == made["cpu"]
    for device in ("cpu", "cuda"):
        out = io.BytesIO()
        api.decompress_stream(io.BytesIO(made["cuda"]), out, device=device)
        assert out.getvalue() == data
