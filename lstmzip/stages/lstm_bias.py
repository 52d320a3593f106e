"""The part of a step that needs only the bytes: the LSTM and the context bias, which give each
step's frequency rows (int32 [n, 256]) before the match model and the mixing refine them.

`LstmBias` runs them in the caller's thread (on CUDA inside the captured step). On a CPU with
a core to spare, `ForkedLstmBias` runs the same code in a forked child process, beside the
match model, the mixing and the coder in the parent: Python threads would share one GIL,
which a step's hundreds of small torch ops hand back and forth (two threads of small torch
ops took ~2.5x as long as one thread doing both loops in turn on the 2-core machine), while a
process has its own. Coding, the child runs up to `AHEAD` steps ahead on the known bytes;
decoding, it gets each byte as soon as the parent has it and works out the next step's rows
while the parent updates its stages. The rows cross in shared memory, with one byte down a
pipe per step for the hand-over; either side finds the other gone from the pipe (no hang).
The integers are the same either way (tested): the child runs the same stages.
"""
from __future__ import annotations

import contextlib
import mmap
import os
import signal
import sys
import threading

import numpy as np
import torch

from lstmzip.errors import LstmzipError
from lstmzip.models.int_engine import IntegerLSTM
from lstmzip.stages.bias import BiasStage
from lstmzip.stages.recipes import Recipe
from lstmzip.stages.rows import RowBatch, pick, put

AHEAD = 4  # coding: the child's lead in steps (its ring of frequency rows)

# coders running in this process: a fork while another thread is inside torch could copy a
# lock that thread holds, so the child process is used only by the one coder running
_running = 0
_running_lock = threading.Lock()


def forking_allowed(device: torch.device) -> bool:
    """Whether a step's LSTM and context bias run in a forked process: on a Linux CPU where
    torch's threads leave a core free (the CLI's default), unless LSTMZIP_FORK=0."""
    return (device.type == "cpu" and sys.platform.startswith("linux") and hasattr(os, "fork")
            and torch.get_num_threads() < (os.cpu_count() or 1) and os.environ.get("LSTMZIP_FORK", "1") != "0")


class LstmBias:
    """The LSTM and the context bias of a RowBatch, in this thread: freqs(t, act) gives step t's
    rows, update(t, y, act) takes its bytes."""

    def __init__(self, engine: IntegerLSTM, rows: RowBatch, recipe: Recipe):
        self.engine, self.rows = engine, rows
        self.state = engine.initial_state(rows.rows)
        self.x = engine.start_bytes(rows.rows)
        self.bias = BiasStage(recipe.bias, rows, engine.lut_exp)
        # streams that join a ramped layout start from a running stream's LSTM state
        self._joins = rows.joins() if recipe.warm_start else {}
        self._ready: tuple[int, torch.Tensor] | None = None  # prepare's (step, layer 0's recurrent sums)

    def prepare(self, t: int, act: torch.Tensor | None) -> None:
        """What can be worked out before step t - 1's bytes are known (a decoder's child process
        does it while the parent decodes them): the context bias's update without the bytes
        (BiasStage.prepare_update), step t's layer-0 recurrent product (IntegerLSTM.recurrent)."""
        self.bias.prepare_update()
        self._join(t)
        self._ready = (t, self.engine.recurrent(self.state if act is None else self.state.select(act)))

    def _join(self, t: int) -> None:
        if t in self._joins:  # (their rows are not active before t: the state they copy is t's)
            dst, src = self._joins.pop(t)
            for part in self.state.h + self.state.c:
                part.index_copy_(0, dst, part.index_select(0, src))

    def freqs(self, t: int, act: torch.Tensor | None) -> torch.Tensor:
        """int32 [n, 256] frequency rows of step t's active rows. (In a captured CUDA graph t
        is the captured step's: no stream joins there.)"""
        biases = self.bias.gather(act)
        recurrent = None
        if self._ready is not None and self._ready[0] == t:
            recurrent, self._ready = self._ready[1], None
        else:
            self._join(t)
        logits, new = self.engine.step_logits(pick(self.x, act), self.state if act is None else self.state.select(act),
                                              recurrent)
        for full, part in zip(self.state.h + self.state.c, new.h + new.c):
            put(full, act, part)
        return self.bias.freqs(logits, act, biases)

    def update(self, t: int, y: torch.Tensor, act: torch.Tensor | None) -> None:
        """After step t coded y (int64 [n], the active rows)."""
        put(self.x, act, y)
        self.bias.update(y, act)

    def close(self) -> None:
        pass


