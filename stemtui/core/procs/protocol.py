"""The parent/child process protocol: spawn, JSON lines, progress, typed errors, cancel, death.

A worker is ``python -m MODULE ARGS...``. Its stdout carries one JSON object
per line and nothing else (:class:`Channel` moves stray prints to stderr);
each object names its ``event``::

    {"event": "progress", "fraction": 0.25, ...}      # any extra fields
    {"event": "info", ...}                            # the worker's own events
    {"event": "done", ...}                            # the result; the worker then exits
    {"event": "error", "kind": "ValueError", "error": "one line",
     "traceback": "Traceback ...", "exit_code": 1, "expected": false}

Its stdin carries JSON lines from the parent (a job), or ``cancel``; stdin
closing means the parent is gone. Large data never crosses the pipe: it goes
through files the two processes map.

The parent (:class:`Child`) reads the lines on a thread and turns them into
:class:`Event` objects; an ``error`` event becomes a :class:`WorkerError`
carrying the child's traceback; a child that exits without ``done`` or
``error`` (killed, crashed in C, ``os._exit``) becomes a :class:`WorkerDied`
as soon as its stdout closes, i.e. at once after a SIGKILL. :meth:`Child.cancel`
sends SIGTERM, then SIGKILL after a grace period. Every error prints as one
line (they are :class:`~stemtui.core.errors.StemtuiError`), so the CLI and the
UI show it as they show any other.

The child's side (:class:`~stemtui.core.procs.channel.Channel`,
:func:`~stemtui.core.procs.channel.serve`) is in :mod:`stemtui.core.procs.channel`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from stemtui.core.errors import StemtuiError

_log = logging.getLogger(__name__)

# -- errors ------------------------------------------------------------------------

_E = TypeVar("_E", bound="WorkerError")


class WorkerError(StemtuiError):
    """A worker process failed. ``str()`` is one line; the details are attributes.

    Attributes:
        kind: The child's exception class name (``"WorkerDied"`` for a death).
        traceback: The child's traceback text (or the tail of its stderr).
        returncode: The child's exit status (negative: killed by that signal),
            or ``None`` while unknown.
        details: Extra fields of the child's error event.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "",
        traceback: str = "",
        returncode: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        line = (str(message).strip().splitlines() or [type(self).__name__])[0]
        super().__init__(line)
        self.kind = kind or type(self).__name__
        self.traceback = traceback
        self.returncode = returncode
        self.details = dict(details or {})

    def retyped(self, cls: type[_E], prefix: str = "", message: str | None = None) -> _E:
        """The same error as ``cls`` (e.g. one that is also a package's own error class)."""
        return cls(
            prefix + str(self) if message is None else message,
            kind=self.kind,
            traceback=self.traceback,
            returncode=self.returncode,
            details=self.details,
        )


class WorkerDied(WorkerError):
    """The worker exited without a result or an error: killed, crashed, or ended early."""

    def died_as(self, cls: type[_E], what: str) -> _E:
        """As ``cls``, told as ``WHAT failed: its worker process died (killed by SIGKILL)``."""
        return self.retyped(cls, message=f"{what} failed: its worker process died ({describe_exit(self.returncode)})")


class WorkerCancelled(WorkerError):
    """The worker was cancelled (:meth:`Child.cancel`, or it reported a cancel)."""

    exit_code = 130


def describe_exit(returncode: int | None) -> str:
    """``killed by SIGKILL``, ``exit status 3`` or ``exited before finishing``."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}" if returncode else "exited before finishing"


# -- the parent's side ----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One message from a child: its ``event`` name and the other fields."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        """A progress event's ``fraction`` (0 when it has none)."""
        return float(self.data.get("fraction") or 0.0)


