"""Scale-out on a real Ray cluster on this machine (a head and a second node, 127.0.0.1):
archives byte-identical to in-process coding, a worker killed mid-job, the cluster going away.
"""
from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from lstmzip import api  # noqa: E402
from lstmzip.container import Method  # noqa: E402
from lstmzip.errors import BlockDamaged, LstmzipError  # noqa: E402
from lstmzip.pipeline import CodingConfig  # noqa: E402
from lstmzip.scaleout import BlockPool, ScaleOut  # noqa: E402
from tests.conftest import data_file  # noqa: E402
from tests.ray_cluster import LocalRayCluster  # noqa: E402

# Many short streams per block: a block costs about a second on one core.
CFG = CodingConfig(block_size=24 << 10, min_stream_len=256)
# The tests of a pool's faults (not of what the blocks hold) code with method 4: fewer ops a step.
FAULTS = dataclasses.replace(CFG, lstm_method=Method.LSTM_ADAPTIVE2)


def _text(n: int) -> bytes:
    data = data_file("anne.txt")
    return (data * (n // len(data) + 1))[:n]


@pytest.fixture(scope="module")
def cluster():
    c = LocalRayCluster(head_cpus=1, worker_nodes=1)
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ.update({k: c.env[k] for k in saved})  # the lstmzip driver connects with the token
    yield c
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    c.kill()


def _compress(data: bytes, **kw) -> bytes:
    out = io.BytesIO()
    api.compress_stream(io.BytesIO(data), out, config=CFG, **kw)
    return out.getvalue()


def test_cluster_archive_is_byte_identical_and_decodes_anywhere(cluster):
    data = _text(4 * CFG.block_size + 777)
    here = api.compress(data, config=CFG)
    with BlockPool(ScaleOut(cluster=cluster.address)) as pool:
        assert pool.workers == 2 and pool.info["device"] == "cpu"  # one per CPU,
        assert pool.info["nodes"] == 2 and len(set(pool.info["pids"])) == 2  # one on each node
        there = _compress(data, pool=pool)
        back = io.BytesIO()
        api.decompress_stream(io.BytesIO(here), back, pool=pool)
    assert there == here
    assert back.getvalue() == data
    assert api.decompress(there) == data  # and without any cluster


def test_worker_killed_mid_job_is_retried(cluster):
    data = _text(6 * FAULTS.block_size)
    here = api.compress(data, config=FAULTS)
    with BlockPool(ScaleOut(cluster=cluster.address)) as pool:
        victim = pool.info["pids"][0]
        done = []

        def progress(n: int) -> None:
            if not done:  # the first block is back: kill a worker while others are in flight
                os.kill(victim, 9)
            done.append(n)

        out = io.BytesIO()
        api.compress_stream(io.BytesIO(data), out, config=FAULTS, pool=pool, progress=progress)
    assert out.getvalue() == here
    assert sum(done) == len(data)
    with pytest.raises(ProcessLookupError):
        os.kill(victim, 0)


def test_damaged_block_reported_by_workers(cluster):
    data = _text(3 * FAULTS.block_size)
    archive = bytearray(api.compress(data, config=FAULTS))
    archive[len(archive) // 2] ^= 0x40  # inside the second block's payload
    with BlockPool(ScaleOut(cluster=cluster.address)) as pool:
        with pytest.raises(BlockDamaged, match="block 1"):
            api.decompress_stream(io.BytesIO(bytes(archive)), io.BytesIO(), pool=pool)
        with pytest.raises(BlockDamaged, match="1 of 3 blocks damaged"):
            api.decompress_stream(io.BytesIO(bytes(archive)), None, pool=pool)


def _cli(*args: str, env=None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lstmzip.launcher", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_cli_recursive_on_cluster(cluster, tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    files = {tree / "a.txt": _text(12000), tree / "sub" / "b.txt": _text(5000)[::-1], tree / "sub" / "c.txt": b"x"}
    for path, data in files.items():
        path.write_bytes(data)
    r = _cli("compress", "-r", str(tree), "--cluster", cluster.address, "-q", env=cluster.env)
    assert r.returncode == 0, r.stderr
    for path, data in files.items():
        archive = Path(str(path) + ".lstmz").read_bytes()
        assert archive == api.compress(data)  # the CLI's default blocks, coded in-process
    r = _cli("decompress", "-r", str(tree), "--cluster", cluster.address, "-q", "-f", env=cluster.env)
    assert r.returncode == 0, r.stderr
    assert {p: p.read_bytes() for p in files} == files


def test_several_files_to_stdout_stay_in_order(cluster, tmp_path):
    """-c with several files: one after another, never interleaved (as without a pool)."""
    names = []
    for i in range(3):
        (tmp_path / f"f{i}").write_bytes(_text(3000 + 1000 * i)[::-1])
        names.append(str(tmp_path / f"f{i}"))
    r = subprocess.run([sys.executable, "-m", "lstmzip.launcher", "compress", "-c", "--fast", "-q", *names,
                        "--cluster", cluster.address], capture_output=True, env=cluster.env, timeout=300)
    assert r.returncode == 0, r.stderr
    fast = CodingConfig(lstm=False)
    assert r.stdout == b"".join(api.compress(Path(n).read_bytes(), config=fast) for n in names)


def test_wrong_token_is_a_clear_error(cluster, tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(b"hello " * 100)
    env = {**cluster.env, "RAY_AUTH_TOKEN": "0" * 64}
    r = _cli("compress", str(src), "--cluster", cluster.address, env=env, timeout=180)
    assert r.returncode == 1
    message = r.stderr.strip().splitlines()[-1]
    assert message.startswith(f"lstmzip: cannot connect to the Ray cluster at {cluster.address}"), r.stderr
    assert "RAY_AUTH_TOKEN" in message and "Traceback" not in r.stderr
    assert not (tmp_path / "in.txt.lstmz").exists()


def test_no_cluster_at_address_is_a_clear_error(tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(b"hello " * 100)
    started = time.monotonic()
    r = _cli("compress", str(src), "--cluster", "127.0.0.1:1", timeout=120)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == "lstmzip: no Ray cluster answers at 127.0.0.1:1 (start one with `ray start --head`)"
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "in.txt.lstmz").exists()
    assert time.monotonic() - started < 60


def test_missing_ray_is_a_clear_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(LstmzipError, match=r"pip install 'lstmzip\[cluster\]'"):
        BlockPool(ScaleOut(workers=2))


def test_cluster_going_away_fails_cleanly(tmp_path):
    """Its own cluster (the shared one lives on for the other tests): killed mid-job."""
    doomed = LocalRayCluster(head_cpus=1, worker_nodes=1)
    try:
        src = tmp_path / "big.txt"
        src.write_bytes(_text(2 << 20))
        proc = subprocess.Popen([sys.executable, "-m", "lstmzip.launcher", "compress", str(src), "--cluster",
                                 doomed.address], stderr=subprocess.PIPE, text=True, env=doomed.env)
        first = proc.stderr.readline()  # "lstmzip: 2 cpu workers on Ray cluster ..." once they run
        assert "workers on Ray cluster" in first, first
        time.sleep(3)
        doomed.kill()
        _, rest = proc.communicate(timeout=180)
    finally:
        doomed.kill()
    assert proc.returncode == 1, rest
    message = rest.strip().splitlines()[-1]
    assert message.startswith(f"lstmzip: lost the Ray cluster at {doomed.address}"), rest
    log = message.split("Ray's log: ")[1].split(")")[0]
    assert os.path.exists(log)
    os.unlink(log)
    assert "Traceback" not in rest
    assert sorted(os.listdir(tmp_path)) == ["big.txt"]  # no partial output, no temp file


def test_local_workers_cli(tmp_path):
    """--workers N: a local Ray instance of its own, started and stopped by the command."""
    src = tmp_path / "in.txt"
    data = _text(5000)
    src.write_bytes(data)
    r = _cli("compress", str(src), "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert "lstmzip: 2 cpu workers on local Ray" in r.stderr
    assert (tmp_path / "in.txt.lstmz").read_bytes() == api.compress(data)
