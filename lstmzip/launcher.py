"""The `lstmzip` command's entry point. It only imports the standard library, so Ctrl-C,
SIGTERM and SIGHUP are handled from the first instant, also during the second or two that
importing torch and the CLI takes: one `lstmzip: interrupted` line, never a traceback."""
from __future__ import annotations

import atexit
import os
import sys
import threading

from lstmzip.malloc_tuning import tune_malloc
from lstmzip.signals import install_signal_handlers, interrupted_exit_code


def exit_now(code: object) -> None:
    """End the process as a normal exit would, less the interpreter's teardown: threads that are
    not daemons are waited for, atexit handlers (multiprocessing, Ray, logging) run and
    stdout/stderr are flushed, then os._exit. The teardown would free every object and module
    torch's import made, one at a time: ~0.3 s on the 2-core machine (about 20% of `python -c
    "import torch"`), for memory the OS takes back anyway. Every file the command wrote is
    closed by now (atomic_output renames only closed files)."""
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"), as the interpreter treats it
        print(code, file=sys.stderr)
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: what it held is lost
            code = code or 1
    os._exit(code)


def main() -> None:
    tune_malloc()
    install_signal_handlers()
    try:
        from lstmzip.cli import main as cli_main
    except KeyboardInterrupt as e:
        message, code = interrupted_exit_code(e)
        print(message, file=sys.stderr)
        sys.exit(code)
    try:
        cli_main()
    except SystemExit as e:  # (typer ends every command with one)
        exit_now(e.code)
    exit_now(0)


if __name__ == "__main__":
    main()
