"""glibc's malloc thresholds for a coding process (the CLI's, its LSTM child's, a benchmark's).

glibc serves blocks above 128 KiB from mmap and unmaps them on free, so each coding step's
multi-MB temporaries page-fault again until its threshold adapts, and where it settles depends
on the order of the allocations: the same decode ran in ~10 s or ~15 s from run to run
(768 KB of English in-process, 2-core EPYC, the LSTM child the slow side). Fixed thresholds
keep freed blocks for the next step: book1 decompressed through the CLI in 28.1 s with method
10, 20.5 s with these (method 4: 19.0 -> 17.1 s), same peak RSS. Only the command line and
processes of lstmzip's own set them: a program that imports lstmzip keeps its own malloc."""
from __future__ import annotations

import ctypes


def tune_malloc() -> None:
    """Fixed mmap and trim thresholds for this process (no-op where libc is not glibc)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass
