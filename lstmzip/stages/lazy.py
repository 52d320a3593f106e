"""Zeroed tables whose memory grows with the rows actually written.

The stages' hashed tables are large (up to 2^16 rows of 256 entries each) and a block touches
a scattered few of their rows. An anonymous mapping is zero until written, 4 KiB at a time.
numpy's own zeros would do the same, but it advises the kernel to back large arrays with
2 MiB pages, and scattered writes then make the whole table resident: 555 MB peak for a 4 KB
input with the default model, and ~0.4 s of zeroing.
"""
from __future__ import annotations

import mmap

import numpy as np


def lazy_zeros(shape: tuple[int, ...], dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    buf = mmap.mmap(-1, max(count * dtype.itemsize, 1))
    if hasattr(mmap, "MADV_NOHUGEPAGE"):  # also where the kernel uses huge pages unasked
        buf.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(buf, dtype=dtype, count=count).reshape(shape)
