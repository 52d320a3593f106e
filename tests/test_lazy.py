"""Stage tables cost the memory of the rows written, not of the table."""
from pathlib import Path

import numpy as np

from lstmzip.stages.lazy import lazy_zeros


def _rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


def test_a_table_written_at_scattered_rows_stays_small():
    table = lazy_zeros((1 << 16, 256), np.int32)  # 64 MiB, like one context-bias order
    assert table.flags.writeable and not table.any()
    before = _rss_bytes()
    rows = np.arange(0, 1 << 16, 512)  # 128 rows, one per 512 KiB: each in its own 2 MiB page or 4
    table[rows] = 7
    grown = _rss_bytes() - before
    assert (table[rows] == 7).all() and table.sum() == 7 * 256 * len(rows)
    assert grown < 8 << 20, f"{grown >> 20} MiB resident for 128 rows"  # 2 MiB pages would be >= 64