def package_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: ours) with this checkout of stemtui first on ``PYTHONPATH``."""
    out = dict(os.environ if env is None else env)
    root = str(Path(__file__).resolve().parents[3])
    out["PYTHONPATH"] = os.pathsep.join(p for p in (root, out.get("PYTHONPATH", "")) if p)
    return out


class Child:
    """A worker process: ``python -m module *args``, spoken to in JSON lines.

    Callbacks run on the reader thread; an exception in one is logged and
    reading goes on.

    Args:
        module: The module to run with ``-m``.
        args: Its arguments.
        name: What the errors call it, e.g. ``"stretch worker"``.
        env: Its environment (default: ours, see :func:`package_env`).
        cwd: Its working directory.
        log: A file for its stderr (kept); by default an unnamed temporary
            file, whose tail becomes a :class:`WorkerDied`'s ``traceback``.
        on_event: Called with every :class:`Event`.
        on_exit: Called with this child once it has exited and
            :attr:`error` / :attr:`result` are final.
        start: Spawn now (else call :meth:`start`).
    """

    def __init__(
        self,
        module: str,
        args: Sequence[str] = (),
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
        log: str | os.PathLike | None = None,
        on_event: Callable[[Event], None] | None = None,
        on_exit: Callable[[Child], None] | None = None,
        start: bool = True,
    ) -> None:
        self.argv = [sys.executable, "-m", module, *map(str, args)]
        self.name = name or module.rsplit(".", 1)[-1]
        self.env = package_env(env)
        self.cwd = cwd
        self.log = Path(log) if log is not None else None
        self.on_event = on_event
        self.on_exit = on_exit
        self.proc: subprocess.Popen | None = None
        #: The ``done`` event's fields, once it came.
        self.result: dict[str, Any] | None = None
        #: Why it failed (:class:`WorkerError`, :class:`WorkerDied`, :class:`WorkerCancelled`), else None.
        self.error: WorkerError | None = None
        #: Set once the child has exited and its output is read.
        self.finished = threading.Event()
        self.cancelling = False
        self._lock = threading.Lock()
        self._stderr: IO[bytes] | None = None
        if start:
            self.start()

    # -- life -------------------------------------------------------------------------
    def start(self) -> Child:
        """Spawn the child and its reader thread; returns at once."""
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._stderr = open(self.log, "wb")  # closed when the child ends
        else:
            self._stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=self.env,
                cwd=self.cwd,
                text=True,
                bufsize=1,
            )
        except BaseException:
            self._stderr.close()
            raise
        threading.Thread(target=self._read, name=f"stemtui-{self.name.replace(' ', '-')}", daemon=True).start()
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc is not None else None

    def watch(
        self, on_event: Callable[[Event], None] | None = None, on_exit: Callable[[Child], None] | None = None
    ) -> None:
        """Set the callbacks of a child started earlier (a pooled spare).

        ``on_exit`` is called at once if the child has already ended.
        """
        with self._lock:
            self.on_event, self.on_exit = on_event, on_exit
            ended = self.finished.is_set()
        if ended and on_exit is not None:
            on_exit(self)

    # -- talking ------------------------------------------------------------------------
    def send(self, message: Mapping[str, Any] | str) -> None:
        """Write one line (a JSON object, or a word like ``cancel``) to the child's stdin.

        Raises:
            WorkerDied: If the child is gone (its stdin is closed).
        """
        line = message if isinstance(message, str) else json.dumps(message)
        try:
            assert self.proc is not None and self.proc.stdin is not None
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            rc = self.proc.poll() if self.proc is not None else None
            raise WorkerDied(f"{self.name} died: {describe_exit(rc)}", returncode=rc) from None

    def close_stdin(self) -> None:
        """Close the child's stdin (it reads EOF: no more jobs, or the parent is gone)."""
        if self.proc is not None and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def _read(self) -> None:
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            ev = Event(str(msg.pop("event", "")), msg)
            if ev.kind == "done":
                self.result = ev.data
            elif ev.kind == "error" and self.error is None:
                self.error = self._error_from(ev.data)
            self._call(self.on_event, ev)
        rc = proc.wait()
        if self.result is None and self.error is None:
            if self.cancelling:
                self.error = WorkerCancelled(f"{self.name} cancelled", returncode=rc)
            else:
                where = f"; see {self.log}" if self.log is not None else ""
                self.error = WorkerDied(
                    f"{self.name} died: {describe_exit(rc)}{where}",
                    kind="WorkerDied",
                    traceback=self._stderr_tail(),
                    returncode=rc,
                )
        elif self.error is not None:
            self.error.returncode = rc
        if self._stderr is not None:
            self._stderr.close()
        for f in (proc.stdout, proc.stdin):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        with self._lock:
            self.finished.set()
            on_exit = self.on_exit
        self._call(on_exit, self)

    def _error_from(self, data: dict[str, Any]) -> WorkerError:
        kind = str(data.get("kind") or "")
        cls = WorkerCancelled if (kind == "Cancelled" or self.cancelling) else WorkerError
        known = {"kind", "error", "traceback", "exit_code", "expected"}
        return cls(
            str(data.get("error") or f"{self.name} failed"),
            kind=kind,
            traceback=str(data.get("traceback") or ""),
            details={k: v for k, v in data.items() if k not in known} | {"expected": bool(data.get("expected"))},
        )

    def _stderr_tail(self, limit: int = 4000) -> str:
        f = self._stderr
        try:
            if f is None or f.closed:
                return ""
            f.flush()
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - limit))
            return f.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""

    def _call(self, fn: Callable[[Any], None] | None, arg: Any) -> None:
        if fn is None:
            return
        try:
            fn(arg)
        except Exception:  # noqa: BLE001 -- a broken callback must not stop the reader
            _log.exception("%s: a callback failed", self.name)

    # -- waiting and stopping --------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> bool:
        """Block until the child has ended (and its output is read); False on timeout."""
        return self.finished.wait(timeout)

    def outcome(self, timeout: float | None = None) -> dict[str, Any]:
        """The ``done`` event's fields, once the child has ended.

        Raises:
            WorkerError: The child's error (or :class:`WorkerDied`, :class:`WorkerCancelled`).
            TimeoutError: If ``timeout`` passes first.
        """
        if not self.wait(timeout):
            raise TimeoutError(f"{self.name} still running")
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    def cancel(self, grace: float = 2.0, wait: bool = True) -> None:
        """Stop the child: SIGTERM, then SIGKILL if it is still alive ``grace`` seconds later.

        With ``wait=False`` this returns at once (a timer thread sends the SIGKILL).
        """
        self.cancelling = True
        if not self._signal(signal.SIGTERM):
            return
        if not wait:
            threading.Thread(target=self._kill_after, args=(grace,), name="stemtui-reaper", daemon=True).start()
            return
        self._kill_after(grace)

    def _kill_after(self, grace: float) -> None:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait()

    def kill(self) -> None:
        """SIGKILL the child now (as a cancel: :attr:`error` becomes :class:`WorkerCancelled`)."""
        self.cancelling = True
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> bool:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return False
        try:
            proc.send_signal(sig)
        except OSError:
            return False
        return True
