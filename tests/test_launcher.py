"""The entry point's exit: what a normal interpreter exit does (atexit handlers, flushed
output, the exit code) without the teardown."""
import subprocess
import sys

import pytest

SCRIPT = """
import atexit, sys
from lstmzip.launcher import exit_now
atexit.register(lambda: print("atexit ran", file=sys.stderr))
sys.stdout.write("unflushed output")  # still in the buffer when exit_now is called
exit_now({code!r})
"""


@pytest.mark.parametrize("code, rc, message", [(None, 0, ""), (0, 0, ""), (3, 3, ""), ("lstmzip: bad", 1, "lstmzip: bad\n")])
def test_exit_now_is_a_normal_exit(code, rc, message):
    r = subprocess.run([sys.executable, "-c", SCRIPT.format(code=code)], capture_output=True, text=True, timeout=60)
    assert r.returncode == rc
    assert r.stdout == "unflushed output"
    assert r.stderr == message + "atexit ran\n"


def test_exit_now_waits_for_threads():
    # a thread that is not a daemon finishes before the process ends, as on a normal exit
    script = ("import sys, threading, time\nfrom lstmzip.launcher import exit_now\n"
              "threading.Thread(target=lambda: (time.sleep(0.5), print('thread done'))).start()\nexit_now(0)")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "thread done\n")