def _shared(shape: tuple[int, ...], dtype: torch.dtype) -> tuple[torch.Tensor, mmap.mmap]:
    """A zeroed tensor in anonymous shared memory (a fork's child writes what the parent reads)."""
    count = int(np.prod(shape))
    buf = mmap.mmap(-1, max(1, count * torch.empty(0, dtype=dtype).element_size()))
    return torch.frombuffer(buf, dtype=dtype, count=count).view(shape), buf


class ForkedLstmBias:
    """LstmBias in a forked child process. `known` (int64 [rows, steps], coding): every step's
    bytes, so the child runs ahead; None (decoding): update hands each step's bytes over."""

    def __init__(self, engine: IntegerLSTM, rows: RowBatch, recipe: Recipe, known: torch.Tensor | None):
        self.rows, self.known = rows, known
        self._ring, self._ring_buf = _shared((AHEAD, rows.rows, 256), torch.int32)
        self._y, self._y_buf = _shared((rows.rows,), torch.int64)
        local = LstmBias(engine, rows, recipe)  # made here: the child inherits it
        from_child, to_parent = os.pipe()
        from_parent, to_child = os.pipe()
        inference = torch.is_inference_mode_enabled()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            code = 1
            try:
                os.close(from_child)
                os.close(to_child)
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_DFL)
                torch.set_num_threads(1)  # (OpenMP's threads are not forked)
                with torch.inference_mode(inference), torch.no_grad():
                    self._serve(local, from_parent, to_parent)
                code = 0
            except BaseException:  # noqa: BLE001  the parent reports it: the pipe closes early
                pass
            finally:
                os._exit(code)
        os.close(to_parent)
        os.close(from_parent)
        self._from_child, self._to_child = from_child, to_child
        self._done = False

    def _serve(self, local: LstmBias, from_parent: int, to_parent: int) -> None:
        rows, prev = self.rows, None
        for t in range(rows.steps):
            act = rows.active(t)
            if t > 0:
                if self.known is None:
                    _read(from_parent)  # step t - 1's bytes are in _y (its active rows')
                    y = self._y[: rows.rows if prev is None else prev.shape[0]].clone()
                else:
                    y = pick(self.known[:, t - 1], prev)
                local.update(t - 1, y, prev)
            if self.known is not None and t >= AHEAD:
                _read(from_parent)  # the parent has read step t - AHEAD's rows: its slot is free
            f = local.freqs(t, act)
            self._ring[t % AHEAD, : f.shape[0]].copy_(f)
            os.write(to_parent, b"f")
            if self.known is None and t + 1 < rows.steps:
                local.prepare(t + 1, rows.active(t + 1))  # while the parent decodes step t
            prev = act

    def freqs(self, t: int, act: torch.Tensor | None) -> torch.Tensor:
        n = self.rows.rows if act is None else act.shape[0]
        _read(self._from_child)
        f = self._ring[t % AHEAD, :n].clone()
        if self.known is not None and t + AHEAD < self.rows.steps:
            os.write(self._to_child, b"r")  # its slot is free
        return f

    def update(self, t: int, y: torch.Tensor, act: torch.Tensor | None) -> None:
        if self.known is None and t + 1 < self.rows.steps:
            self._y[: y.shape[0]].copy_(y)
            os.write(self._to_child, b"y")
        if t + 1 >= self.rows.steps:
            self._done = True

    def close(self) -> None:
        for fd in (self._from_child, self._to_child):
            os.close(fd)
        if not self._done:  # stopped early (an error, an interrupt): it need not finish its step
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def _read(fd: int) -> None:
    """One hand-over byte; LstmzipError where the other side has gone."""
    if not os.read(fd, 1):
        raise LstmzipError("the model's process ended unexpectedly")


@contextlib.contextmanager
def lstm_bias(engine: IntegerLSTM, rows: RowBatch, recipe: Recipe, known: torch.Tensor | None):
    """ForkedLstmBias where forking is allowed and no other coder of this process is running
    (and there are steps to share), else LstmBias; closed on leaving."""
    global _running
    side = None
    with _running_lock:
        fork = forking_allowed(rows.device) and _running == 0 and rows.steps > 1
        _running += 1
        if fork:  # forked under the lock: a coder starting in another thread waits here, so
            try:  # none of its torch ops is under way at the fork (the child never takes it)
                side = ForkedLstmBias(engine, rows, recipe, known)
            except BaseException:
                _running -= 1
                raise
    try:
        if side is None:
            side = LstmBias(engine, rows, recipe)
        try:
            yield side
        finally:
            side.close()
    finally:
        with _running_lock:
            _running -= 1
