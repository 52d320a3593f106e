import dataclasses
import io
import os

import pytest
import torch

import lstmzip
from lstmzip import CodingConfig
from lstmzip.api import compress_stream
from tests.conftest import EVAL, SMALL_TEXT, data_file, eval_file

FAST = ["anne.txt", "anne_crlf.txt", "future.py", "apache.log"]
ALL = sorted(str(p.relative_to(EVAL)) for p in EVAL.glob("*/*") if p.is_file() and p.suffix not in (".md", ".tsv")) \
    if EVAL.exists() else []


@pytest.mark.parametrize("name", FAST)
def test_data_files(name):
    data = data_file(name)
    packed = lstmzip.compress(data)
    assert lstmzip.decompress(packed) == data
    assert len(packed) < len(data)


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
def test_eval_files_all(name):
    data = eval_file(name)
    assert lstmzip.decompress(lstmzip.compress(data)) == data


@pytest.mark.parametrize("data", [b"", b"x", b"\n", b"\r\n", b"\r", b"\x00" * 3])
def test_tiny_inputs(data):
    assert lstmzip.decompress(lstmzip.compress(data)) == data


def test_random_binary_barely_grows():
    data = os.urandom(20000)
    packed = lstmzip.compress(data)
    assert lstmzip.decompress(packed) == data
    assert len(packed) <= len(data) + 150  # header + one block record + trailer


def test_non_utf8_and_mixed_line_endings():
    data = b"caf\xe9 \xff\xfe\r\nline two\nlone\rcr\r\n" * 40 + bytes(range(256))
    assert lstmzip.decompress(lstmzip.compress(data)) == data


def test_crlf_text_uses_the_transform_and_codes_like_lf():
    lf = SMALL_TEXT
    crlf = lf.replace(b"\n", b"\r\n")
    cfg = CodingConfig(try_lzma=False)
    a = compress_stream(io.BytesIO(lf), io.BytesIO(), config=cfg)
    b = compress_stream(io.BytesIO(crlf), io.BytesIO(), config=cfg)
    assert lstmzip.decompress(lstmzip.compress(crlf)) == crlf
    assert abs(a.model_bits - b.model_bits) < 1e-6 and abs(a.output_bytes - b.output_bytes) <= 4


def test_several_blocks():
    data = SMALL_TEXT * 3
    cfg = CodingConfig(block_size=5000)
    packed = lstmzip.compress(data, config=cfg)
    assert lstmzip.decompress(packed) == data


@pytest.mark.parametrize("method, runs", [
    (4, [(2, 0), (1, 0), (2, 7), (1, 1)]),  # (threads, engine batch); method 4 honours physical_batch
    (19, [(2, 0), (1, 0)]),  # the default model's for repetitive blocks: its LSTM in a child process
])
def test_archive_bytes_independent_of_batch_and_threads(method, runs):
    """Same archive for torch threads 1 and 2, and (method 4) engine batches 1, 7 and all streams."""
    from lstmzip.container import Method

    data = data_file("anne.txt")[:3000]
    outs = []
    before = torch.get_num_threads()
    try:
        for threads, batch in runs:
            torch.set_num_threads(threads)
            cfg = CodingConfig(min_stream_len=250, physical_batch=batch, try_lzma=False, lstm_method=Method(method))
            outs.append(lstmzip.compress(data, config=cfg))
    finally:
        torch.set_num_threads(before)
    assert all(o == outs[0] for o in outs)
    assert lstmzip.decompress(outs[0]) == data


def test_api_threads_set_torchs_count_while_coding_and_restore_it(monkeypatch, tmp_path):
    """threads=N codes with N torch threads (0: the CLI's choice, one less than the cores),
    None leaves torch's count; afterwards the count is what it was, and the archive is the same."""
    from lstmzip.api import BlockWriter
    from lstmzip.pipeline import default_threads

    seen = []
    add_block = BlockWriter.add_block
    monkeypatch.setattr(BlockWriter, "add_block", lambda self, b: (seen.append(torch.get_num_threads()), add_block(self, b))[1])
    data = data_file("anne.txt")[:2500]
    before = torch.get_num_threads()
    outs = {}
    for threads in (None, 0, 3):
        seen.clear()
        outs[threads] = lstmzip.compress(data, threads=threads)
        assert set(seen) == {before if threads is None else threads or default_threads()}, (threads, seen)
        assert torch.get_num_threads() == before
    assert len(set(outs.values())) == 1
    assert lstmzip.decompress(outs[0], threads=1) == data and torch.get_num_threads() == before
    path = tmp_path / "t.lstmz"
    seen.clear()
    with lstmzip.open(path, "wb", threads=3) as f:
        f.write(data)
    assert seen == [3] and torch.get_num_threads() == before and path.read_bytes() == outs[0]
    with lstmzip.open(path, "rb", threads=1) as f:
        assert f.read() == data
    with pytest.raises(ValueError):
        lstmzip.compress(data, threads=-1)
    with pytest.raises(ValueError):
        lstmzip.open(path, "rb", threads=-1)
    assert torch.get_num_threads() == before


