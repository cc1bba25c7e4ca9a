"""What C code writes on fd 2 goes to the log; Python's own stderr and tracebacks reach the terminal.

Run in a child whose stderr is a pipe we read, as a terminal would show it.
"""

from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import os, sys
from stemtui.core.audio.native_stderr import NativeStderr

cap = NativeStderr(sys.argv[1]).start()
os.write(2, b"Expression 'x' failed in 'src/hostapi/alsa/pa_linux_alsa.c'\n")  # as PortAudio's C code does
print("warning: our own line", file=sys.stderr)
if sys.argv[2] == "crash":
    raise RuntimeError("a Python crash")
cap.stop()
os.write(2, b"fd 2 is back\n")
"""


def run(tmp_path, mode: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "log"), mode], capture_output=True, text=True, timeout=60
    )


def test_c_output_goes_to_the_log_and_ours_to_the_terminal(tmp_path):
    r = run(tmp_path, "ok")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == ["warning: our own line", "fd 2 is back"], r.stderr
    log = (tmp_path / "log" / "native-stderr.log").read_text()
    assert "pa_linux_alsa.c" in log and "our own line" not in log, log


def test_a_python_traceback_still_reaches_the_terminal(tmp_path):
    r = run(tmp_path, "crash")
    assert r.returncode == 1
    assert "Traceback" in r.stderr and "RuntimeError: a Python crash" in r.stderr, r.stderr
    assert "pa_linux_alsa" not in r.stderr, r.stderr
