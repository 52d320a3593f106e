"""A rich progress bar on stderr, shown only on a terminal and for inputs worth waiting for."""
from __future__ import annotations

import contextlib
import sys

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

MIN_BYTES = 64 << 10  # about a second of CPU coding


@contextlib.contextmanager
def progress_bar(label: str, total: int | None, quiet: bool):
    """Yields a callback taking a number of bytes done, or None when no bar is shown."""
    if quiet or not sys.stderr.isatty() or (total is not None and total < MIN_BYTES):
        yield None
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
