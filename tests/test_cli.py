"""The command line, through typer's CliRunner: happy paths and every kind of bad input."""
import json
import os
import shutil

import pytest

from lstmzip.cli import app
from tests.conftest import SMALL_TEXT


def _one_line_error(result, code=1, contains=""):
    assert result.exit_code == code, (result.exit_code, result.output)
    err = result.stderr.strip()
    assert err.startswith("lstmzip: ") and "\n" not in err and "Traceback" not in result.output, err
    assert contains in err, err


def test_compress_decompress_test(runner, text, tmp_path):
    original = text.read_bytes()
    r = runner.invoke(app, ["compress", "-q", str(text)])
    assert r.exit_code == 0, r.output
    archive = tmp_path / "small.txt.lstmz"
    assert archive.exists() and text.read_bytes() == original  # input kept
    r = runner.invoke(app, ["test", str(archive)])
    assert r.exit_code == 0 and "OK" in r.stderr
    text.unlink()
    r = runner.invoke(app, ["decompress", "-q", str(archive)])
    assert r.exit_code == 0, r.output
    assert text.read_bytes() == original and archive.exists()


def test_stdout_and_output_options(runner, text, tmp_path):
    r = runner.invoke(app, ["compress", "-c", str(text)])
    assert r.exit_code == 0
    packed = r.stdout_bytes
    out = tmp_path / "custom.bin"
    (tmp_path / "a.lstmz").write_bytes(packed)
    r = runner.invoke(app, ["decompress", "-o", str(out), str(tmp_path / "a.lstmz")])
    assert r.exit_code == 0 and out.read_bytes() == text.read_bytes()
    r = runner.invoke(app, ["decompress", "-c", str(tmp_path / "a.lstmz")])
    assert r.stdout_bytes == text.read_bytes()


def test_stdin_to_stdout(runner, text):
    r = runner.invoke(app, ["compress", "-"], input=text.read_bytes())
    assert r.exit_code == 0
    r2 = runner.invoke(app, ["decompress"], input=r.stdout_bytes)
    assert r2.exit_code == 0 and r2.stdout_bytes == text.read_bytes()


def test_rm_removes_input_only_when_asked(runner, text):
    r = runner.invoke(app, ["compress", "-q", "--rm", str(text)])
    assert r.exit_code == 0 and not text.exists()


def test_bpc_json(runner, text):
    r = runner.invoke(app, ["bpc", "--json", "--verify", str(text)])
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout.strip().splitlines()[0])
    assert {"file", "bytes", "model_bpc", "actual_bpc"} <= set(row)
    assert row["bytes"] == text.stat().st_size and 0 < row["actual_bpc"] < 8 and row["verified"]


def test_models_lists_default(runner):
    r = runner.invoke(app, ["models"])
    assert r.exit_code == 0 and "default" in r.stdout


def test_missing_file(runner, tmp_path):
    _one_line_error(runner.invoke(app, ["compress", str(tmp_path / "nope")]), contains="no such file")


