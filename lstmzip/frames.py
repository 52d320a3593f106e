"""Length-prefixed messages between lstmzip and its Ray driver process (lstmzip.ray_driver).

Both ends are this package, on one machine, over the driver's stdin and stdout; model files
travel as plain bytes inside them (model files themselves are never pickles).
"""
from __future__ import annotations

import pickle
import struct
import threading
from typing import BinaryIO

_LEN = struct.Struct("<Q")
MAX_FRAME = 1 << 31


class FrameWriter:
    def __init__(self, f: BinaryIO):
        self.f, self.lock = f, threading.Lock()

    def send(self, msg) -> None:
        body = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        with self.lock:
            self.f.write(_LEN.pack(len(body)) + body)
            self.f.flush()


def read_frame(f: BinaryIO):
    """The next message, or None at end of stream (also when cut off mid-frame)."""
    head = f.read(_LEN.size)
    if len(head) < _LEN.size:
        return None
    (n,) = _LEN.unpack(head)
    if n > MAX_FRAME:
        raise ValueError("frame too large")
    body = f.read(n)
    if len(body) < n:
        return None
    return pickle.loads(body)
