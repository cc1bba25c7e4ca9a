"""Beat estimation in a child process, so librosa's numba code never holds the player's GIL.

librosa's first call JIT-compiles for ~30 s (later processes load the cache in
a few seconds), and numba code keeps the GIL: in the player's process that
would stall the audio callback. So the estimate runs in
``python -m stemtui.core.analysis.beatjob``, niced, with one BLAS thread,
speaking the worker protocol of :mod:`stemtui.core.procs.protocol`. A child
that dies or fails raises :class:`BeatJobDied` / :class:`BeatJobFailed`:
both are :class:`BeatEstimateError` (what the UI and the CLI already report
as one line) and the protocol's typed errors.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable

import numpy as np

from stemtui.core.analysis.beats import BeatEstimateError, BeatGrid, _mono, estimate_grid
from stemtui.core.procs.channel import Channel, serve
from stemtui.core.procs.protocol import Child, WorkerCancelled, WorkerDied, WorkerError


class BeatJobFailed(BeatEstimateError, WorkerError):
    """The beat analysis raised in its process; ``traceback`` holds the child's traceback."""


class BeatJobDied(BeatEstimateError, WorkerDied):
    """The beat analysis process died (killed, or crashed without a word).

    One line: ``beat estimate failed: its worker process died (killed by SIGKILL)``.
    """


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # One thread for BLAS/OpenMP: the box is shared with the audio callback.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env.setdefault(var, "1")
    return env


def _run_child(
    audio: np.ndarray, sample_rate: int, source: str, timeout: float, started: Callable[[Child], bool] | None = None
) -> BeatGrid | None:
    """Estimate in ``python -m stemtui.core.analysis.beatjob``; ``started`` may veto it.

    Raises:
        BeatJobDied, BeatJobFailed: The child died or failed (both are
            :class:`BeatEstimateError`, and the protocol's typed errors).
        BeatEstimateError: It ran past ``timeout``.
    """
    fd, path = tempfile.mkstemp(prefix="stemtui-beats-", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, _mono(audio))  # mono halves the file; the child resamples
        child = Child(MODULE, [path, str(int(sample_rate)), source], name="beat analysis", env=_child_env())
        child.close_stdin()
        if started is not None and not started(child):
            child.kill()
            child.wait()
            return None
        if not child.wait(timeout):
            child.kill()
            child.wait()
            raise BeatEstimateError(f"beat analysis took longer than {timeout:g} s")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    try:
        reply = child.outcome()
    except WorkerCancelled:
        return None
    except WorkerDied as exc:
        raise exc.died_as(BeatJobDied, "beat estimate") from None
    except WorkerError as exc:
        raise exc.retyped(BeatJobFailed, "beat analysis failed: ") from None
    return None if reply.get("bpm") is None else BeatGrid.from_dict(reply)


def estimate_grid_in_subprocess(
    audio: np.ndarray, sample_rate: int, source: str = "drums", timeout: float = 300.0
) -> BeatGrid | None:
    """:func:`estimate_grid` in a niced child process; blocks until it answers.

    The audio goes through a temporary ``.npy`` file, always removed.

    Raises:
        BeatEstimateError: If the child fails or runs past ``timeout`` seconds.
    """
    return _run_child(audio, sample_rate, source, timeout)


class EstimateJob:
    """A background beat estimate that a UI starts, polls and can cancel.

    The child process starts at once, from a daemon thread. Arguments are
    those of :func:`estimate_grid_in_subprocess`, plus ``callback``: called
    with the job, from the worker thread, when it ends uncancelled.

    Attributes:
        done: Set when the job has ended, however it ended.
        result: The grid, or ``None`` (no clear beat, failed or cancelled).
        error: A one-line message if the analysis failed, else ``None``.
        failure: The same as a typed error (:class:`BeatJobDied`,
            :class:`BeatJobFailed` with the child's traceback, or a
            :class:`BeatEstimateError` for a timeout), else ``None``.
        cancelled: Whether :meth:`cancel` was called before it ended.
    """

    def __init__(
        self,
        audio: np.ndarray,
        sample_rate: int,
        source: str = "drums",
        timeout: float = 300.0,
        callback: Callable[[EstimateJob], None] | None = None,
    ) -> None:
        self.done = threading.Event()
        self.result: BeatGrid | None = None
        self.error: str | None = None
        self.failure: Exception | None = None
        self.cancelled = False
        self._callback = callback
        self._lock = threading.Lock()
        self._child: Child | None = None
        self._proc: subprocess.Popen | None = None
        args = (audio, sample_rate, source, timeout)
        self._thread = threading.Thread(target=self._run, args=args, name="beat-estimate", daemon=True)
        self._thread.start()

    def _started(self, child: Child) -> bool:
        with self._lock:
            self._child, self._proc = child, child.proc
            return not self.cancelled

    def _run(self, audio: np.ndarray, sample_rate: int, source: str, timeout: float) -> None:
        try:
            if not self.cancelled:
                self.result = _run_child(audio, sample_rate, source, timeout, self._started)
        except Exception as exc:  # noqa: BLE001 -- reported via .error: a UI polls, nobody catches
            self.error, self.failure = str(exc), exc
        finally:
            if self.cancelled:
                self.result, self.error, self.failure = None, None, None
            self.done.set()
        if self._callback is not None and not self.cancelled:
            self._callback(self)

    def cancel(self) -> None:
        """Stop the analysis: kill the child; ``done`` is set soon after."""
        with self._lock:
            self.cancelled = True
            child = self._child
        if child is not None:
            child.kill()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends; False if ``timeout`` passed first."""
        return self.done.wait(timeout)


MODULE = "stemtui.core.analysis.beatjob"


def main(argv: list[str] | None = None) -> int:
    """``python -m stemtui.core.analysis.beatjob IN.npy|IN.f32 SR [SOURCE]``: the worker protocol's events.

    ``IN`` is a ``.npy`` array or raw interleaved-stereo float32. Ends with
    ``{"event": "done", "bpm", "offset", "beats_per_bar", "source"}`` (``bpm``
    null when there is no clear beat), or an ``error`` event with exit status 1.
    """
    args = sys.argv[1:] if argv is None else argv
    try:
        os.nice(10)  # here, not preexec_fn: that is unsafe while the parent runs threads
    except (AttributeError, OSError):
        pass

    def body(chan: Channel) -> int:
        if len(args) not in (2, 3):
            raise ValueError("usage: python -m stemtui.core.analysis.beatjob IN.npy|IN.f32 SAMPLE_RATE [SOURCE]")
        path, sr, source = args[0], int(args[1]), args[2] if len(args) == 3 else "drums"
        audio = np.load(path) if path.endswith(".npy") else np.fromfile(path, dtype=np.float32).reshape(-1, 2)
        grid = estimate_grid(audio, sr, source)
        chan.done(**(grid.to_dict() if grid else {"bpm": None, "offset": None, "source": source}))
        return 0

    return serve(body)


if __name__ == "__main__":
    sys.exit(main())