def test_directory(runner, tmp_path):
    _one_line_error(runner.invoke(app, ["compress", str(tmp_path)]), contains="is a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable(runner, text):
    text.chmod(0)
    _one_line_error(runner.invoke(app, ["compress", str(text)]), contains="permission denied")


def test_output_exists_without_force(runner, text, tmp_path):
    target = tmp_path / "small.txt.lstmz"
    target.write_bytes(b"precious")
    _one_line_error(runner.invoke(app, ["compress", str(text)]), contains="already exists")
    assert target.read_bytes() == b"precious"
    r = runner.invoke(app, ["compress", "-q", "-f", str(text)])
    assert r.exit_code == 0 and target.read_bytes()[:5] == b"LSTMZ"


def test_not_an_archive(runner, text, tmp_path):
    fake = tmp_path / "fake.lstmz"
    shutil.copy(text, fake)
    _one_line_error(runner.invoke(app, ["decompress", str(fake)]), contains="not an lstmzip archive")
    assert not (tmp_path / "fake").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_truncated_archive_leaves_no_output(runner, text, tmp_path):
    runner.invoke(app, ["compress", "-q", str(text)])
    archive = tmp_path / "small.txt.lstmz"
    archive.write_bytes(archive.read_bytes()[:-30])
    text.unlink()
    _one_line_error(runner.invoke(app, ["decompress", str(archive)]), contains="truncated")
    assert not text.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["small.txt.lstmz"]


def test_archive_made_with_another_model(runner, text, tmp_path, tiny_model_file):
    import lstmzip
    from lstmzip.engines import load_model

    archive = tmp_path / "small.txt.lstmz"
    packed = lstmzip.compress(text.read_bytes(), model=str(tiny_model_file), config=lstmzip.CodingConfig(try_lzma=False))
    sha = load_model(str(tiny_model_file)).sha256
    assert packed[6:14] == bytes.fromhex(sha)[:8]  # the model's id: the start of its sha256
    archive.write_bytes(packed)
    text.unlink()
    _one_line_error(runner.invoke(app, ["decompress", str(archive)]), contains=f"sha256 {sha[:16]}")
    _one_line_error(runner.invoke(app, ["decompress", "--model", "default", str(archive)]), contains="default")
    r = runner.invoke(app, ["decompress", "-q", "--model", str(tiny_model_file), str(archive)])
    assert r.exit_code == 0 and text.read_bytes() == SMALL_TEXT


def test_unknown_model(runner, text):
    _one_line_error(runner.invoke(app, ["compress", "--model", "klingon", str(text)]), contains="unknown model")


def test_unknown_suffix(runner, text):
    _one_line_error(runner.invoke(app, ["decompress", str(text)]), contains="suffix")


def test_usage_error_exits_2(runner):
    assert runner.invoke(app, ["compress", "--no-such-flag"]).exit_code == 2
    assert runner.invoke(app, ["frobnicate"]).exit_code == 2


def test_recursive_folder(runner, tmp_path):
    """-r: every regular file under the folders, each to its own archive (links and existing
    archives left alone, like gzip -r), and back with decompress -r."""
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    files = {tree / "a.txt": b"alpha " * 300, tree / "sub" / "b.md": b"# beta\n" * 50,
             tree / "sub" / "deeper" / "c": b"", tree / ".hidden": b"kept too"}
    for path, data in files.items():
        path.write_bytes(data)
    (tree / "link.txt").symlink_to(tree / "a.txt")
    (tree / "old.lstmz").write_bytes(b"not touched")
    r = runner.invoke(app, ["compress", "-r", "--fast", "-q", str(tree)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tree.rglob("*.lstmz")) == [".hidden.lstmz", "a.txt.lstmz", "b.md.lstmz",
                                                              "c.lstmz", "old.lstmz"]
    assert (tree / "old.lstmz").read_bytes() == b"not touched"
    for path in files:
        path.unlink()
    (tree / "old.lstmz").unlink()
    r = runner.invoke(app, ["decompress", "-r", "-q", str(tree)])
    assert r.exit_code == 0, r.output
    assert {p: p.read_bytes() for p in files} == files
    r = runner.invoke(app, ["test", "-r", str(tree)])
    assert r.exit_code == 0 and r.stderr.count(": OK") == 4


def test_recursive_errors(runner, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line_error(runner.invoke(app, ["compress", "-r", str(empty)]), contains="no files to compress")
    _one_line_error(runner.invoke(app, ["compress", str(empty)]), contains="is a directory")
    (empty / "x.txt").write_bytes(b"x")
    _one_line_error(runner.invoke(app, ["decompress", "-r", str(empty)]), contains="no files to decompress")
    _one_line_error(runner.invoke(app, ["compress", "--workers", "-1", str(empty / "x.txt")]),
                    contains="--workers must be >= 0")


def test_best_uses_longer_streams(runner, text):
    import io

    from lstmzip import container

    def first_block(args):
        r = runner.invoke(app, ["compress", "-c", *args, str(text)])
        assert r.exit_code == 0, r.output
        f = io.BytesIO(r.stdout_bytes)
        container.read_header(f)
        r2 = runner.invoke(app, ["decompress", "-c"], input=r.stdout_bytes)
        assert r2.stdout_bytes == text.read_bytes()
        return container.read_record(f)

    normal, best = first_block([]), first_block(["--best"])
    assert normal.method in container.LSTM_METHODS and best.method in container.LSTM_METHODS
    assert (normal.streams, best.streams) == (10, 1)  # 4,227 bytes: <= 512 steps (method 16) vs 16 KiB streams
    assert first_block(["--streams", "2"]).streams == 2  # --streams caps them
    r = runner.invoke(app, ["compress", "-c", "--fast", "--best", str(text)])
    assert r.exit_code == 2


def test_streams_replaces_the_default_choice_for_repetitive_blocks_too(runner, text, monkeypatch):
    """--streams N caps a block at N streams whatever its text: above the repetitive blocks'
    own cap (256) too, for wider GPU steps, and without their longer streams."""
    from lstmzip import api

    seen = []

    def fake(src, dst, model, config, **kw):
        seen.append(config)
        dst.write(b"")

    monkeypatch.setattr(api, "compress_stream", fake)
    for args in ([], ["--streams", "2048"], ["--streams", "64"]):
        assert runner.invoke(app, ["compress", "-c", *args, str(text)]).exit_code == 0
    assert [(c.max_streams, c.repetitive_streams, c.repetitive_stream_lens) for c in seen] == [
        (512, 256, ((1.2, 8 << 10),)), (2048, 2048, ()), (64, 64, ())]


def test_ray_workers_get_the_device_asked_for(runner, tmp_path, monkeypatch):
    """--device goes to the workers as given: the driver resolves auto against the cluster's
    GPUs, and --device cuda asks for GPU workers even where this machine has no GPU."""
    import contextlib

    from lstmzip import batch

    asked = []

    @contextlib.contextmanager
    def no_pool(scale):  # records what the pool was asked for, then codes in-process
        asked.append(scale)
        yield None

    monkeypatch.setattr(batch, "pool_for", no_pool)
    src = tmp_path / "a.txt"
    src.write_bytes(b"hello world, " * 40)
    for device in ("cpu", "auto", "cuda"):
        r = runner.invoke(app, ["compress", "-q", "-f", "--workers", "2", "--device", device, str(src)])
        assert r.exit_code == 0, r.output
        r = runner.invoke(app, ["test", "--workers", "2", "--device", device, str(src) + ".lstmz"])
        assert r.exit_code == 0, r.output
    assert [(s.workers, s.device) for s in asked] == [(2, d) for d in ("cpu", "cpu", "auto", "auto", "cuda", "cuda")]


def test_help_and_version_do_not_load_torch():
    """The CLI module loads torch only in the commands that code: --help and --version answer
    without it (~1 s sooner). Its default model name is the registry's."""
    import subprocess
    import sys

    probe = "import sys, lstmzip.cli as c; print('torch' in sys.modules, c.DEFAULT_MODEL)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True).stdout
    from lstmzip.models import registry

    assert out.split() == ["False", registry.DEFAULT_MODEL]
