"""Record contexts: where a byte sits in its line, for the context bias of methods 5 and 6.

Logs, tables and code are lines of fields. Beside the last bytes, what predicts the next
byte there is the byte at the same column of the line above, which field of the line this
is, the word being typed, (method 6) the field's name, the word before the last ':' or
'=' (JSON keys, key=value pairs), and (method 7) the bytes at the same offset of the same field
in the line above: fields of varying length (IP addresses, paths, JSON values) shift the
columns, not the fields. This class keeps, per stream, the stream's own bytes, where its
current and previous lines (and their fields) start, a field counter and hashes of the current
word and the field name, and turns them into integer keys (< 2^48) that the context bias
hashes into its tables.
Integer-exact numpy, batched over streams like the context bias.
"""
from __future__ import annotations

import numpy as np
import torch

KINDS = ("column", "field", "word", "field_class", "key", "field_above", "field_above_next")
FIELD_ABOVE_KINDS = ("field_above", "field_above_next")
NO_BYTE = 256  # "above" where the line above is shorter (or there is none)
_WORD_MASK = (1 << 40) - 1
_WORD_MULT = 0x2F0B3
FIELD_SEPARATORS = b" \t,=:"
MAX_FIELD = 63
MAX_COLUMN = 63
MAX_FIELD_START = 255  # fields of a line whose start is kept (for the field_above kinds)


def _byte_table(groups: dict[int, bytes | range]) -> np.ndarray:
    t = np.zeros(256, dtype=np.int64)
    for value, members in groups.items():
        t[list(members)] = value
    return t


# 1 digit, 2 upper case, 3 lower case, 4 space, 5 tab, 6 newline, 0 anything else
BYTE_CLASS = _byte_table({1: range(48, 58), 2: range(65, 91), 3: range(97, 123), 4: b" ", 5: b"\t", 6: b"\n"})
_IS_SEPARATOR = _byte_table({1: FIELD_SEPARATORS}).astype(bool)
_IS_WORD = _byte_table({1: [*range(48, 58), *range(65, 91), *range(97, 123)]}).astype(bool)
_IS_NAMED = _byte_table({1: b":="}).astype(bool)


