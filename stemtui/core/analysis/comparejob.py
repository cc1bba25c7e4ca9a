"""The take comparison in a child process: ``python -m stemtui.core.analysis.comparejob``.

pyin is numba code that holds the GIL for seconds, so in the player's
process it would stall the audio callback; it runs in a niced child with one
BLAS thread, speaking the worker protocol of
:mod:`stemtui.core.procs.protocol`. Inputs are files (the reference stem's
and the take's audio, any format soundfile reads, or ``.npy`` with a rate);
the result is the ``done`` event, :meth:`CompareResult.to_json`'s fields.

:class:`CompareJob` is the parent's side: :meth:`~CompareJob.start`,
:meth:`~CompareJob.poll` and :meth:`~CompareJob.cancel` for the UI (never
blocks), :meth:`~CompareJob.run` for the CLI. Errors are the protocol's,
retyped: :class:`CompareJobDied` (one line, ``take comparison failed: its
worker process died (killed by SIGKILL)``), :class:`CompareJobFailed` with
the child's traceback, and the child's :class:`~stemtui.core.errors.BadInput`
raised again as a ``BadInput`` (exit status 2).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stemtui.core.analysis.comparison import CompareResult
from stemtui.core.errors import BadInput
from stemtui.core.procs.channel import Channel, serve
from stemtui.core.procs.protocol import Child, Event, WorkerCancelled, WorkerDied, WorkerError

MODULE = "stemtui.core.analysis.comparejob"


class CompareJobFailed(WorkerError):
    """The comparison raised in its process; ``traceback`` holds the child's traceback."""


class CompareJobDied(WorkerDied):
    """The comparison's process died (killed, or crashed without a word)."""


@dataclass(frozen=True)
class CompareState:
    """What :meth:`CompareJob.poll` reports.

    Attributes:
        fraction: Progress, 0..1.
        stage: What the child is doing (``"reference pitch"``, ...).
        done: The job has ended, however it ended.
        result: The comparison, once it succeeded.
        error: The failure (:class:`CompareJobDied`, :class:`CompareJobFailed`,
            :class:`BadInput`), else ``None``; a cancel is no error.
        cancelled: :meth:`CompareJob.cancel` was called.
    """

    fraction: float
    stage: str
    done: bool
    result: CompareResult | None
    error: Exception | None
    cancelled: bool


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env.setdefault(var, "1")
    return env


