"""The `lstmzip` command (typer). Commands stay thin: the work is in lstmzip.api."""
# (No `from __future__ import annotations`: typer reads every command's annotations through
# typing.get_type_hints, which compiles each one given as a string, ~200 of them: ~70 ms of
# every call on the 2-core machine.)

import bz2
import functools
import io
import json
import os
import sys
import zlib
from pathlib import Path
from typing import List, Optional

import typer

from lstmzip import batch
from lstmzip.errors import LstmzipError
from lstmzip.fileio import atomic_output, open_input, walk_files
from lstmzip.signals import install_signal_handlers, interrupted_exit_code
from lstmzip.progress import progress_bar

# torch (through lstmzip.api, lstmzip.engines and the model registry) loads in the commands
# that code: `lstmzip --help` and `--version` answer without it, ~1 s sooner
DEFAULT_MODEL = "default"  # lstmzip.models.registry.DEFAULT_MODEL (tested equal)

SUFFIX = ".lstmz"
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Lossless text compression with an LSTM model and a range coder.")

def _version(value: bool) -> None:
    if value:
        from lstmzip import __version__
        from lstmzip.container import VERSION
        from lstmzip.models.fixed_point import ENGINE_VERSION

        typer.echo(f"lstmzip {__version__} (archive format {VERSION}, engine {ENGINE_VERSION})")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                        help="Show the version and exit.")) -> None:
    pass


FilesArg = typer.Argument(None, help="Files; '-' or none for stdin.")
ModelOpt = typer.Option(DEFAULT_MODEL, "--model", "-m",
                        help="Shipped model name, model file, or 'auto' (the shipped model that, with its own block method, codes windows spread over the input's first 4 MiB in the fewest bits, the logs model's allowed for what windows do not show).")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bar.")
DeviceOpt = typer.Option("auto", "--device", help="Where the model runs: auto (CUDA when there is a GPU), "
                         "cpu or cuda. The archive is the same bytes on either.")
ThreadsOpt = typer.Option(0, "--threads", "-T", help="torch CPU threads (0: one less than the cores, the "
                          "last one runs the adaptive stages beside the LSTM). Output is the same for any value.")
WorkersOpt = typer.Option(0, "--workers", "-j", help="Code blocks in N local Ray worker processes "
                          "(pip install 'lstmzip[cluster]'). The archive is the same bytes.")
ClusterOpt = typer.Option(None, "--cluster", help="Code blocks on the workers of a running Ray cluster "
                          "(HOST:PORT as given by `ray start --head`, or 'auto'); one worker per CPU "
                          "(or GPU) unless --workers says how many.")
RecursiveOpt = typer.Option(False, "--recursive", "-r", help="Every file under the given folders, each to its own archive.")
MethodOpt = typer.Option(None, "--method", help="Block method of the LSTM blocks, by name (docs/FORMAT.md), "
                         "instead of the model's own (the default model's: lstm_mix12, context mixing; "
                         "lstm_mix13 for repetitive blocks, lstm_mix14 for other blocks of up to 16 KiB). "
                         "lstm_adaptive2 is lstmzip 0.7's default: ~6% larger archives, ~1.3x the speed; "
                         "lstm_rans codes it on the model's device, many blocks per step on a GPU; lstm_mix to "
                         "lstm_mix11 are lstm_mix12's earlier versions.")


def _with_method(config, method: str | None):
    """config with --method's block method (a usage error for a name that is none)."""
    if method is None:
        return config
    import dataclasses

    from lstmzip.container import LSTM_METHODS

    names = {m.name.lower(): m for m in LSTM_METHODS}
    if method.lower() not in names:
        raise typer.BadParameter(f"one of {', '.join(names)}", param_hint="--method")
    return dataclasses.replace(config, lstm_method=names[method.lower()])


