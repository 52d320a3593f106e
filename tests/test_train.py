"""`lstmzip train`: a tiny real run end to end, exact resume, and every kind of bad input."""
import bz2
import json

import pytest
import torch
from typer.testing import CliRunner

import lstmzip
from lstmzip.cli import app
from lstmzip.errors import LstmzipError
from lstmzip.training import sources
from lstmzip.training.run import TrainOptions, train

TINY = dict(layers=1, hidden=32, embed=8, seq_len=32, batch=8, eval_every=5, patience=0)


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "corpus"
    (d / "sub").mkdir(parents=True)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    for i in range(6):
        text = "\n".join(" ".join(words[(i * 7 + j * k) % len(words)] for k in range(9)) for j in range(120))
        (d / f"doc{i}.txt").write_text(text)
    (d / "sub" / "more.txt.bz2").write_bytes(bz2.compress(("def f(x):\n    return x + 1\n" * 200).encode()))
    (d / "image.bin").write_bytes(bytes(range(256)) * 20)  # binary: skipped with a warning
    return d


def test_corpus_reading_skips_binary_and_opens_compressed(corpus):
    c = sources.read_corpus([corpus])
    names = [f.path.split("/")[-1] for f in c.files]
    assert "more.txt.bz2" in names and "image.bin" not in names and len(names) == 7
    assert any("image.bin: binary" in s for s in c.skipped)


def test_train_cli_end_to_end(corpus, tmp_path):
    out = tmp_path / "tiny.lstmzm"
    r = CliRunner().invoke(app, ["train", str(corpus), "-o", str(out), "--steps", "12", "--layers", "1",
                                 "--hidden", "32", "--embed", "8", "--seq-len", "32", "--batch", "8", "-q"])
    assert r.exit_code == 0, r.output
    assert "integer / float" in r.stderr and "skipped" in r.stderr
    for suffix in (".lstmzm", ".float.safetensors", ".log.csv", ".png"):
        assert (tmp_path / f"tiny{suffix}").exists(), suffix
    info = json.loads(CliRunner().invoke(app, ["models", "--info", str(out)]).stdout)
    assert info["training"]["steps"] == 12 and info["training"]["corpus"]["files"]
    assert info["validation"]["int_bpc"] > 0 and "library_version" in info and info["block_method"] == 23
    assert info["repetitive_block_method"] == 24 and info["small_block_method"] == 25  # the default model's
    from lstmzip import engines
    from lstmzip.container import Method

    cfg = engines.with_model_methods(lstmzip.CodingConfig(), engines.load_model(str(out)))
    assert (cfg.lstm_method, cfg.repetitive_block_method) == (Method.LSTM_MIX12, Method.LSTM_MIX13)
    data = (corpus / "doc0.txt").read_bytes()
    assert lstmzip.decompress(lstmzip.compress(data, str(out)), str(out)) == data
    # fine-tune from the float weights written beside it
    out2 = tmp_path / "tiny2.lstmzm"
    report = lstmzip.train(corpus, out2, steps=5, init_from=str(out), **{k: v for k, v in TINY.items()
                                                                           if k not in ("layers", "hidden", "embed")})
    assert report.model_path == out2 and report.steps == 5


