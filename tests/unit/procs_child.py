"""A generic worker for tests/unit/test_procs.py: ``python -m tests.unit.procs_child MODE [ARG]``.

Each mode exercises one part of the protocol of :mod:`stemtui.core.procs`.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from stemtui.core.procs.channel import Channel, serve


def _inner_failure() -> None:
    raise ValueError("boom in the child\nsecond line")


def body(chan: Channel) -> int:
    mode, arg = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
    if mode == "progress":
        print("a stray print goes to stderr, not into the protocol")
        n = int(arg)
        for i in range(n):
            chan.progress((i + 1) / n, i=i)
        chan.done(n=n)
    elif mode == "raise":
        _inner_failure()
    elif mode == "echo":
        chan.done(**chan.read())
    elif mode in ("wait", "ignore-term"):
        if mode == "ignore-term":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        chan.send("ready", pid=os.getpid())
        time.sleep(60)
        chan.done()
    elif mode == "cleanup":
        part = Path(arg)
        part.write_text("half-written")
        try:
            chan.send("ready")
            time.sleep(60)
        finally:
            part.unlink()
    elif mode == "exit":
        sys.stderr.write("the last words on stderr\n")
        sys.stderr.flush()
        os._exit(int(arg))
    return 0


if __name__ == "__main__":
    sys.exit(serve(body, cancel_on_sigterm=sys.argv[1] == "cleanup"))
