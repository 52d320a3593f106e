"""Signals as exceptions: SIGTERM and SIGHUP unwind like Ctrl-C, so no partial output is
left, and each ends in one `lstmzip: interrupted (...)` line with the shell's exit code.
Standard library only: the launcher installs these before importing anything heavy."""
from __future__ import annotations

import signal


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so no partial output is left."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, _frame) -> None:
    # Further signals are ignored while the first one unwinds and cleans up.
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


def install_signal_handlers() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)


def interrupted_exit_code(e: KeyboardInterrupt) -> tuple[str, int]:
    signum = getattr(e, "signum", signal.SIGINT)
    return f"lstmzip: interrupted ({signal.Signals(signum).name})", 128 + signum
