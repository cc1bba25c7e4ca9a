"""A reader that closes stdout early: ``stemtui info X | head``, ``list | head -1``, ``list --json | head -c 10``.

The CLI ends quietly with exit 1 (Python's documented convention for a
closed stdout; a tool killed by SIGPIPE shows 141 in a shell, non-zero
either way): no traceback, no "Exception ignored" from the interpreter's
final flush, nothing at all on stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

TIMEOUT = 60


def run_into_closed_pipe(args: list[str]) -> subprocess.CompletedProcess:
    """The CLI with its stdout a pipe whose reader is already gone: every write is EPIPE."""
    r_fd, w_fd = os.pipe()
    os.close(r_fd)
    try:
        return subprocess.run(
            [sys.executable, "-m", "stemtui", *args],
            stdout=w_fd,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        os.close(w_fd)


COMMANDS = [["info", "demo"], ["list"], ["list", "--json"]]


@pytest.mark.usefixtures("demo_store")  # the demo in the test's cache (STEMTUI_CACHE_DIR)
@pytest.mark.parametrize("args", COMMANDS, ids=["info", "list", "list-json"])
def test_a_closed_stdout_ends_quietly(args):
    r = run_into_closed_pipe(args)
    assert r.returncode == 1, r.stderr
    assert r.stderr == ""


@pytest.mark.usefixtures("demo_store")
@pytest.mark.parametrize(
    "pipeline",
    ["stemtui info demo | head -c 1", "stemtui list | head -1", "stemtui list --json | head -c 10"],
    ids=["info", "list", "list-json"],
)
def test_head_in_a_shell(pipeline, tmp_path):
    """Through a real shell and head; the output may or may not fit the pipe before head exits."""
    exe = tmp_path / "stemtui"
    exe.write_text(f'#!/bin/sh\nexec {sys.executable} -m stemtui "$@"\n')
    exe.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    r = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {pipeline}; rc=$?; echo; echo rc=$rc"],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
    )
    assert r.stderr == "", r.stderr
    assert r.stdout.strip().splitlines()[-1] in ("rc=0", "rc=1"), r.stdout