class CompareJob:
    """A take comparison in a worker process.

    Args:
        ref_path: The reference stem's audio file (song time 0 at its first frame).
        take_path: The take's audio file (its first frame at song time ``take_start_s``).
        take_start_s: Where the take starts in song time.
        take_id: The take's id (for the result).
        reference: The reference stem's name (for the result).
        sample_rate: The rate of ``.npy`` inputs (which carry none).
    """

    def __init__(
        self,
        ref_path: Path | str,
        take_path: Path | str,
        take_start_s: float,
        take_id: str,
        reference: str,
        sample_rate: int | None = None,
    ) -> None:
        self.args = [str(ref_path), str(take_path), repr(float(take_start_s)), take_id, reference]
        if sample_rate is not None:
            self.args.append(str(int(sample_rate)))
        self._lock = threading.Lock()
        self._fraction, self._stage = 0.0, "starting"
        self._child: Child | None = None
        self._cancelled = False
        self._temps: list[str] = []

    @classmethod
    def from_arrays(
        cls, ref: np.ndarray, take: np.ndarray, sr: int, take_start_s: float, take_id: str, reference: str
    ) -> CompareJob:
        """A job on audio in memory: written to temporary ``.npy`` files, removed when it ends."""
        paths = []
        for name, a in (("ref", ref), ("take", take)):
            fd, path = tempfile.mkstemp(prefix=f"stemtui-compare-{name}-", suffix=".npy")
            with os.fdopen(fd, "wb") as f:
                a = np.asarray(a, dtype=np.float32)
                np.save(f, a.mean(axis=1) if a.ndim == 2 else a)
            paths.append(path)
        job = cls(paths[0], paths[1], take_start_s, take_id, reference, sample_rate=sr)
        job._temps = paths
        return job

    # -- the UI's side: never blocks --------------------------------------------------
    def start(self) -> CompareJob:
        """Spawn the child (returns at once)."""
        with self._lock:
            if self._child is None and not self._cancelled:
                self._child = Child(
                    MODULE,
                    self.args,
                    name="take comparison",
                    env=_child_env(),
                    on_event=self._on_event,
                    on_exit=lambda _c: self._cleanup(),
                )
                self._child.close_stdin()
        return self

    def _on_event(self, ev: Event) -> None:
        if ev.kind == "progress":
            with self._lock:
                self._fraction, self._stage = ev.fraction, str(ev.data.get("stage", self._stage))

    def _cleanup(self) -> None:
        for p in self._temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.proc.pid if child is not None and child.proc is not None else None

    def poll(self) -> CompareState:
        """Progress and, once it ended, the result or the error."""
        with self._lock:
            child, fraction, stage, cancelled = self._child, self._fraction, self._stage, self._cancelled
        if child is None or not child.finished.is_set():
            return CompareState(fraction, stage, cancelled and child is None, None, None, cancelled)
        try:
            return CompareState(1.0, "done", True, self._outcome(child), None, cancelled)
        except WorkerCancelled:
            return CompareState(fraction, "cancelled", True, None, None, True)
        except (WorkerError, BadInput) as exc:
            return CompareState(fraction, "failed", True, None, exc, cancelled)

    def cancel(self) -> None:
        """Stop the comparison (SIGTERM, SIGKILL after a grace); returns at once."""
        with self._lock:
            self._cancelled = True
            child = self._child
        if child is not None:
            child.cancel(grace=1.0, wait=False)
        else:
            self._cleanup()

    # -- the CLI's side ------------------------------------------------------------------
    def run(self, timeout: float | None = 300.0) -> CompareResult:
        """Start (if needed) and block until the result.

        Raises:
            CompareJobDied, CompareJobFailed, BadInput: As :meth:`poll` reports them.
            WorkerCancelled: It was cancelled.
            CompareJobFailed: It ran past ``timeout`` seconds (the child is killed).
        """
        self.start()
        child = self._child
        if child is None:
            raise WorkerCancelled("take comparison cancelled")
        if not child.wait(timeout):
            child.kill()
            child.wait()
            raise CompareJobFailed(f"take comparison took longer than {timeout:g} s")
        return self._outcome(child)

    @staticmethod
    def _outcome(child: Child) -> CompareResult:
        try:
            reply = child.outcome(0)
        except WorkerCancelled:
            raise
        except WorkerDied as exc:
            raise exc.died_as(CompareJobDied, "take comparison") from None
        except WorkerError as exc:
            if exc.kind == "BadInput" and "what" in exc.details:
                raise BadInput(str(exc.details["what"]), str(exc.details["reason"])) from None
            raise exc.retyped(CompareJobFailed, "take comparison failed: ") from None
        return CompareResult.from_json(reply)


def main(argv: list[str] | None = None) -> int:
    """``python -m stemtui.core.analysis.comparejob REF TAKE START_S TAKE_ID REFERENCE [SR]``.

    Emits ``progress`` events (``fraction``, ``stage``) and ends with
    ``done`` carrying the comparison's JSON, or an ``error`` event.
    """
    args = sys.argv[1:] if argv is None else argv
    with contextlib.suppress(AttributeError, OSError):
        os.nice(10)

    def body(chan: Channel) -> int:
        from stemtui.core.analysis.takecompare import compare_files

        if len(args) not in (5, 6):
            raise ValueError(f"usage: python -m {MODULE} REF TAKE START_S TAKE_ID REFERENCE [SAMPLE_RATE]")
        ref, take, start, take_id, reference = args[:5]
        sr = int(args[5]) if len(args) == 6 else None
        result = compare_files(
            ref, take, float(start), take_id, reference, sr, progress=lambda f, s: chan.progress(f, stage=s)
        )
        chan.done(**result.to_json())
        return 0

    return serve(body, cancel_on_sigterm=True)


if __name__ == "__main__":
    sys.exit(main())
