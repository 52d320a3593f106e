"""The `lstmzip` command (typer). Commands stay thin: the work is in lstmzip.api."""
from __future__ import annotations

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

from lstmzip import api
from lstmzip.errors import LstmzipError
from lstmzip.fileio import atomic_output, open_input
from lstmzip.progress import progress_bar
from models import registry

SUFFIX = ".lstmz"
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Lossless text compression with an LSTM model and a range coder.")

def _version(value: bool) -> None:
    if value:
        from lstmzip import __version__
        from lstmzip.container import VERSION
        from models.fixed_point import ENGINE_VERSION

        typer.echo(f"lstmzip {__version__} (archive format {VERSION}, engine {ENGINE_VERSION})")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                        help="Show the version and exit.")) -> None:
    pass


FilesArg = typer.Argument(None, help="Files; '-' or none for stdin.")
ModelOpt = typer.Option(registry.DEFAULT_MODEL, "--model", "-m", help="Shipped model name or model file.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bar.")
ThreadsOpt = typer.Option(0, "--threads", "-T", help="torch CPU threads (0: one less than the cores, the "
                          "last one runs the adaptive stages beside the LSTM). Output is the same for any value.")


def handle_errors(fn):
    """One line on stderr and exit code 1 for every failure a user can cause; no tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LstmzipError as e:
            typer.echo(f"lstmzip: {e}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("lstmzip: interrupted", err=True)
            raise typer.Exit(130) from None
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


def _set_threads(n: int) -> None:
    if n < 0:
        raise typer.BadParameter("must be >= 0", param_hint="--threads")
    import torch

    torch.set_num_threads(n or max(1, (os.cpu_count() or 2) - 1))


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


def _convert(name: str, target: Optional[Path], force: bool, quiet: bool, label: str, total: int | None, job) -> None:
    """Run job(src, dst, progress) from file `name` (or stdin) to `target` (or stdout if None)."""
    src = sys.stdin.buffer if name == "-" else open_input(Path(name))
    try:
        with progress_bar(f"{label} {name}", total, quiet) as progress:
            if target is None:
                job(src, sys.stdout.buffer, progress)
                sys.stdout.buffer.flush()
            else:
                with atomic_output(target, force, mode_from=None if name == "-" else name) as dst:
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
    quiet: bool = QuietOpt,
    threads: int = ThreadsOpt,
) -> None:
    """Compress FILES to FILE.lstmz (input kept)."""
    _set_threads(threads)
    files = _inputs(files)
    if output and len(files) > 1:
        raise typer.BadParameter("-o takes one input file", param_hint="--output")
    for name in files:
        to_stdout = stdout or (name == "-" and output is None)
        if name != "-" and name.endswith(SUFFIX) and not force and not to_stdout and output is None:
            raise LstmzipError(f"{name} already has the {SUFFIX} suffix; use -f to compress it anyway")
        if to_stdout:
            _stdout_ok(force)
        target = None if to_stdout else output or Path(name + SUFFIX)
        _convert(name, target, force, quiet, "compress", _size(name),
                 lambda src, dst, progress: api.compress_stream(src, dst, model, progress=progress))
        if rm and name != "-" and not to_stdout:
            os.unlink(name)


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
    quiet: bool = QuietOpt,
    threads: int = ThreadsOpt,
) -> None:
    """Decompress FILE.lstmz to FILE (archive kept)."""
    _set_threads(threads)
    files = _inputs(files)
    if output and len(files) > 1:
        raise typer.BadParameter("-o takes one input file", param_hint="--output")
    for name in files:
        to_stdout = stdout or (name == "-" and output is None)
        target = None if to_stdout else _decompress_target(name, output)
        _convert(name, target, force, quiet, "decompress", None,
                 lambda src, dst, progress: api.decompress_stream(src, dst, model, progress=progress))
        if rm and name != "-" and not to_stdout:
            os.unlink(name)


@app.command("test")
@handle_errors
def test_cmd(
    files: Optional[List[str]] = FilesArg,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model file, if not a shipped one."),
    quiet: bool = QuietOpt,
    threads: int = ThreadsOpt,
) -> None:
    """Verify archives (every block checksum and the trailer) without writing anything."""
    _set_threads(threads)
    for name in _inputs(files):
        src = sys.stdin.buffer if name == "-" else open_input(Path(name))
        try:
            with progress_bar(f"test {name}", None, quiet) as progress:
                n = api.decompress_stream(src, None, model, progress=progress)
        finally:
            if src is not sys.stdin.buffer:
                src.close()
        if not quiet:
            typer.echo(f"{name}: OK ({n} bytes)", err=True)


def _bpc_row(name: str, data: bytes, model: str, verify: bool, progress) -> dict:
    out = io.BytesIO()
    stats = api.compress_stream(io.BytesIO(data), out, model, progress=progress)
    if verify and api.decompress(out.getvalue()) != data:
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
) -> None:
    """Bits per character: the model's estimate, the real archive, gzip -9 and bzip2 -9."""
    _set_threads(threads)
    rows = []
    for name in files:
        with open_input(Path(name)) as f:
            data = f.read()
        with progress_bar(f"bpc {name}", len(data), quiet) as progress:
            row = _bpc_row(name, data, model, verify, progress)
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
def models() -> None:
    """List the shipped models."""
    from rich.console import Console
    from rich.table import Table

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


def main() -> None:
    app(prog_name="lstmzip")