def test_open_like_gzip(tmp_path):
    path = tmp_path / "a.lstmz"
    with lstmzip.open(path, "wb") as f:
        f.write(b"hello ")
        f.write(b"world\n" * 100)
    with lstmzip.open(path, "rb") as f:
        assert f.read(6) == b"hello "
        assert f.read() == b"world\n" * 100
    assert lstmzip.decompress(path.read_bytes()) == b"hello " + b"world\n" * 100


def test_auto_model_picks_the_best_scoring_candidate(tiny_model_file):
    from lstmzip.api import choose_model

    text = data_file("anne.txt")[:4096]
    assert choose_model(text, [str(tiny_model_file), "default"]) == "default"  # not just the first
    packed = lstmzip.compress(text, "auto")  # English: default beats the shipped python model
    from lstmzip import container

    from lstmzip.models import registry

    assert container.read_header(io.BytesIO(packed)).made_with(registry.SHIPPED["default"].sha256)
    assert lstmzip.decompress(packed) == text


def test_auto_model_windows_spread_over_the_sample_and_start_after_a_newline():
    from lstmzip.auto_model import windows

    text = b"".join(b"line %05d of the sample\n" % i for i in range(4000))
    rows = windows(text, count=8, length=100)
    assert rows.shape == (8, 100)
    starts = [text.index(bytes(r)) for r in rows]
    assert starts[0] == 0 and starts[-1] > len(text) - 200 and starts == sorted(starts)
    assert all(text[s - 1 : s] == b"\n" for s in starts[1:-1])
    assert windows(b"abc", count=8, length=100).tolist() == [list(b"abc")]  # short: what there is
    assert windows(text[:450], count=8, length=100).shape == (4, 100)  # consecutive windows
    assert windows(b"").size == 0


def test_auto_model_discounts_only_long_stream_methods():
    """The logs model's method (long streams) is scored at its window bits / LONG_STREAM_DISCOUNT,
    the others at their window bits."""
    from lstmzip import auto_model, transforms
    from lstmzip.container import Method
    from lstmzip.engines import engine_for, load_model
    from lstmzip.pipeline import window_bits

    sample = data_file("apache.log")
    engine = engine_for(load_model("default"))
    rows = auto_model.windows(transforms.forward(sample, transforms.choose(sample)))
    got = auto_model.scores(sample, {"plain": (engine, Method.LSTM_ADAPTIVE2), "long": (engine, Method.LSTM_MIXER)})
    assert got["plain"] == window_bits(engine, rows, Method.LSTM_ADAPTIVE2)
    assert got["long"] == window_bits(engine, rows, Method.LSTM_MIXER) / auto_model.LONG_STREAM_DISCOUNT
    assert auto_model.LONG_STREAM_DISCOUNT > 1


def test_lzma_fallback_searches_like_xz_9e_and_decodes_like_preset_6():
    from lstmzip import pipeline

    data = b"".join(b"[2016-12-19 16:%02d:%02d,%03d] INFO [Controller %d]: state %d\n" % (i % 60, i % 59, i % 997, i % 3, i % 7)
                    for i in range(4000))
    thorough, preset6 = pipeline._lzma_compress(data, thorough=True), pipeline._lzma_compress(data, thorough=False)
    assert len(thorough) < len(preset6)
    assert pipeline._lzma_decompress(thorough, len(data)) == data


def test_auto_model_picks_the_logs_model_for_logs_and_the_python_model_for_python():
    from lstmzip.api import choose_model

    sample = data_file("apache.log")  # a web server access log
    assert choose_model(sample) == "logs"
    assert choose_model(data_file("future.py")) == "python"
    assert lstmzip.decompress(lstmzip.compress(sample, "logs")) == sample


