"""The child's side of the worker protocol (see :mod:`stemtui.core.procs.protocol`).

A worker's ``__main__`` creates a :class:`Channel` (or lets :func:`serve` do
it) before anything prints, reports with :meth:`Channel.progress`,
:meth:`Channel.send` and :meth:`Channel.done`, and leaves errors to
:func:`serve`, which sends them with their traceback and returns the exit
status.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback as tb
from collections.abc import Callable
from typing import Any

from stemtui.core.errors import BadInput, StemtuiError


class Cancelled(BaseException):
    """Raised in a child's main thread on SIGTERM (see :func:`serve`); a BaseException, so
    ``except Exception`` does not swallow it and ``except BaseException`` clean-ups run."""


class Channel:
    """The child's end: the real stdout for messages, stdin for jobs and cancel.

    Creating it moves file descriptor 1 to stderr, so a stray ``print`` (ours
    or a library's) never corrupts the protocol.

    Attributes:
        cancelled: Set by ``cancel`` on stdin, stdin closing (with
            :meth:`watch_stdin`), SIGTERM (with :meth:`cancel_on_sigterm`), or
            when the parent stops reading.
        lost: The parent stopped reading (a write to it failed).
    """

    def __init__(self) -> None:
        sys.stdout.flush()
        self._out = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)
        self._lock = threading.Lock()
        self.cancelled = threading.Event()
        self.lost = False

    def send(self, event: str, **data: Any) -> None:
        """Emit one message. If the parent is gone, set :attr:`cancelled` and drop the rest."""
        line = json.dumps({"event": event, **data}) + "\n"
        with self._lock:
            if self._out.closed:
                return
            try:
                self._out.write(line)
            except (OSError, ValueError):  # the reader is gone (the parent died): stop quietly
                self.lost = True
                self.cancelled.set()
                os.dup2(os.open(os.devnull, os.O_WRONLY), self._out.fileno())

    def progress(self, fraction: float, **data: Any) -> None:
        """A ``progress`` event."""
        self.send("progress", fraction=fraction, **data)

    def done(self, **result: Any) -> None:
        """The ``done`` event, with the result's fields."""
        self.send("done", **result)

    def error(self, exc: BaseException) -> int:
        """Report ``exc`` as the ``error`` event; returns the exit status to end with.

        A :class:`~stemtui.core.errors.StemtuiError` (``expected``) keeps its
        one-line message and exit code; anything else is ``Type: message``,
        exit status 1, and its traceback also goes to stderr (the log).
        """
        text = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
        expected = isinstance(exc, StemtuiError)
        first = (str(exc).strip().splitlines() or [""])[0]
        message = first if expected else f"{type(exc).__name__}: {first}".rstrip(": ")
        code = int(getattr(exc, "exit_code", 1)) if expected else 1
        extra = {"what": exc.what, "reason": exc.reason} if isinstance(exc, BadInput) else {}
        if not expected:
            sys.stderr.write(text)
        elif self.lost:  # nobody reads the events any more: say it where a person can see it
            sys.stderr.write(f"stemtui: {message}\n")
        sys.stderr.flush()
        self.send(
            "error", kind=type(exc).__name__, error=message, traceback=text, exit_code=code, expected=expected, **extra
        )
        return code

    def read(self) -> Any:
        """One JSON line from stdin (a job), or ``None`` at EOF or on a blank line."""
        line = sys.stdin.readline()
        return json.loads(line) if line.strip() else None

    def watch_stdin(self) -> None:
        """Set :attr:`cancelled` on a ``cancel`` line or when stdin closes (a thread)."""

        def watch() -> None:
            for line in sys.stdin:
                if line.strip() == "cancel":
                    break
            self.cancelled.set()

        threading.Thread(target=watch, name="stemtui-stdin", daemon=True).start()

    def cancel_on_sigterm(self) -> None:
        """On SIGTERM, set :attr:`cancelled` and raise :class:`Cancelled` in the main thread."""

        def handler(_signum: int, _frame: Any) -> None:
            self.cancelled.set()
            raise Cancelled()

        signal.signal(signal.SIGTERM, handler)

    def flush(self) -> None:
        with self._lock:
            if not self._out.closed:
                try:
                    self._out.flush()
                except (OSError, ValueError):
                    pass


def serve(
    body: Callable[[Channel], int | None], *, channel: Channel | None = None, cancel_on_sigterm: bool = False
) -> int:
    """Run a child's ``body(channel)``; any exception becomes the ``error`` event.

    Returns the exit status (``body``'s, or the error's) for the caller to
    exit with; SIGTERM (with ``cancel_on_sigterm``) and SIGINT report a cancel and 130.
    """
    chan = channel or Channel()
    if cancel_on_sigterm:
        chan.cancel_on_sigterm()
    try:
        return int(body(chan) or 0)
    except (Cancelled, KeyboardInterrupt):  # SIGTERM with cancel_on_sigterm, or SIGINT
        chan.send("error", kind="Cancelled", error="cancelled", traceback="", exit_code=130, expected=True)
        return 130
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 -- reported to the parent, with its traceback
        return chan.error(exc)
    finally:
        if cancel_on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        chan.flush()