def handle_errors(fn):
    """One line on stderr and exit code 1 for every failure a user can cause; no tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LstmzipError as e:
            typer.echo(f"lstmzip: {e}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt as e:
            message, code = interrupted_exit_code(e)
            typer.echo(message, err=True)
            raise typer.Exit(code) from None
        except BrokenPipeError:
            raise typer.Exit(1) from None
        except OSError as e:
            typer.echo(f"lstmzip: {e.filename or ''}{': ' if e.filename else ''}{e.strerror or e}", err=True)
            raise typer.Exit(1) from None
        except (typer.Exit, typer.BadParameter):
            raise
        except Exception as e:  # noqa: BLE001  a bug: still one line, still exit 1
            typer.echo(f"lstmzip: internal error: {type(e).__name__}: {e}", err=True)
            raise typer.Exit(1) from None

    return wrapper


def _devices(device: str, workers: int, cluster: str | None) -> tuple[str, str]:
    """(this process's device, the Ray workers' device). The workers get what was asked: the
    driver resolves auto against the cluster's GPUs, and --device cuda needs GPUs there, not
    here. With workers, only --model auto's scoring runs here."""
    from lstmzip.engines import resolve_device

    if (workers or cluster) and device == "cuda":
        return resolve_device("auto"), device
    return resolve_device(device), device


def _set_threads(n: int) -> None:
    if n < 0:
        raise typer.BadParameter("must be >= 0", param_hint="--threads")
    import torch

    from lstmzip.pipeline import default_threads

    torch.set_num_threads(n or default_threads())


def _stdout_ok(force: bool) -> None:
    if sys.stdout.isatty() and not force:
        raise LstmzipError("compressed data not written to a terminal; use -f to force")


def _inputs(files: Optional[List[str]]) -> list[str]:
    return files or ["-"]


def _size(name: str) -> int | None:
    try:
        return os.path.getsize(name) if name != "-" else None
    except OSError:
        return None


def _convert(name: str, target: Optional[Path], force: bool, bar, total: int | None, job) -> None:
    """Run job(src, dst, progress) from file `name` (or stdin) to `target` (or stdout if None);
    bar(text, total) gives the progress callback (lstmzip.batch)."""
    src = sys.stdin.buffer if name == "-" else open_input(Path(name))
    try:
        with bar(name, total) as progress:
            if target is None:
                try:
                    job(src, sys.stdout.buffer, progress)
                    sys.stdout.buffer.flush()
                except BrokenPipeError:
                    raise
                except OSError as e:
                    if e.filename is not None:
                        raise
                    raise LstmzipError(f"standard output: {e.strerror or e}") from None
            else:
                with atomic_output(target, force, like=None if name == "-" else name) as dst:
                    job(src, dst, progress)
    finally:
        if src is not sys.stdin.buffer:
            src.close()


