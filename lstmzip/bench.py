"""`lstmzip bench`: lstmzip and the classical compressors on the same files, in the same run.

Each (codec, file) pair runs in a fresh process (lstmzip.bench_worker) that compresses,
decompresses, verifies and reports its own peak RSS, so memory figures are per codec and
nothing one codec allocated counts against another. A result that does not round-trip stops the run: nothing unverified is reported.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from lstmzip import peers
from lstmzip.errors import LstmzipError


@dataclass(frozen=True)
class BenchConfig:
    files: list[Path]
    models: list[str] = field(default_factory=lambda: ["default"])
    peers: list[str] = field(default_factory=lambda: list(peers.NAMES))
    threads: int = 0  # torch threads for lstmzip (0: as the CLI, cores - 1)
    device: str = "cpu"  # where lstmzip's model runs ("cpu" or "cuda")


@dataclass
class Result:
    file: str
    codec: str  # "lstmzip:MODEL" or a peer name
    label: str  # how to reproduce it on the command line
    bytes: int
    compressed_bytes: int
    bpc: float
    compress_kbps: float
    decompress_kbps: float
    peak_rss_mib: float
    verified: bool
    model_bytes: int = 0  # lstmzip: size of the model file
    bpc_with_model: float | None = None  # lstmzip: (archive + model file) bits per input byte
    # the process and its children's summed PSS, sampled (lstmzip.bench_worker); None: no /proc
    peak_pss_mib: float | None = None


@dataclass
class Report:
    meta: dict
    results: list[Result]
    notes: list[str]

    def to_json(self) -> str:
        return json.dumps({"meta": self.meta, "notes": self.notes, "results": [asdict(r) for r in self.results]},
                          indent=1) + "\n"


def _run_worker(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-m", "lstmzip.bench_worker", *args], capture_output=True)
    try:
        info = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise LstmzipError(f"benchmark worker failed ({' '.join(args)}): {proc.stderr.decode().strip()[-400:]}") from None
    if "error" in info:
        raise LstmzipError(info["error"])
    return info


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def _versions() -> dict:
    import importlib.metadata as md

    from lstmzip import __version__

    # lstmzip's own version from the code that runs: an installed dist-info can be older
    # than the checkout it points to
    out = {"python": platform.python_version(), "lstmzip": __version__}
    for pkg in ["torch", "constriction", "zstandard", "brotli"]:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def run(cfg: BenchConfig, on_result: Callable[[Result], None] | None = None) -> Report:
    from lstmzip.pipeline import default_threads
    from lstmzip.models import registry

    notes = []
    codecs: list[tuple[str, str, list[str], int]] = []  # codec id, label, worker args, model bytes
    for m in cfg.models:
        try:
            loaded = registry.load(m)
        except Exception as e:  # ModelError and friends: one clear line
            raise LstmzipError(str(e)) from None
        size = loaded.size
        codecs.append((f"lstmzip:{loaded.name}", f"lstmzip --model {m} --device {cfg.device}",
                       ["lstmzip", "--model", m, "--threads", str(cfg.threads), "--device", cfg.device], size))
    for name in cfg.peers:
        if name not in peers.FACTORIES:
            raise LstmzipError(f"unknown peer '{name}' (known: {', '.join(peers.NAMES)})")
        peer = peers.load(name)
        if peer is None:
            notes.append(f"{name} skipped: its Python package is not installed (pip install 'lstmzip[bench]')")
            continue
        codecs.append((name, peer.label, [name], 0))
    for f in cfg.files:
        if not f.is_file():
            raise LstmzipError(f"{f}: not a file")
    results = []
    for f in cfg.files:
        n = f.stat().st_size
        for codec, label, args, model_bytes in codecs:
            argv = [args[0], str(f), *args[1:]]
            info = _run_worker(argv)
            if not info["verified"]:
                raise LstmzipError(f"{codec} did not round-trip {f}: benchmark stopped")
            c = info["compressed_bytes"]
            r = Result(
                file=f.name, codec=codec, label=label, bytes=n, compressed_bytes=c,
                bpc=round(8 * c / n, 4) if n else 0.0,
                compress_kbps=round(n / 1e3 / max(info["compress_s"], 1e-9), 1),
                decompress_kbps=round(n / 1e3 / max(info["decompress_s"], 1e-9), 1),
                peak_rss_mib=round(info["peak_rss_mib"], 1), verified=True, model_bytes=model_bytes,
                bpc_with_model=round(8 * (c + model_bytes) / n, 4) if model_bytes and n else None,
                peak_pss_mib=None if info.get("peak_pss_mib") is None else round(info["peak_pss_mib"], 1),
            )
            results.append(r)
            if on_result:
                on_result(r)
    meta = {"machine": machine(), "versions": _versions(), "date": time.strftime("%Y-%m-%d %H:%M"),
            "threads": cfg.threads or default_threads(), "models": cfg.models,
            "codecs": [{"codec": c, "label": lab} for c, lab, _, _ in codecs]}
    return Report(meta, results, notes)
