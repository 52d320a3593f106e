"""`lstmzip bench`: real runs in worker processes, verified results, every output format."""
import json
import os
import time

import pytest
from typer.testing import CliRunner

from lstmzip import bench, bench_report, bench_worker, peers
from lstmzip.cli import app


@pytest.fixture
def sample(tmp_path):
    p = tmp_path / "sample.txt"
    p.write_bytes(b"It was the best of times, it was the worst of times, it was the age of wisdom.\n" * 40)
    return p


def test_bench_cli_writes_json_markdown_and_plot(sample, tmp_path):
    out = tmp_path / "r"
    r = CliRunner().invoke(app, ["bench", str(sample), "--peers", "gzip,bz2", "-q", "--json", f"{out}.json",
                                 "--markdown", f"{out}.md", "--plot", f"{out}.png"])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "r.json").read_text())
    rows = {x["codec"]: x for x in doc["results"]}
    assert set(rows) == {"lstmzip:default", "gzip", "bz2"}
    n = sample.stat().st_size
    for x in rows.values():
        assert x["verified"] and x["bytes"] == n and 0 < x["compressed_bytes"] < n
        assert x["bpc"] == pytest.approx(8 * x["compressed_bytes"] / n, abs=1e-4)
        assert x["compress_kbps"] > 0 and x["decompress_kbps"] > 0 and x["peak_rss_mib"] > 1
    lz = rows["lstmzip:default"]
    assert lz["bpc_with_model"] > lz["bpc"] and lz["model_bytes"] > 1_000_000
    assert rows["gzip"]["peak_rss_mib"] < lz["peak_rss_mib"]  # peers' workers do not load torch
    if lz["peak_pss_mib"] is not None:  # (Linux) shared pages once: at most the summed RSS
        assert 1 < lz["peak_pss_mib"] <= lz["peak_rss_mib"]
    md = (tmp_path / "r.md").read_text()
    assert "| sample.txt |" in md and "bzip2 -9" in md and "round-trip verified" in md
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup") or not hasattr(os, "fork"), reason="Linux /proc only")
def test_pss_sampler_counts_a_forked_childs_memory():
    with bench_worker.PssSampler(interval=0.02) as alone:
        time.sleep(0.1)
    with bench_worker.PssSampler(interval=0.02) as pss:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: 64 MiB of its own, held until the parent has sampled it
            block = bytearray(64 << 20)
            block[::4096] = b"x" * len(block[::4096])
            os.write(w, b"1")
            time.sleep(0.3)
            os._exit(0)
        os.read(r, 1)
        time.sleep(0.15)
        os.waitpid(pid, 0)
    assert pss.peak_mib - alone.peak_mib > 56


def test_missing_peer_is_skipped_with_a_note(sample, monkeypatch):
    def missing():
        raise ImportError("no zstandard")

    monkeypatch.setitem(peers.FACTORIES, "zstd", missing)
    report = bench.run(bench.BenchConfig([sample], models=[], peers=["zstd", "gzip"]))
    assert [r.codec for r in report.results] == ["gzip"]
    assert any("zstd skipped" in n for n in report.notes)


def test_bad_arguments(sample, tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["bench", str(sample), "--peers", "nosuch", "--models", ""])
    assert r.exit_code == 1 and "unknown peer" in r.stderr
    r = runner.invoke(app, ["bench", str(tmp_path / "missing.txt"), "--models", "", "--peers", "gzip"])
    assert r.exit_code == 1 and "not a file" in r.stderr
    r = runner.invoke(app, ["bench"])
    assert r.exit_code == 2


def test_pareto_front():
    pts = [(100.0, 3.0, "fast"), (10.0, 2.0, "slow-good"), (50.0, 3.5, "beaten"), (1.0, 2.5, "worse")]
    assert [p[2] for p in bench_report.pareto(pts)] == ["slow-good", "fast"]