def test_a_fine_tuned_model_codes_with_the_method_of_the_model_it_came_from(tmp_path, tiny_model_file):
    """--init-from logs gives a model file that records block method 17 (the logs model's), and compress uses it;
    from scratch (or from a file that says nothing) it is the default model's, 20; an unknown method is refused."""
    import io

    from lstmzip import container
    from lstmzip.engines import lstm_method_for, with_model_methods
    from lstmzip.training.run import inherited_method, inherited_methods
    from lstmzip.models import model_file

    assert inherited_method("logs") == 17 and inherited_method("default") == 23 and inherited_method(None) == 23
    assert inherited_method(str(tiny_model_file)) == 23 and inherited_method("python") == 24
    # the small and repetitive blocks' methods come along (python: 6 up to 16 KiB; default: 25, 24 when repetitive)
    assert inherited_methods("python") == {"block_method": 24, "small_block_method": 6}
    assert inherited_methods("default") == inherited_methods(None) == {"block_method": 23, "repetitive_block_method": 24,
                                                                         "small_block_method": 25}
    cfg = with_model_methods(lstmzip.CodingConfig(), model_file.read(tiny_model_file))  # it names none
    assert (cfg.lstm_method, cfg.repetitive_block_method, cfg.small_block_method) == (container.Method.LSTM_MIX12, None, None)
    loaded = model_file.read(tiny_model_file)
    meta = {k: v for k, v in loaded.meta.items() if k not in ("format", "format_version", "engine_version", "config")}
    six = tmp_path / "six.lstmzm"
    model_file.write(six, loaded.qmodel, {**meta, "block_method": 6})
    assert inherited_method(str(six)) == 6 and lstm_method_for(model_file.read(six)) == container.Method.LSTM_RAMP
    text = b"2016-12-19 10:31:07 INFO worker 3 started\n" * 60
    packed = lstmzip.compress(text, str(six), lstmzip.CodingConfig(try_lzma=False, min_stream_len=512))
    f = io.BytesIO(packed)
    container.read_header(f)
    assert container.read_record(f).method == container.Method.LSTM_RAMP
    assert lstmzip.decompress(packed, str(six)) == text
    bad = tmp_path / "bad.lstmzm"
    model_file.write(bad, loaded.qmodel, {**meta, "block_method": 99})
    with pytest.raises(LstmzipError, match="block method 99"):
        lstmzip.compress(text, str(bad))
    model_file.write(bad, loaded.qmodel, {**meta, "repetitive_block_method": 99})
    with pytest.raises(LstmzipError, match="block method 99"):
        lstmzip.compress(text, str(bad))


def test_resume_is_exact(corpus, tmp_path):
    """A run killed at step 7 and resumed ends with the same weights as one never stopped."""
    whole = train([corpus], tmp_path / "a.lstmzm", TrainOptions(steps=10, quantize=False, **TINY))

    class Killed(Exception):
        pass

    def kill_at_7(step, elapsed):
        if step == 7:
            raise Killed

    with pytest.raises(Killed):
        train([corpus], tmp_path / "b.lstmzm", TrainOptions(steps=10, quantize=False, **TINY), on_step=kill_at_7)
    resumed = train([corpus], tmp_path / "b.lstmzm", TrainOptions(steps=10, quantize=False,
                                                                    resume=tmp_path / "b.run", **TINY))
    assert resumed.steps == 10 and resumed.best_val_bpc == whole.best_val_bpc
    from safetensors.torch import load_file

    wa, wb = load_file(tmp_path / "a.run" / "ckpt.model.safetensors"), load_file(tmp_path / "b.run" / "ckpt.model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("args, message", [
    (["--steps", "5"], "no text to train on"),  # empty folder
    (["--steps", "5", "--device", "cuda"], None),  # only when no GPU
    (["--steps", "5", "--init-from", "nosuch"], "no shipped model or file"),
])
def test_bad_input(tmp_path, args, message):
    import torch

    empty = tmp_path / "empty"
    empty.mkdir()
    if message != "no text to train on":
        (empty / "a.txt").write_text("hello world\n" * 10000)
    if "cuda" in args:
        if torch.cuda.is_available():
            pytest.skip("a GPU is present")
        message = "no CUDA GPU"
    r = CliRunner().invoke(app, ["train", str(empty), "-o", str(tmp_path / "m.lstmzm"), "-q", *args])
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith("lstmzip: ") and message in r.stderr and "Traceback" not in r.output


def test_bad_input_api(tmp_path, corpus):
    short = tmp_path / "short"
    short.mkdir()
    (short / "a.txt").write_text("tiny")
    with pytest.raises(LstmzipError, match="shorter than one training sequence|validation text is only"):
        train([short], tmp_path / "m.lstmzm", TrainOptions(steps=3, **TINY))
    with pytest.raises(LstmzipError, match="no such file"):
        train([tmp_path / "missing"], tmp_path / "m.lstmzm", TrainOptions(steps=3, **TINY))
    with pytest.raises(LstmzipError, match="--steps or --time-budget"):
        train([corpus], tmp_path / "m.lstmzm", TrainOptions(**TINY))
    train([corpus], tmp_path / "c.lstmzm", TrainOptions(steps=3, quantize=False, **TINY))
    other = dict(TINY, hidden=48)
    with pytest.raises(LstmzipError, match="checkpoint is a 1 x 32"):
        train([corpus], tmp_path / "c.lstmzm", TrainOptions(steps=6, resume=tmp_path / "c.run", **other))