@app.command()
@handle_errors
def compress(
    files: Optional[List[str]] = FilesArg,
    stdout: bool = typer.Option(False, "--stdout", "-c", help="Write to standard output."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output file (one input only)."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing output files."),
    keep: bool = typer.Option(True, "--keep", "-k", help="Keep input files (the default)."),
    rm: bool = typer.Option(False, "--rm", help="Remove each input after it was compressed and written."),
    model: str = ModelOpt,
    fast: bool = typer.Option(False, "--fast", help="No LSTM: LZMA (or stored) blocks only, at about xz's "
                              "speed, for data the model cannot help or when time matters."),
    best: bool = typer.Option(False, "--best", help="Streams of at least 16 KiB instead of 2 KiB (8 KiB "
                              "with the logs model): smaller archives of repetitive text such as logs, up to "
                              "about 4x slower."),
    recursive: bool = RecursiveOpt,
    workers: int = WorkersOpt,
    cluster: Optional[str] = ClusterOpt,
    quiet: bool = QuietOpt,
    threads: int = ThreadsOpt,
    device: str = DeviceOpt,
    method: Optional[str] = MethodOpt,
    streams: int = typer.Option(0, "--streams", min=0, max=1 << 14, help="At most this many streams a block "
                                "(default 512, fewer for repetitive text; never shorter than 2 KiB): more "
                                "rows per step for a GPU, at a small cost in ratio (100 MB of English, "
                                "lstm_rans: 2048 streams 1.892 bpc, 512 streams 1.881)."),
) -> None:
    """Compress FILES to FILE.lstmz (input kept)."""
    from lstmzip import api

    _set_threads(threads)
    device, worker_device = _devices(device, workers, cluster)
    from lstmzip.pipeline import BEST, CodingConfig

    if fast and best:
        raise typer.BadParameter("--fast and --best exclude each other", param_hint="--best")
    config = _with_method(BEST if best else CodingConfig(lstm=not fast), method)
    if streams:
        config = config.with_streams(streams)
    if fast and model == api.AUTO_MODEL:
        model = DEFAULT_MODEL  # nothing to choose: no model codes the blocks
    files = batch.expand(_inputs(files), recursive, archives=False, suffix=SUFFIX)
    if output and len(files) > 1:
        raise typer.BadParameter("-o takes one input file", param_hint="--output")
    def one(name: str, bar) -> None:
        to_stdout = stdout or (name == "-" and output is None)
        if name != "-" and name.endswith(SUFFIX) and not force and not to_stdout and output is None:
            raise LstmzipError(f"{name} already has the {SUFFIX} suffix; use -f to compress it anyway")
        if to_stdout:
            _stdout_ok(force)
        target = None if to_stdout else output or Path(name + SUFFIX)
        _convert(name, target, force, bar, _size(name),
                 lambda src, dst, progress: api.compress_stream(src, dst, model, config, progress=progress,
                                                                   device=device, pool=pool))
        if rm and name != "-" and not to_stdout:
            os.unlink(name)

    with batch.worker_pool(workers, cluster, threads, quiet, worker_device) as pool:
        batch.run_each(files, one, pool, "compress", _size, quiet, one_at_a_time=stdout or "-" in files)


def _original_size(name: str) -> int | None:
    """For the progress bar: the size the archive's trailer declares (checked when decoding)."""
    from lstmzip.container import peek_trailer

    trailer = peek_trailer(name) if name != "-" else None
    return trailer.total_size if trailer is not None else None


def _decompress_target(name: str, output: Optional[Path]) -> Path:
    if output:
        return output
    if not name.endswith(SUFFIX):
        raise LstmzipError(f"{name}: unknown suffix (expected {SUFFIX}); use -o or -c")
    return Path(name[: -len(SUFFIX)])


