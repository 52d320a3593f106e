"""Reversible transforms applied to a block before the model sees it (recorded per block).

CRLF -> LF: text with CRLF line endings is coded as LF text, which is what the models were
mostly trained on (a `\\r` the model does not expect costs several bits). The transform is
used only when every `\\n` in the block is preceded by `\\r`; then replacing every `\\r\\n` by
`\\n` is exactly undone by replacing every `\\n` by `\\r\\n` (lone `\\r` stay as they are).
Blocks with mixed line endings are coded unchanged.
"""
from __future__ import annotations

from enum import IntEnum


class Transform(IntEnum):
    NONE = 0
    CRLF = 1


def choose(data: bytes) -> Transform:
    lf = data.count(b"\n")
    if lf and data.count(b"\r\n") == lf:
        return Transform.CRLF
    return Transform.NONE


def forward(data: bytes, t: Transform) -> bytes:
    if t == Transform.CRLF:
        return data.replace(b"\r\n", b"\n")
    return data


def inverse(data: bytes, t: Transform) -> bytes:
    if t == Transform.CRLF:
        return data.replace(b"\n", b"\r\n")
    return data
