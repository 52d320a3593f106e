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

