"""lstmzip without a command, like gzip/xz/zstd: argument rewriting, pipes, `tar -I`, `-l`."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lstmzip.cli import app, command_names
from lstmzip.gzip_style import rewrite
from tests.golden.make_golden import ORIGINAL

GOLDEN = Path(ORIGINAL).parent
LSTMZIP = [sys.executable, "-m", "lstmzip.launcher"]


@pytest.mark.parametrize("argv, want", [
    ([], ["compress"]),
    (["-d"], ["decompress"]),
    (["-dc", "a.lstmz"], ["decompress", "-c", "a.lstmz"]),
    (["--decompress", "--stdout", "a.lstmz"], ["decompress", "-c", "a.lstmz"]),
    (["-k", "FILE"], ["compress", "FILE"]),  # the input is kept anyway
    (["-t", "-c", "a.lstmz"], ["test", "a.lstmz"]),  # -c means nothing to test
    (["-lv", "a.lstmz"], ["list", "-v", "a.lstmz"]),
    (["-9", "f"], ["compress", "--best", "f"]),
    (["-1", "f"], ["compress", "--fast", "f"]),
    (["-6", "f"], ["compress", "f"]),
    (["bpc", "-q", "f"], ["bpc", "-q", "f"]),  # subcommands stay as they are
    (["--", "-dash-file"], ["compress", "--", "-dash-file"]),
])
def test_rewrite(argv, want):
    assert rewrite(argv, command_names()) == want


def test_command_names_are_the_apps():
    assert {"compress", "decompress", "test", "list", "bpc", "models", "train", "explain", "sample",
            "bench"} == command_names()


def test_alone_at_a_prompt_shows_help():
    assert rewrite([], command_names(), stdin_is_terminal=True) == ["--help"]


def test_pipes_both_ways():
    data = ORIGINAL.read_bytes()[:700]
    packed = subprocess.run(LSTMZIP, input=data, capture_output=True, check=True).stdout
    assert packed.startswith(b"LSTMZ")
    assert subprocess.run(LSTMZIP + ["-d"], input=packed, capture_output=True, check=True).stdout == data


def test_tar_with_lstmzip_as_its_compressor(tmp_path):
    tar = shutil.which("tar")
    assert tar, "GNU tar is part of every supported system"
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "sample.txt").write_bytes(ORIGINAL.read_bytes()[:1500])
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)))
    program = " ".join(LSTMZIP)
    subprocess.run([tar, "-I", program, "-cf", "t.tar.lstmz", "tree"], cwd=tmp_path, check=True)
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run([tar, "-I", program, "-xf", str(tmp_path / "t.tar.lstmz")], cwd=out, check=True)
    for f in ("sample.txt", "sub/b.bin"):
        assert (out / "tree" / f).read_bytes() == (src / f).read_bytes()


def test_list_reads_the_headers(runner):
    r = runner.invoke(app, ["list", "-v", str(GOLDEN / "sample.adaptive2.lstmz"), str(GOLDEN / "sample.rans.lstmz")])
    assert r.exit_code == 0, r.output
    assert "2,805" in r.stdout and "lstm_adaptive2" in r.stdout and "lstm_rans" in r.stdout and "2 files" in r.stdout
    r = runner.invoke(app, ["list", "--json", str(GOLDEN / "sample.rans.lstmz")])
    row = json.loads(r.stdout)
    assert row["original_bytes"] == 2805 and row["blocks"][0]["method"] == "lstm_rans" and row["model"] == "default"


def test_list_refuses_what_is_not_an_archive(runner, tmp_path):
    bad = tmp_path / "x.lstmz"
    bad.write_bytes((GOLDEN / "sample.rans.lstmz").read_bytes()[:-3])
    r = runner.invoke(app, ["list", str(bad)])
    assert r.exit_code == 1 and r.stderr.startswith("lstmzip: ") and "Traceback" not in r.output
