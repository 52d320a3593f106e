"""The `lstmzip` command's entry point. It only imports the standard library, so Ctrl-C,
SIGTERM and SIGHUP are handled from the first instant, also during the second or two that
importing torch and the CLI takes: one `lstmzip: interrupted` line, never a traceback."""
from __future__ import annotations

import signal
import sys


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


def main() -> None:
    install_signal_handlers()
    try:
        from lstmzip.cli import main as cli_main
    except KeyboardInterrupt as e:
        message, code = interrupted_exit_code(e)
        print(message, file=sys.stderr)
        sys.exit(code)
    cli_main()


if __name__ == "__main__":
    main()