def test_auto_model_scores_each_model_with_the_method_it_would_code_the_input_with(monkeypatch):
    """An input of up to 16 KiB is one small block: the python model codes it with method 6,
    so its windows are scored with method 6, a longer input's with method 24 (the default
    model's with its method for repetitive blocks, 24, either way: this is code)."""
    from lstmzip import api
    from lstmzip import container as ct

    seen = []

    def record(sample, candidates):
        seen.append({name: method for name, (_, method) in candidates.items()})
        return "default"

    monkeypatch.setattr(api.auto_model, "choose", record)
    code = data_file("future.py")
    small, large = code, (code * (1 + (17 << 10) // len(code)))[: 17 << 10]  # 5 KB, 17 KiB
    api.choose_model(small)
    api.choose_model(large)
    assert [s["python"] for s in seen] == [ct.Method.LSTM_RAMP, ct.Method.LSTM_MIX13]
    assert [s["logs"] for s in seen] == [ct.Method.LSTM_MIXER16] * 2
    assert [s["default"] for s in seen] == [ct.Method.LSTM_MIX13] * 2


def test_domain_models_code_with_their_methods():
    """The logs model's blocks use method 17, the python model's 24 and 6 for blocks of up to 16
    KiB (models.registry), the default model's 23, 24 for repetitive blocks (of any size) and 25
    for other blocks of up to 16 KiB; --method's one is taken for every block."""

    from lstmzip import container as ct

    def methods(packed: bytes) -> list[int]:
        f = io.BytesIO(packed)
        ct.read_header(f)
        out = []
        while (r := ct.read_record(f)) is not None and hasattr(r, "method"):
            out.append(r.method)
            f.seek(r.coded_len, 1)
        return out

    text = b"".join(b"2016-12-19 10:31:%02d INFO worker %d started\n" % (i % 60, i % 7) for i in range(200))
    assert len(text) <= 16 << 10
    for model, method in (("logs", ct.Method.LSTM_MIXER16), ("python", ct.Method.LSTM_RAMP),
                          ("default", ct.Method.LSTM_MIX13)):
        packed = lstmzip.compress(text, model, lstmzip.CodingConfig(try_lzma=False, min_stream_len=1024))
        assert methods(packed) == [method]
        assert lstmzip.decompress(packed) == text
    # prose (zlib level 1 above 3.4 bits a byte) and a log, one block each above the small
    # blocks' size (here 4 KiB): 23 and 24; of up to 16 KiB: 25 and 24
    prose = data_file("anne.txt")[:12000]
    packed = lstmzip.compress(prose + text[:12000], "default", lstmzip.CodingConfig(try_lzma=False, block_size=12000))
    assert methods(packed) == [ct.Method.LSTM_MIX14, ct.Method.LSTM_MIX13]
    cfg = lstmzip.CodingConfig(try_lzma=False, block_size=12000, small_block_len=4096)
    packed = lstmzip.compress(prose + text[:12000], "default", cfg)
    assert methods(packed) == [ct.Method.LSTM_MIX12, ct.Method.LSTM_MIX13]
    assert lstmzip.decompress(packed) == prose + text[:12000]
    # a 20 KiB block and a small last one: each with its method (coded apart, not in one batch)
    code = data_file("future.py")
    code = (code * (1 + (26 << 10) // len(code)))[: 26 << 10]
    cfg = lstmzip.CodingConfig(try_lzma=False, block_size=20 << 10)
    packed = lstmzip.compress(code, "python", cfg)
    assert methods(packed) == [ct.Method.LSTM_MIX13, ct.Method.LSTM_RAMP]
    assert lstmzip.decompress(packed) == code
    forced = lstmzip.compress(code, "python", dataclasses.replace(cfg, lstm_method=ct.Method.LSTM_MIX6))
    assert methods(forced) == [ct.Method.LSTM_MIX6] * 2


@pytest.mark.parametrize("method", [6, 7, 8, 9])
def test_ramped_archive_bytes_independent_of_batch_and_threads(method):
    """Methods 6-9: streams join mid-block (the engine state grows; in methods 7-9 from the
    states of earlier streams), same archive for any engine batch and thread count, and it decodes."""
    from lstmzip.container import Method

    data = data_file("anne.txt")[:6000]
    outs = []
    before = torch.get_num_threads()
    try:
        for threads, batch in [(2, 0), (1, 3)]:
            torch.set_num_threads(threads)
            cfg = CodingConfig(min_stream_len=700, columns_stream_len=0, physical_batch=batch, try_lzma=False,
                               lstm_method=Method(method))
            outs.append(lstmzip.compress(data, config=cfg))
    finally:
        torch.set_num_threads(before)
    assert outs[0] == outs[1]
    assert lstmzip.decompress(outs[0]) == data
