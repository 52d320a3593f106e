"""The part of a step that needs only the bytes: the LSTM, the context bias and the match
model, which give each step's frequency rows (int64 [n, 256]) before the mixing refines them.

`LstmBias` runs them in the caller's thread (on CUDA inside the captured step). On a CPU with
a core to spare, `ForkedLstmBias` runs the same code in a forked child process, beside the
mixing and the coder in the parent: Python threads would share one GIL,
which a step's hundreds of small torch ops hand back and forth (two threads of small torch
ops took ~2.5x as long as one thread doing both loops in turn on the 2-core machine), while a
process has its own. Coding, the child runs up to `AHEAD` steps ahead on the known bytes and
runs the match model too, so the parent only mixes and codes; decoding, the child gets each
byte as soon as the parent has it and works out the next step's rows while the parent updates
the match model and the mixing, and once the parent hands over the match it found, the child
adjusts the rows to it. The rows, and what the mixing (or the adjustment) reads of the match
model, cross in shared memory, with a byte down a pipe for each hand-over; either side finds
the other gone from the pipe (no hang).
The integers are the same either way (tested): the child runs the same stages.
"""
from __future__ import annotations

import contextlib
import mmap
import os
import signal
import sys
import threading
import time

import numpy as np
import torch

from lstmzip.errors import LstmzipError
from lstmzip.malloc_tuning import tune_malloc
from lstmzip.models.int_engine import IntegerLSTM
from lstmzip.stages.bias import BiasStage
from lstmzip.stages.match import MatchStage
from lstmzip.stages.mix import LstmNodes
from lstmzip.stages.recipes import Recipe
from lstmzip.stages.rows import RowBatch, pick, put

AHEAD = 4  # coding: the child's lead in steps (its ring of frequency rows)
# how long a side waiting for the other's hand-over watches for it before it sleeps in read:
# waking a process asleep in read took ~30 us of the writer's time and more of the reader's
# on the 2-core VM, on both sides of the loop a decoding step waits on (rows, byte)
SPIN_S = 0.002

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
    """The LSTM, the context bias and the match model of a RowBatch, in this thread:
    prepare_match(t, act) finds step t's matches (`match`: what the mixing reads), freqs(t, act)
    gives its rows, update(t, t_dev, y, act) takes its bytes."""

    def __init__(self, engine: IntegerLSTM, rows: RowBatch, recipe: Recipe):
        self.engine, self.rows = engine, rows
        self.state = engine.initial_state(rows.rows)
        self.x = engine.start_bytes(rows.rows)
        self.bias = BiasStage(recipe.bias, rows, engine.lut_exp)
        self.match = MatchStage(recipe.match, rows)
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

    def prepare_match(self, t: int, act: torch.Tensor | None) -> None:
        """Step t's match per active row (MatchStage.prepare), before its rows are asked for."""
        self.match.prepare(act)

    def freqs(self, t: int, act: torch.Tensor | None) -> torch.Tensor:
        """int64 [n, 256] frequency rows of step t's active rows, the match model's adjustment
        made. (In a captured CUDA graph t is the captured step's: no stream joins there.)"""
        return self.match.adjust(self.lstm_freqs(t, act), act)

    def lstm_input(self, t: int, n: int) -> torch.Tensor | None:
        """Step t's first-nibble LstmNodes, where worked out beside the rows (here: not)."""
        return None

    def lstm_freqs(self, t: int, act: torch.Tensor | None) -> torch.Tensor:
        """int32 [n, 256]: the rows of the LSTM and the context bias alone."""
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

    def update(self, t: int, t_dev: torch.Tensor, y: torch.Tensor, act: torch.Tensor | None) -> None:
        """After step t (also as a 0-d tensor on the device, for CUDA graphs) coded y (int64
        [n], the active rows)."""
        self.lstm_update(y, act)
        self.match.update(t, t_dev, y, act)

    def lstm_update(self, y: torch.Tensor, act: torch.Tensor | None) -> None:
        """The LSTM's and the context bias's part of update."""
        put(self.x, act, y)
        self.bias.update(y, act)

    def close(self) -> None:
        pass


def _shared(shape: tuple[int, ...], dtype: torch.dtype) -> tuple[torch.Tensor, mmap.mmap]:
    """A zeroed tensor in anonymous shared memory (a fork's child writes what the parent reads)."""
    count = int(np.prod(shape))
    buf = mmap.mmap(-1, max(1, count * torch.empty(0, dtype=dtype).element_size()))
    return torch.frombuffer(buf, dtype=dtype, count=count).view(shape), buf