@app.command()
@handle_errors
def decompress(
    files: Optional[List[str]] = FilesArg,
    stdout: bool = typer.Option(False, "--stdout", "-c", help="Write to standard output."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output file (one input only)."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing output files."),
    keep: bool = typer.Option(True, "--keep", "-k", help="Keep archives (the default)."),
    rm: bool = typer.Option(False, "--rm", help="Remove each archive after it was decompressed."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model file, if not a shipped one."),
    recursive: bool = RecursiveOpt,
    workers: int = WorkersOpt,
    cluster: Optional[str] = ClusterOpt,
    quiet: bool = QuietOpt,
    threads: int = ThreadsOpt,
    device: str = DeviceOpt,
) -> None:
    """Decompress FILE.lstmz to FILE (archive kept)."""
    from lstmzip import api

    _set_threads(threads)
    device, worker_device = _devices(device, workers, cluster)
    files = batch.expand(_inputs(files), recursive, archives=True, suffix=SUFFIX)
    if output and len(files) > 1:
        raise typer.BadParameter("-o takes one input file", param_hint="--output")
    def one(name: str, bar) -> None:
        to_stdout = stdout or (name == "-" and output is None)
        target = None if to_stdout else _decompress_target(name, output)
        _convert(name, target, force, bar, _original_size(name),
                 lambda src, dst, progress: api.decompress_stream(src, dst, model, progress=progress,
                                                                     device=device, pool=pool))
        if rm and name != "-" and not to_stdout:
            os.unlink(name)

    with batch.worker_pool(workers, cluster, threads, quiet, worker_device) as pool:
        batch.run_each(files, one, pool, "decompress", _original_size, quiet, one_at_a_time=stdout or "-" in files)


@app.command("test")
@handle_errors
def test_cmd(
    files: Optional[List[str]] = FilesArg,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model file, if not a shipped one."),
    recursive: bool = RecursiveOpt,
    workers: int = WorkersOpt,
    cluster: Optional[str] = ClusterOpt,
    quiet: bool = QuietOpt,
    threads: int = ThreadsOpt,
    device: str = DeviceOpt,
) -> None:
    """Verify archives (every block checksum and the trailer) without writing anything."""
    from lstmzip import api

    _set_threads(threads)
    device, worker_device = _devices(device, workers, cluster)
    def one(name: str, bar) -> None:
        src = sys.stdin.buffer if name == "-" else open_input(Path(name))
        try:
            with bar(name, _original_size(name)) as progress:
                n = api.decompress_stream(src, None, model, progress=progress, device=device, pool=pool)
        finally:
            if src is not sys.stdin.buffer:
                src.close()
        if not quiet:
            typer.echo(f"{name}: OK ({n} bytes)", err=True)

    files = batch.expand(_inputs(files), recursive, archives=True, suffix=SUFFIX)
    with batch.worker_pool(workers, cluster, threads, quiet, worker_device) as pool:
        batch.run_each(files, one, pool, "test", _original_size, quiet)


@app.command("list")
@handle_errors
def list_cmd(
    files: List[str] = typer.Argument(..., help="Archives."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also one line per block."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per archive on stdout."),
) -> None:
    """What archives hold, from their headers (like xz -l): sizes, ratio, bpc, model, block methods."""
    from lstmzip.listing import describe

    infos = [describe(name) for name in files]
    if as_json:
        for i in infos:
            typer.echo(json.dumps({"file": i.name, "archive_bytes": i.archive_bytes, "original_bytes": i.original_bytes,
                                   "ratio": round(i.ratio, 4), "bpc": round(i.bpc, 4), "model": i.model,
                                   "model_id": i.model_id, "format": i.version, "check": "CRC32",
                                   "blocks": [vars(b) for b in i.blocks]}))
        return
    typer.echo(f"{'Blocks':>6} {'Compressed':>13} {'Uncompressed':>13} {'Ratio':>6} {'bpc':>6}  "
               f"{'Model':<24} {'Check':<6} Filename")
    for i in infos:
        model = f"{i.model or '?'} ({i.model_id[:8]})"
        typer.echo(f"{len(i.blocks):>6} {i.archive_bytes:>13,} {i.original_bytes:>13,} {i.ratio:>6.3f} {i.bpc:>6.3f}  "
                   f"{model:<24} {'CRC32':<6} {i.name}")
        if verbose:
            for n, b in enumerate(i.blocks):
                bpc = 8.0 * b.coded_len / b.raw_len
                typer.echo(f"{'':>6}   block {n}: {b.method}, {b.streams} streams, {b.raw_len:,} -> "
                           f"{b.coded_len:,} bytes, {bpc:.3f} bpc")
            typer.echo(f"{'':>6}   methods: " + ", ".join(f"{m} x {k}" for m, k in i.methods.items())
                       + "; checksums not verified here (lstmzip test verifies them)")
    if len(infos) > 1:
        arch, orig = sum(i.archive_bytes for i in infos), sum(i.original_bytes for i in infos)
        typer.echo(f"{sum(len(i.blocks) for i in infos):>6} {arch:>13,} {orig:>13,} "
                   f"{arch / orig if orig else 0:>6.3f} {8 * arch / orig if orig else 0:>6.3f}  "
                   f"{'':<24} {'':<6} {len(infos)} files")


def _bpc_row(name: str, data: bytes, model: str, verify: bool, progress, device: str = "cpu",
             config=None) -> dict:
    from lstmzip import api

    out = io.BytesIO()
    stats = api.compress_stream(io.BytesIO(data), out, model, config, progress=progress, device=device)
    if verify and api.decompress(out.getvalue(), device=device) != data:
        raise LstmzipError(f"{name}: round trip failed")  # a bug, never expected
    n = len(data)
    bpc = (lambda size: 8.0 * size / n if n else 0.0)
    return {"file": name, "bytes": n, "model_bpc": round(stats.model_bpc, 4), "actual_bpc": round(stats.actual_bpc, 4),
            "archive_bytes": stats.output_bytes, "methods": stats.methods,
            "gzip9_bpc": round(bpc(len(zlib.compress(data, 9)) + 18), 4), "bz2_9_bpc": round(bpc(len(bz2.compress(data, 9))), 4),
            "verified": verify}


@app.command()
@handle_errors
def bpc(
    files: List[str] = typer.Argument(..., help="Files to measure."),
    model: str = ModelOpt,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file on stdout."),
    verify: bool = typer.Option(False, "--verify", help="Also decompress and compare."),
    quiet: bool = QuietOpt,
    threads: int = ThreadsOpt,
    device: str = DeviceOpt,
    method: Optional[str] = MethodOpt,
) -> None:
    """Bits per character: the model's estimate, the real archive, gzip -9 and bzip2 -9."""
    from lstmzip.engines import resolve_device

    _set_threads(threads)
    device = resolve_device(device)
    from lstmzip.pipeline import CodingConfig

    config = _with_method(CodingConfig(), method)
    rows = []
    for name in files:
        with open_input(Path(name)) as f:
            data = f.read()
        with progress_bar(f"bpc {name}", len(data), quiet) as progress:
            row = _bpc_row(name, data, model, verify, progress, device, config)
        rows.append(row)
        if as_json:
            typer.echo(json.dumps(row))
    if not as_json:
        from rich.console import Console
        from rich.table import Table

        t = Table("file", "bytes", "model bpc", "actual bpc", "gzip -9", "bzip2 -9")
        for r in rows:
            t.add_row(r["file"], str(r["bytes"]), f"{r['model_bpc']:.3f}", f"{r['actual_bpc']:.3f}",
                      f"{r['gzip9_bpc']:.3f}", f"{r['bz2_9_bpc']:.3f}")
        Console().print(t)


@app.command()
@handle_errors
def models(info: Optional[str] = typer.Option(None, "--info", help="Show one model's metadata: a shipped name or a file.")) -> None:
    """List the shipped models (or describe one with --info)."""
    from rich.console import Console
    from rich.table import Table

    from lstmzip.engines import load_model
    from lstmzip.models import registry

    if info:
        m = load_model(info)
        typer.echo(json.dumps({"name": m.name, "sha256": m.sha256, "bytes": m.size, **m.meta}, indent=1))
        return

    t = Table("name", "size", "sha256", "bpc (measured)", "description")
    for name in registry.names():
        entry = registry.SHIPPED[name]
        try:
            m = registry.load(name)
        except Exception as e:  # a damaged install: say so, keep listing
            t.add_row(name, "-", "-", "-", f"unavailable: {e}")
            continue
        shown = ", ".join(f"{k} {v:.3f}" for k, v in entry.bpc) or "-"
        t.add_row(name, f"{m.size / 1e6:.2f} MB", m.sha256[:16], shown, entry.description)
    Console().print(t)


@app.command()
@handle_errors
def train(
    corpus: List[Path] = typer.Argument(..., help="Files, folders (recursive) or .xz/.gz/.bz2 files of text."),
    output: Path = typer.Option(..., "--output", "-o", help="Model file to write (NAME.lstmzm)."),
    layers: int = typer.Option(2, "--layers"),
    hidden: int = typer.Option(256, "--hidden"),
    embed: int = typer.Option(64, "--embed"),
    seq_len: int = typer.Option(128, "--seq-len", help="Truncated BPTT length."),
    batch: int = typer.Option(128, "--batch", help="Parallel streams per step."),
    lr: float = typer.Option(2e-3, "--lr"),
    steps: int = typer.Option(0, "--steps", help="Stop after this many steps (0: no limit)."),
    time_budget: float = typer.Option(0.0, "--time-budget", help="Stop after this many seconds (0: no limit)."),
    val_fraction: float = typer.Option(0.05, "--val-fraction", help="Share of whole documents held out."),
    seed: int = typer.Option(1234, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    init_from: Optional[str] = typer.Option(None, "--init-from", help="Start from a shipped model or float weights."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue from a run folder (MODEL.run)."),
    no_quantize: bool = typer.Option(False, "--no-quantize", help="Stop at the float weights."),
    patience: int = typer.Option(8, "--patience", help="Evaluations without improvement before stopping (0: never)."),
    quiet: bool = QuietOpt,
    threads: int = ThreadsOpt,
) -> None:
    """Train a model for your kind of text (a code base, logs, books); compress with --model FILE."""
    from lstmzip.training import run as train_run

    _set_threads(threads)
    opts = train_run.TrainOptions(layers=layers, hidden=hidden, embed=embed, seq_len=seq_len, batch=batch, lr=lr,
                                  steps=steps, time_budget=time_budget, val_fraction=val_fraction, seed=seed,
                                  device=device, init_from=init_from, resume=resume, quantize=not no_quantize,
                                  patience=patience, name=output.name.split(".")[0])
    from lstmzip.progress import training_progress

    with training_progress(steps, time_budget, quiet) as (on_step, on_eval):
        report = train_run.train(corpus, output, opts, on_eval=on_eval, on_step=on_step)
    for s in report.skipped:
        typer.echo(f"lstmzip: warning: skipped {s}", err=True)
    from rich.console import Console
    from rich.table import Table

    t = Table("", "bpc on validation text", title=f"{output} ({report.steps} steps, {report.elapsed_s:.0f} s, "
                                                   f"stopped by {report.stopped})")
    if report.model_path:
        t.add_row("float model", f"{report.float_bpc:.4f}")
        t.add_row("integer model", f"{report.int_bpc:.4f}")
        t.add_row("integer / float", f"{report.ratio:.4f}")
        t.add_row("xz -9e", f"{report.xz_bpc:.4f}")
        t.add_row("bzip2 -9", f"{report.bzip2_bpc:.4f}")
    else:
        t.add_row("float model (best)", f"{report.best_val_bpc:.4f}")
    Console(stderr=True).print(t)


@app.command()
@handle_errors
def explain(
    file: str = typer.Argument(..., help="The file to look at."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="HTML page to write (default FILE.explain.html)."),
    terminal: bool = typer.Option(False, "--terminal", help="Colour the text in the terminal instead of writing a page."),
    limit: int = typer.Option(64, "--limit", help="Explain the first KB of the file (0: all of it)."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing page."),
    model: str = ModelOpt,
    threads: int = ThreadsOpt,
    device: str = DeviceOpt,
) -> None:
    """Colour every character of FILE by its cost in bits under the model, with its top predictions."""
    from rich.console import Console

    from lstmzip import api
    from lstmzip.engines import resolve_device
    from lstmzip.explain_bits import explain_file
    from lstmzip.explain_render import explain_html, explain_terminal

    _set_threads(threads)
    device = resolve_device(device)
    if limit < 0:
        raise typer.BadParameter("must be >= 0", param_hint="--limit")
    if model == api.AUTO_MODEL:
        with open_input(Path(file)) as f:
            model = api.choose_model(f.read(api.AUTO_SAMPLE), device=device)
    ex = explain_file(file, model, limit << 10, device)
    if terminal:
        explain_terminal(ex, Console())
        return
    target = output or Path(file + ".explain.html")
    with atomic_output(target, force) as f:
        f.write(explain_html(ex, Path(file).name).encode("utf-8"))
    typer.echo(f"{target}: {len(ex.data)} bytes, {ex.bpc:.4f} bpc under {ex.model}", err=True)


@app.command()
@handle_errors
def sample(
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Shipped model name or model file."),
    prime: str = typer.Option("", "--prime", help="Text the model reads before it writes (not repeated)."),
    length: int = typer.Option(500, "--length", "-n", help="Bytes to generate."),
    temperature: float = typer.Option(0.8, "--temperature", "-t", help="0: always the likeliest byte; 1: the "
                                      "model's own distribution; higher: wilder."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same text, on any machine."),
    threads: int = ThreadsOpt,
) -> None:
    """Text written by the model (reproducible: the integer engine and a fixed PRNG)."""
    from lstmzip.sampler import sample as generate

    _set_threads(threads)
    sys.stdout.buffer.write(generate(model, prime.encode("utf-8"), length, temperature, seed))
    sys.stdout.buffer.write(b"\n")
    sys.stdout.buffer.flush()


def _corpus_files(corpus: Path) -> list[Path]:
    if not corpus.is_dir():
        raise LstmzipError(f"{corpus}: not a directory")
    return walk_files(corpus)


@app.command()
@handle_errors
def bench(
    files: Optional[List[Path]] = typer.Argument(None, help="Files to measure."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Measure every file under this folder."),
    models_: str = typer.Option("default", "--models", help="Comma-separated shipped model names or model files."),
    peers_: str = typer.Option("gzip,bz2,xz,zstd,brotli", "--peers", help="Comma-separated peers; '' for none."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the results as JSON here."),
    md_out: Optional[Path] = typer.Option(None, "--markdown", help="Write markdown tables here."),
    plot_out: Optional[Path] = typer.Option(None, "--plot", help="Write a PNG plot here (needs matplotlib)."),
    quiet: bool = QuietOpt,
    threads: int = ThreadsOpt,
    device: str = DeviceOpt,
) -> None:
    """Compare lstmzip with gzip, bzip2, xz, zstd and brotli on real files (all round-trip verified)."""
    from rich.console import Console

    from lstmzip import bench as bench_mod
    from lstmzip import bench_report
    from lstmzip.engines import resolve_device

    paths = list(files or []) + (_corpus_files(corpus) if corpus else [])
    if not paths:
        raise typer.BadParameter("give files or --corpus DIR", param_hint="FILES")
    if plot_out:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise LstmzipError("--plot needs matplotlib (pip install 'lstmzip[bench]')") from None
    cfg = bench_mod.BenchConfig(paths, [m for m in models_.split(",") if m],
                                [p for p in peers_.split(",") if p], threads, resolve_device(device))
    err = Console(stderr=True)

    def show(r: bench_mod.Result) -> None:
        if not quiet:
            err.print(f"{r.file}: {r.codec} {r.bpc:.3f} bpc, {r.compress_kbps:,.1f} / {r.decompress_kbps:,.1f} KB/s")

    report = bench_mod.run(cfg, show)
    for note in report.notes:
        err.print(f"note: {note}")
    Console().print(bench_report.rich_table(report))
    for path, text in [(json_out, report.to_json()), (md_out, bench_report.markdown(report))]:
        if path:
            with atomic_output(path, force=True) as f:
                f.write(text.encode())
    if plot_out:
        bench_report.plot(report, plot_out)


def command_names() -> set[str]:
    """The subcommands' names as typer gives them (a function's name when none is set)."""
    return {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands}


def main() -> None:
    from lstmzip.gzip_style import main_argv

    install_signal_handlers()
    app(args=main_argv(command_names()), prog_name="lstmzip")
