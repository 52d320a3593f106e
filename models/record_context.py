"""Record contexts: where a byte sits in its line, for the context bias of methods 5 and 6.

Logs, tables and code are lines of fields. Beside the last bytes, what predicts the next
byte there is the byte at the same column of the line above, which field of the line this
is, the word being typed and (method 6) the field's name, the word before the last ':' or
'=' (JSON keys, key=value pairs). This class keeps, per stream, the stream's own bytes, where
its current and previous lines start, a field counter and hashes of the current word and the
field name, and turns them into integer keys (< 2^48) that the context bias hashes into its
tables.
Integer-exact torch on the CPU, batched over streams like the context bias.
"""
from __future__ import annotations

import torch

KINDS = ("column", "field", "word", "field_class", "key")
NO_BYTE = 256  # "above" where the line above is shorter (or there is none)
_WORD_MASK = (1 << 40) - 1
_WORD_MULT = 0x2F0B3
FIELD_SEPARATORS = b" \t,=:"
MAX_FIELD = 63
MAX_COLUMN = 63


def _byte_table(groups: dict[int, bytes | range]) -> torch.Tensor:
    t = torch.zeros(256, dtype=torch.int64)
    for value, members in groups.items():
        t[list(members)] = value
    return t


# 1 digit, 2 upper case, 3 lower case, 4 space, 5 tab, 6 newline, 0 anything else
BYTE_CLASS = _byte_table({1: range(48, 58), 2: range(65, 91), 3: range(97, 123), 4: b" ", 5: b"\t", 6: b"\n"})
_IS_SEPARATOR = _byte_table({1: FIELD_SEPARATORS})
_IS_WORD = _byte_table({1: [*range(48, 58), *range(65, 91), *range(97, 123)]})


class RecordContext:
    def __init__(self, streams: int, steps: int, starts: torch.Tensor | None = None):
        """Stream i codes its first byte at step starts[i] (0 if not given)."""
        self.hist = torch.zeros((streams, max(steps, 1)), dtype=torch.uint8)
        self.t = 0
        self.line_start = torch.zeros(streams, dtype=torch.int64) if starts is None else starts.clone()
        self.prev_start = torch.full((streams,), -1, dtype=torch.int64)  # -1: no line above yet
        self.field = torch.zeros(streams, dtype=torch.int64)
        self.word = torch.zeros(streams, dtype=torch.int64)  # 0 outside a word
        self.last_word = torch.zeros(streams, dtype=torch.int64)  # the last word that ended
        self.key = torch.zeros(streams, dtype=torch.int64)  # the word before the last ':' or '='

    def keys(self, kinds: tuple[str, ...], ctx: torch.Tensor) -> list[torch.Tensor]:
        """One int64 key per stream for each kind; `ctx` holds each stream's last bytes, the
        latest lowest (the context bias's, from START_BYTE)."""
        rows = ctx.shape[0]
        last = ctx & 0xFF
        out = []
        for kind in kinds:
            if kind == "column":  # the byte above, the last byte and the column
                col = self.t - self.line_start[:rows]
                ps = self.prev_start[:rows]
                pos = ps + col
                valid = (ps >= 0) & (pos < self.line_start[:rows])
                above = torch.where(valid, self.hist[torch.arange(rows), pos.clamp(min=0)].long(), NO_BYTE)
                out.append(above | (last << 9) | (col.clamp(max=MAX_COLUMN) << 17))
            elif kind == "field":  # the field's number in the line and the last two bytes
                out.append(self.field[:rows].clamp(max=MAX_FIELD) | ((ctx & 0xFFFF) << 6))
            elif kind == "field_class":  # the field's number and the class of the last byte
                out.append(self.field[:rows].clamp(max=MAX_FIELD) | (BYTE_CLASS[last] << 6))
            elif kind == "word":  # the word so far (0 between words) and the last byte
                out.append(self.word[:rows] ^ (last << 20))
            elif kind == "key":  # the field's name (the word before the last ':' or '=') and the last byte
                out.append((self.key[:rows] << 8) | last)  # < 2^48
            else:
                raise ValueError(f"unknown record context {kind!r}")
        return out

    def update(self, y: torch.Tensor) -> None:
        """After a step that coded y (int64 [rows], the first `rows` streams)."""
        rows = y.shape[0]
        self.hist[:rows, self.t] = y.to(torch.uint8)
        self.t += 1
        newline = y == 10
        self.prev_start[:rows] = torch.where(newline, self.line_start[:rows], self.prev_start[:rows])
        self.line_start[:rows] = torch.where(newline, self.t, self.line_start[:rows])
        self.field[:rows] = torch.where(newline, 0, self.field[:rows] + _IS_SEPARATOR[y])
        grown = (self.word[:rows] * _WORD_MULT + y + 1) & _WORD_MASK
        is_word = _IS_WORD[y] == 1
        ended = ~is_word & (self.word[:rows] != 0)
        self.last_word[:rows] = torch.where(ended, self.word[:rows], self.last_word[:rows])
        named = (y == ord(":")) | (y == ord("="))
        self.key[:rows] = torch.where(named, self.last_word[:rows], torch.where(newline, 0, self.key[:rows]))
        self.word[:rows] = torch.where(is_word, grown, 0)