class SharedMatch:
    """What the mixing reads of a match model in the child process: has and predicted (the
    active rows', as MatchStage.prepare leaves them), length (every row's), len_edges."""

    def __init__(self, match: MatchStage):
        self.len_edges = match.len_edges
        self.has = self.predicted = self.length = None


class ForkedLstmBias:
    """LstmBias in a forked child process. `known` (uint8 [rows, steps], coding): every step's
    bytes, so the child runs ahead, the match model too; None (decoding): update hands each
    step's bytes over, and the match model runs here (in the child its update would come
    between a byte and the next rows, which the parent waits for: tried, xargs.1 decoded no
    faster, 290 KB of English neither), but the child adjusts the rows to its match (the
    parent hands it over as soon as it has updated the match model, before the mixing's
    update): 290 KB of English decoded ~3% faster in-process."""

    def __init__(self, engine: IntegerLSTM, rows: RowBatch, recipe: Recipe, known: torch.Tensor | None):
        self.rows, self.known = rows, known
        # per step of the child's lead: the rows (below 2^24) and the match model's prediction
        self._ring, self._ring_buf = _shared((AHEAD, rows.rows, 256), torch.int32)
        self._has, self._has_buf = _shared((AHEAD, rows.rows), torch.bool)
        self._predicted, self._predicted_buf = _shared((AHEAD, rows.rows), torch.int64)
        self._length, self._length_buf = _shared((AHEAD, rows.rows), torch.int64)
        self._y, self._y_buf = _shared((rows.rows,), torch.int64)
        # where the recipe mixes, the first nibble's LSTM input too (off the parent's step)
        self._nodes = LstmNodes(rows.device) if recipe.mix is not None else None
        self._lstm_in, self._lstm_in_buf = (_shared((AHEAD, rows.rows, 15), torch.int32) if self._nodes is not None
                                            else (None, None))
        self._lstm_in_now: torch.Tensor | None = None  # coding: freqs' copy of step t's
        local = LstmBias(engine, rows, recipe)  # made here: the child inherits it
        self.match = SharedMatch(local.match) if known is not None else local.match
        if known is None:  # what the child's adjust reads of the match model here, its map cells
            self._reads = [_shared(tuple(r.shape), r.dtype) for r in local.match.adjust_reads()]
            self._cell, self._cell_buf = _shared((rows.rows,), torch.int64)
            self._matched = -1  # the last step whose match was found and handed over
        sent, self._sent_buf = _shared((2,), torch.int64)  # hand-overs sent: to the child, to the parent
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
                tune_malloc()  # (this process is lstmzip's own, also under the Python API)
                with torch.inference_mode(inference), torch.no_grad():
                    self._serve(local, _Pipe(from_parent, to_parent, sent.numpy(), 0, 1))
                code = 0
            except BaseException:  # noqa: BLE001  the parent reports it: the pipe closes early
                pass
            finally:
                os._exit(code)
        os.close(to_parent)
        os.close(from_parent)
        self._pipe = _Pipe(from_child, to_child, sent.numpy(), 1, 0)
        self._done = False

    def _serve(self, local: LstmBias, pipe: _Pipe) -> None:
        rows, prev = self.rows, None
        t_dev = torch.zeros((), dtype=torch.int64)
        for t in range(rows.steps):
            act = rows.active(t)
            if t > 0:
                if self.known is None:
                    pipe.receive()  # step t - 1's bytes are in _y (its active rows')
                    y = self._y[: rows.rows if prev is None else prev.shape[0]].clone()
                else:
                    y = pick(self.known[:, t - 1].to(torch.int64), prev)
                if self.known is None:
                    local.lstm_update(y, prev)
                else:
                    local.update(t - 1, t_dev, y, prev)
                    t_dev.add_(1)
            if self.known is not None and t >= AHEAD:
                pipe.receive()  # the parent has read step t - AHEAD's rows: its slot is free
            slot = t % AHEAD
            if self.known is None:
                f = local.lstm_freqs(t, act)
                pipe.receive()  # the parent's match model has prepared step t
                n = f.shape[0]
                local.match.take_prepared(self._has[slot, :n].clone(), self._predicted[slot, :n].clone(),
                                          [r for r, _ in self._reads])
                f = local.match.adjust(f, act)
                self._cell[:n].copy_(local.match.cell)
            else:
                local.prepare_match(t, act)
                match = local.match
                self._has[slot, : match.has.shape[0]].copy_(match.has)
                self._predicted[slot, : match.has.shape[0]].copy_(match.predicted)
                self._length[slot].copy_(match.length)
                f = local.freqs(t, act)
            self._ring[slot, : f.shape[0]].copy_(f)
            if self._nodes is not None:
                n = f.shape[0]
                self._lstm_in[slot, :n].copy_(self._nodes(f.view(n, 16, 16).sum(2)).view(n, 15))
            pipe.send(b"f")
            if self.known is None and t + 1 < rows.steps:
                local.prepare(t + 1, rows.active(t + 1))  # while the parent decodes step t
            prev = act

    def prepare_match(self, t: int, act: torch.Tensor | None) -> None:
        if self.known is None:  # (decoding: here, while the child works out the rows, which
            if self._matched == t:  # it adjusts to the match found here; update found it early)
                return
            self._matched = t
            self.match.prepare(act)
            slot, n = t % AHEAD, self.match.has.shape[0]
            self._has[slot, :n].copy_(self.match.has)
            self._predicted[slot, :n].copy_(self.match.predicted)
            for (shared, _), r in zip(self._reads, self.match.adjust_reads()):
                shared.copy_(r)
            self._pipe.send(b"m")
            return
        n = self.rows.rows if act is None else act.shape[0]
        self._pipe.receive()  # the child's step t is in its slot
        slot = t % AHEAD
        self.match.has = self._has[slot, :n].clone()
        self.match.predicted = self._predicted[slot, :n].clone()
        self.match.length = self._length[slot].clone()

    def freqs(self, t: int, act: torch.Tensor | None) -> torch.Tensor:
        n = self.rows.rows if act is None else act.shape[0]
        if self.known is None:
            self._pipe.receive()
            self.match.adjusted_elsewhere(self._cell[:n].clone())
            return self._ring[t % AHEAD, :n]  # (int32; the child writes this slot again at t + AHEAD)
        f = self._ring[t % AHEAD, :n].to(torch.int64)
        if self._nodes is not None:  # (copied: the child may write the slot once told it is free)
            self._lstm_in_now = self._lstm_in[t % AHEAD, :n].clone()
        if t + AHEAD < self.rows.steps:
            self._pipe.send(b"r")  # its slot is free
        return f

    def lstm_input(self, t: int, n: int) -> torch.Tensor | None:
        """Step t's first-nibble LstmNodes (int32 [n, 1, 15]), worked out in the child; None
        where the recipe does not mix. After freqs(t, ...)."""
        if self._nodes is None:
            return None
        if self.known is None:
            return self._lstm_in[t % AHEAD, :n].view(n, 1, 15)
        return self._lstm_in_now.view(n, 1, 15)

    def update(self, t: int, t_dev: torch.Tensor, y: torch.Tensor, act: torch.Tensor | None) -> None:
        if self.known is None:
            if t + 1 < self.rows.steps:
                self._y[: y.shape[0]].copy_(y)
                self._pipe.send(b"y")
            self.match.update(t, t_dev, y, act)
            if t + 1 < self.rows.steps:  # the child waits for it once it has the rows
                self.prepare_match(t + 1, self.rows.active(t + 1))
        if t + 1 >= self.rows.steps:
            self._done = True

    def close(self) -> None:
        for fd in (self._pipe.read_fd, self._pipe.write_fd):
            os.close(fd)
        if not self._done:  # stopped early (an error, an interrupt): it need not finish its step
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


class _Pipe:
    """One process's ends of the hand-overs: a byte down a pipe each, and in shared memory a
    count of the bytes sent each way (`sent`: this side's at `mine`, the other's at `theirs`,
    counted once each byte is written), which a receiver watches for up to SPIN_S so that the
    byte is there when it reads: no sleep, no wake-up. The read is the hand-over (what was
    written before the byte is seen after reading it); the count only says when to read."""

    def __init__(self, read_fd: int, write_fd: int, sent: np.ndarray, theirs: int, mine: int):
        self.read_fd, self.write_fd = read_fd, write_fd
        self.theirs, self.mine = sent[theirs : theirs + 1], sent[mine : mine + 1]
        self.received = 0

    def send(self, byte: bytes) -> None:
        os.write(self.write_fd, byte)
        self.mine[0] += 1  # (only this process writes it)

    def receive(self) -> None:
        """One hand-over byte; LstmzipError where the other side has gone."""
        self.received += 1
        if self.theirs[0] < self.received:
            end = time.perf_counter() + SPIN_S
            while self.theirs[0] < self.received and time.perf_counter() < end:
                pass
        if not os.read(self.read_fd, 1):
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
