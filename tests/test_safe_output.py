"""Safe output and bad environments: signals, full disks, read-only folders, damaged models."""
import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from lstmzip import fileio
from lstmzip.cli import app
from tests.conftest import data_file

CLI = [sys.executable, "-m", "lstmzip.launcher"]


def _fails_cleanly(result, contains):
    assert result.exit_code == 1, (result.exit_code, result.output)
    err = result.stderr.strip()
    assert err.startswith("lstmzip: ") and "Traceback" not in result.output and contains in err, err


def _leftovers(folder, *keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_refuses_to_write_over_its_own_input(runner, text, tmp_path):
    before = text.read_bytes()
    _fails_cleanly(runner.invoke(app, ["compress", "-f", "-o", str(text), str(text)]), "input file itself")
    assert runner.invoke(app, ["compress", "-q", str(text)]).exit_code == 0
    archive = tmp_path / "small.txt.lstmz"
    _fails_cleanly(runner.invoke(app, ["decompress", "-f", "-o", str(archive), str(archive)]), "input file itself")
    assert text.read_bytes() == before and archive.read_bytes()[:5] == b"LSTMZ"


def test_output_keeps_mode_and_mtime_of_input(runner, text, tmp_path):
    os.chmod(text, 0o640)
    os.utime(text, ns=(1_600_000_000_123_456_789, 1_500_000_000_987_654_321))
    assert runner.invoke(app, ["compress", "-q", str(text)]).exit_code == 0
    archive = tmp_path / "small.txt.lstmz"
    assert archive.stat().st_mode & 0o777 == 0o640
    assert archive.stat().st_mtime_ns == 1_500_000_000_987_654_321
    out = tmp_path / "back"
    assert runner.invoke(app, ["decompress", "-q", "-o", str(out), str(archive)]).exit_code == 0
    assert out.stat().st_mtime_ns == archive.stat().st_mtime_ns and out.read_bytes() == text.read_bytes()


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_run_leaves_nothing(tmp_path, sig, code):
    src = tmp_path / "alice.txt"
    src.write_bytes(data_file("anne.txt") * 10)
    before = src.read_bytes()
    # SIGINT back to default in the child: a shell without job control may have ignored it
    p = subprocess.Popen([*CLI, "compress", "-q", "-T", "1", str(src)], stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(4)  # past the torch import, inside the coding loop
    assert p.poll() is None, "finished before the signal: use a bigger input"
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    assert err.decode().startswith("lstmzip: interrupted") and b"Traceback" not in err
    assert src.read_bytes() == before and _leftovers(tmp_path) == ["alice.txt"]


def test_pipes_both_ways(tmp_path, text):
    cmd = (f"cat {text} | {' '.join(CLI[:2])} '{CLI[2]}' compress -c - | "
           f"{' '.join(CLI[:2])} '{CLI[2]}' decompress -c - | cmp - {text}")
    assert subprocess.run(cmd, shell=True, timeout=300).returncode == 0


def test_full_disk_on_stdout(text):
    with open("/dev/full", "wb") as full:
        r = subprocess.run([*CLI, "compress", "--fast", "-c", str(text)], stdout=full, stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 1 and r.stderr.decode().strip() == "lstmzip: standard output: No space left on device"


def test_full_disk_on_file_output(runner, text, tmp_path, monkeypatch):
    def no_space(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileio.os, "fsync", no_space)
    _fails_cleanly(runner.invoke(app, ["compress", "--fast", str(text)]), "no space left on device")
    assert _leftovers(tmp_path) == ["small.txt"]


def test_read_only_folder(runner, text, tmp_path, monkeypatch):
    def read_only(*_a, **_k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(fileio.os, "open", read_only)
    monkeypatch.setattr(fileio.tempfile, "mkstemp", read_only)
    _fails_cleanly(runner.invoke(app, ["compress", "--fast", str(text)]), "Read-only file system")
    assert _leftovers(tmp_path) == ["small.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_unwritable_folder(runner, text, tmp_path):
    tmp_path.chmod(0o500)
    try:
        _fails_cleanly(runner.invoke(app, ["compress", "--fast", str(text)]), "cannot write")
    finally:
        tmp_path.chmod(0o700)


def test_missing_and_damaged_model_files(runner, text, tmp_path, tiny_model_file):
    _fails_cleanly(runner.invoke(app, ["compress", "--model", str(tmp_path / "gone.lstmzm"), str(text)]), "not found")
    archive = tmp_path / "x.lstmz"
    assert runner.invoke(app, ["compress", "-q", "--model", str(tiny_model_file), "-o", str(archive), str(text)]).exit_code == 0
    damaged = tmp_path / "tiny.lstmzm"
    data = bytearray(tiny_model_file.read_bytes())
    data[-100] ^= 1  # tensor bytes: the file still loads, its sha256 is another
    damaged.write_bytes(bytes(data))
    _fails_cleanly(runner.invoke(app, ["decompress", "-c", "--model", str(damaged), str(archive)]), "archive was made with a model of sha256")
    data[20] ^= 0xFF  # header bytes: not a model file any more
    damaged.write_bytes(bytes(data))
    _fails_cleanly(runner.invoke(app, ["decompress", "-c", "--model", str(damaged), str(archive)]), "tiny")


def test_damaged_shipped_model(runner, text, tmp_path, monkeypatch):
    from lstmzip.models import registry

    weights = tmp_path / "weights"
    weights.mkdir()
    data = bytearray((registry.WEIGHTS_DIR / "default.lstmzm").read_bytes())
    data[-1000] ^= 1
    (weights / "default.lstmzm").write_bytes(bytes(data))
    monkeypatch.setattr(registry, "WEIGHTS_DIR", weights)
    registry.load.cache_clear()
    try:
        _fails_cleanly(runner.invoke(app, ["compress", "-c", str(text)]), "reinstall lstmzip")
    finally:
        registry.load.cache_clear()


def test_fast_cli(runner, text, tmp_path):
    r = runner.invoke(app, ["compress", "--fast", "-q", str(text)])
    assert r.exit_code == 0
    text.rename(tmp_path / "orig")
    assert runner.invoke(app, ["decompress", "-q", str(tmp_path / "small.txt.lstmz")]).exit_code == 0
    assert text.read_bytes() == (tmp_path / "orig").read_bytes()


def test_test_command_reports_every_damaged_block(runner, tmp_path):
    import lstmzip
    from lstmzip.pipeline import CodingConfig
    from tests.test_reliability import TEXT, _damage_payload

    data = TEXT * 4
    arc = lstmzip.compress(data, config=CodingConfig(block_size=100, lstm=False))
    path = tmp_path / "d.lstmz"
    path.write_bytes(_damage_payload(_damage_payload(arc, 0), 2))
    r = runner.invoke(app, ["test", str(path)])
    _fails_cleanly(r, f"2 of {-(-len(data) // 100)} blocks damaged: block 0 (original bytes 0-99")
    assert "block 2 (original bytes 200-299" in r.stderr


def test_one_bad_file_does_not_stop_the_others(runner, text, tmp_path):
    other = tmp_path / "other.txt"
    other.write_bytes(b"a second file, compressed after the missing one\n" * 20)
    r = runner.invoke(app, ["compress", "-q", "--fast", str(text), str(tmp_path / "missing"), str(other)])
    assert r.exit_code == 1 and r.stderr.strip() == f"lstmzip: {tmp_path / 'missing'}: no such file"
    assert (tmp_path / "small.txt.lstmz").exists() and (tmp_path / "other.txt.lstmz").exists()
    (tmp_path / "bad.lstmz").write_bytes(b"not an archive")
    r = runner.invoke(app, ["test", str(tmp_path / "bad.lstmz"), str(tmp_path / "other.txt.lstmz")])
    assert r.exit_code == 1 and "not an lstmzip archive" in r.stderr and "other.txt.lstmz: OK" in r.stderr
