"""A command over many files: `-r` folder expansion, the worker pool, and running the files
one after another (in-process) or several at once (with a pool, so that a folder of small
files keeps every worker busy, not just the blocks of one large file)."""
from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, ContextManager, Iterator

import typer

from lstmzip.errors import LstmzipError
from lstmzip.progress import progress_bar
from lstmzip.scaleout import ScaleOut, pool_for

# job(name, bar): bar(label, total) is the context manager that yields the progress callback.
Bar = Callable[[str, "int | None"], ContextManager]
Job = Callable[[str, Bar], None]


def expand(names: list[str], recursive: bool, archives: bool, suffix: str) -> list[str]:
    """With -r, a folder becomes its regular files, recursively and sorted (symbolic links are
    left out, like gzip -r): archives (NAME.suffix) for decompress and test, the other files for
    compress. Without -r, names pass through (a folder is refused later, per file)."""
    if not recursive:
        return names
    out: list[str] = []
    for name in names:
        if name == "-" or not os.path.isdir(name):
            out.append(name)
            continue
        for root, dirs, files in os.walk(name):
            dirs.sort()
            for f in sorted(files):
                path = os.path.join(root, f)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                if path.endswith(suffix) == archives:
                    out.append(path)
    if not out:
        raise LstmzipError(f"no files to {'decompress' if archives else 'compress'} in {', '.join(names)}")
    return out


@contextlib.contextmanager
def worker_pool(workers: int, cluster: str | None, threads: int, quiet: bool, device: str = "auto") -> Iterator:
    """A running lstmzip.scaleout.BlockPool for --workers/--cluster (and a line saying what
    it runs on), or None. `device`: the workers' (auto: GPU workers when the cluster has GPUs)."""
    with pool_for(ScaleOut(workers, cluster, device=device, threads=threads or 1)) as pool:
        if pool is not None and not quiet:
            where = f"Ray cluster {cluster}" if cluster else "local Ray"
            info, nodes = pool.info, pool.info["nodes"]
            asked = f" of {info['requested']} asked for (the others join when they start)" if pool.workers < info["requested"] else ""
            typer.echo(f"lstmzip: {pool.workers} {info['device']} workers{asked} on {where} "
                       f"({nodes} node{'s' if nodes > 1 else ''})", err=True)
        yield pool


def run_each(files: list[str], job: Job, pool, label: str, size_of: Callable[[str], "int | None"],
             quiet: bool, one_at_a_time: bool = False) -> None:
    """job(name, bar) for every file. Like gzip, a file that fails is reported (one line) and
    the others are still done; the exit code is 1 if any failed. With a pool and several files,
    up to pool.workers files run at once under one progress bar, unless `one_at_a_time` (their
    outputs share standard output, or one reads standard input)."""
    failed = 0

    def report(e: LstmzipError) -> None:
        nonlocal failed
        if len(files) == 1:
            raise e
        typer.echo(f"lstmzip: {e}", err=True)
        failed += 1

    if pool is None or len(files) == 1 or one_at_a_time:
        on = f" ({pool.workers} workers)" if pool is not None else ""
        for name in files:
            try:
                job(name, lambda text, total: progress_bar(f"{label} {text}{on}", total, quiet))
            except LstmzipError as e:
                report(e)
    else:
        sizes = [size_of(n) for n in files]
        total = None if None in sizes else sum(sizes)
        with progress_bar(f"{label} {len(files)} files, {pool.workers} workers", total, quiet) as shared:
            shared_bar = lambda text, n: contextlib.nullcontext(shared)  # noqa: E731
            ex = ThreadPoolExecutor(max_workers=min(len(files), max(1, pool.workers)))
            try:
                futures = [ex.submit(job, name, shared_bar) for name in files]
                for fut in futures:
                    try:
                        fut.result()
                    except LstmzipError as e:
                        report(e)
            except BaseException:
                # Ctrl-C or a signal: stop the pool, so that every file still being coded fails
                # (its unfinished output is discarded) and its thread ends.
                pool.close()
                raise
            finally:
                ex.shutdown(wait=True, cancel_futures=True)
    if failed:
        raise typer.Exit(1)