class RecordContext:
    """Per-stream state in numpy: at the few dozen rows of a step a numpy op costs about a
    microsecond, a torch op several. key_arrays() gives the keys as numpy arrays (what the
    context bias uses), keys() as torch tensors."""

    def __init__(self, streams: int, steps: int, starts: np.ndarray | None = None, field_starts: bool = False):
        """Stream i codes its first byte at step starts[i] (0 if not given). `field_starts`:
        keep where the fields of each line start (for the field_above kinds)."""
        self.hist = np.zeros((streams, max(steps, 1)), dtype=np.uint8)
        self.t = 0
        self.line_start = np.zeros(streams, dtype=np.int64) if starts is None else np.array(starts, dtype=np.int64)
        self.prev_start = np.full(streams, -1, dtype=np.int64)  # -1: no line above yet
        self.field = np.zeros(streams, dtype=np.int64)
        self.word = np.zeros(streams, dtype=np.int64)  # 0 outside a word
        self.last_word = np.zeros(streams, dtype=np.int64)  # the last word that ended
        self.key = np.zeros(streams, dtype=np.int64)  # the word before the last ':' or '='
        self.field_starts = field_starts
        if field_starts:  # the step at which field f of the current / previous line starts, -1: none
            self.fstart = np.full((streams, MAX_FIELD_START + 1), -1, dtype=np.int64)
            self.fstart[:, 0] = self.line_start
            self.fstart_prev = np.full((streams, MAX_FIELD_START + 1), -1, dtype=np.int64)
        self._above_t = -1  # the step _field_above was worked out for

    def keys(self, kinds: tuple[str, ...], ctx: torch.Tensor) -> list[torch.Tensor]:
        """One int64 key per stream for each kind; `ctx` holds each stream's last bytes, the
        latest lowest (the context bias's, from START_BYTE)."""
        return [torch.from_numpy(k) for k in self.key_arrays(kinds, ctx.numpy())]

    def key_arrays(self, kinds: tuple[str, ...], ctx: np.ndarray) -> list[np.ndarray]:
        """keys() in numpy."""
        rows = ctx.shape[0]
        last = ctx & 0xFF
        out = []
        for kind in kinds:
            if kind == "column":  # the byte above, the last byte and the column
                col = self.t - self.line_start[:rows]
                ps = self.prev_start[:rows]
                pos = ps + col
                valid = (ps >= 0) & (pos < self.line_start[:rows])
                above = np.where(valid, self.hist[np.arange(rows), np.maximum(pos, 0)].astype(np.int64), NO_BYTE)
                out.append(above | (last << 9) | (np.minimum(col, MAX_COLUMN) << 17))
            elif kind == "field":  # the field's number in the line and the last two bytes
                out.append(np.minimum(self.field[:rows], MAX_FIELD) | ((ctx & 0xFFFF) << 6))
            elif kind == "field_class":  # the field's number and the class of the last byte
                out.append(np.minimum(self.field[:rows], MAX_FIELD) | (BYTE_CLASS[last] << 6))
            elif kind == "word":  # the word so far (0 between words) and the last byte
                out.append(self.word[:rows] ^ (last << 20))
            elif kind == "key":  # the field's name (the word before the last ':' or '=') and the last byte
                out.append((self.key[:rows] << 8) | last)  # < 2^48
            elif kind == "field_above":  # the byte above in the field, the last byte and the field
                above, _, field = self._field_above(rows)
                out.append(above | (last << 9) | (field << 17))
            elif kind == "field_above_next":  # the byte above in the field, the one after it and the field
                above, after, field = self._field_above(rows)
                out.append(above | (after << 9) | (field << 18))
            else:
                raise ValueError(f"unknown record context {kind!r}")
        return out

    def _field_above(self, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per stream: the byte at the next byte's offset in its field in the line above and the
        byte after that one (NO_BYTE where the line above has no such byte), and the field's
        number (<= MAX_FIELD)."""
        if self._above_t != self.t:
            r = np.arange(rows)
            f = np.minimum(self.field[:rows], MAX_FIELD_START)
            cur, prev = self.fstart[r, f], self.fstart_prev[r, f]
            pos = prev + (self.t - cur)
            end = self.line_start[:rows]  # the line above ends before the current line
            ok = (prev >= 0) & (cur >= 0)
            last_col = self.hist.shape[1] - 1
            above = np.where(ok & (pos < end), self.hist[r, np.clip(pos, 0, last_col)].astype(np.int64), NO_BYTE)
            after = np.where(ok & (pos + 1 < end), self.hist[r, np.clip(pos + 1, 0, last_col)].astype(np.int64), NO_BYTE)
            self._above = (above, after, np.minimum(f, MAX_FIELD))
            self._above_t = self.t
        return self._above

    def update(self, y: torch.Tensor | np.ndarray) -> None:
        """After a step that coded y (int64 [rows], the first `rows` streams)."""
        y = y.numpy() if isinstance(y, torch.Tensor) else y
        rows = y.shape[0]
        self.hist[:rows, self.t] = y
        self.t += 1
        newline = y == 10
        separator = _IS_SEPARATOR[y]
        line_start = self.line_start[:rows]
        self.prev_start[:rows][newline] = line_start[newline]
        line_start[newline] = self.t
        field = self.field[:rows]
        field += separator
        field[newline] = 0
        if self.field_starts:
            lines = np.flatnonzero(newline)
            if len(lines):
                self.fstart_prev[lines] = self.fstart[lines]
                self.fstart[lines] = -1
            # a field starts after each separator (the first one at the line's start)
            r = np.flatnonzero((separator | newline) & (field <= MAX_FIELD_START))
            self.fstart[r, field[r]] = self.t
        word = self.word[:rows]
        is_word = _IS_WORD[y]
        ended = ~is_word & (word != 0)
        self.last_word[:rows][ended] = word[ended]
        key = self.key[:rows]
        key[newline] = 0
        named = _IS_NAMED[y]
        key[named] = self.last_word[:rows][named]
        word[:] = np.where(is_word, (word * _WORD_MULT + y + 1) & _WORD_MASK, 0)
