"""The parent side of a separation: :class:`SeparationTask` drives one worker process.

Split from :mod:`stemtui.core.separation.worker` (the worker process itself and
its command line); the messages between them are those of
:mod:`stemtui.core.procs.protocol`, described in the worker's docstring.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import numpy as np

from stemtui.core.audio.song import as_stereo
from stemtui.core.errors import BadInput
from stemtui.core.procs.protocol import Child, Event, WorkerDied, WorkerError
from stemtui.core.separation.splitter import (
    Progress,
    SeparationCancelled,
    SeparationFailed,
    SeparationOptions,
)
from stemtui.core.separation.tuning import (
    worker_env,
)
from stemtui.core.separation.worker import _ERRORS, WORKER_MODULE, worker_command


class SeparationWorkerDied(SeparationFailed, WorkerDied):
    """The worker process died (killed, or crashed without a word); one line, see ``worker.log``.

    :attr:`user_message` is the line for the user once the temporary folder
    (and the log with it) is gone: ``the separation worker died (killed by SIGKILL)``.
    """

    @property
    def user_message(self) -> str:
        from stemtui.core.procs.protocol import describe_exit

        return f"the separation worker died ({describe_exit(self.returncode)})"


class SeparationWorkerFailed(SeparationFailed, WorkerError):
    """An unexpected exception in the worker; ``traceback`` holds the worker's traceback."""


class SeparationTask:
    """A separation running in a worker process, filling a shared memmap.

    Callbacks (``on_progress``) run on a background reader thread.

    Args:
        audio: Decoded ``(frames[, channels])`` float32 audio.
        sample_rate: Its rate (the worker resamples to the model's).
        options: How to separate.
        workdir: A folder for the input, the output memmap and ``worker.log``;
            the caller owns it (and deletes it once the stems are stored).
        on_progress: Called with each :class:`Progress`.
        nice: Niceness added to the worker, e.g. 10 while playing, so the
            player's threads win the cores.
        input_path: A stereo float32 ``.npy`` at ``sample_rate`` already
            written (see :func:`~stemtui.core.separation.scratch.write_npy`),
            instead of ``audio`` (pass ``None``): nothing is held in memory.
    """

    def __init__(
        self,
        audio: np.ndarray | None,
        sample_rate: int,
        options: SeparationOptions | None = None,
        workdir: str | os.PathLike = ".",
        on_progress: Callable[[Progress], None] | None = None,
        nice: int = 0,
        input_path: str | os.PathLike | None = None,
    ) -> None:
        self._audio: np.ndarray | None = audio
        self.sample_rate = int(sample_rate)
        self.options = options or SeparationOptions()
        self.workdir = Path(workdir)
        self.on_progress = on_progress
        self.nice = nice
        self.input_path = Path(input_path) if input_path is not None else self.workdir / "input.npy"
        self.output_path = self.workdir / "stems.f32"
        self.log_path = self.workdir / "worker.log"
        self._cond = threading.Condition()
        self._info: dict | None = None
        self._ready = 0
        self._finished = self._cancelled = False
        self._child: Child | None = None
        self._proc: subprocess.Popen | None = None
        self._out: np.ndarray | None = None
        self.last_progress: Progress | None = None

    def start(self) -> None:
        """Write the input and spawn the worker; returns at once."""
        self.options.validate()
        self.workdir.mkdir(parents=True, exist_ok=True)
        inp = self.input_path
        if self._audio is not None:
            np.save(inp, as_stereo(self._audio))
            self._audio = None  # the worker reads the file; don't keep a second copy
        args = worker_command(inp, self.output_path, self.options, self.sample_rate, self.nice, watch_stdin=True)[3:]
        self._child = Child(
            WORKER_MODULE,
            args,
            name="separation worker",
            env=worker_env(),
            log=self.log_path,
            on_event=self._on_event,
            on_exit=self._on_exit,
        )
        self._proc = self._child.proc

    @property
    def pid(self) -> int | None:
        """The worker's process id (None before :meth:`start`)."""
        return self._child.pid if self._child is not None else None

    def _on_event(self, ev: Event) -> None:
        progress = None
        with self._cond:
            if ev.kind == "info":
                self._info = ev.data
            elif ev.kind == "ready":
                self._ready = max(self._ready, int(ev.data["frames"]))
            elif ev.kind == "progress":
                progress = Progress(**{f.name: ev.data[f.name] for f in fields(Progress)})
                self.last_progress = progress
            self._cond.notify_all()
        if progress is not None and self.on_progress is not None:
            self.on_progress(progress)  # an exception here is printed by the reader, which goes on

    def _on_exit(self, _child: Child) -> None:
        with self._cond:
            self._finished = True
            self._cond.notify_all()

    @property
    def _error(self) -> WorkerError | None:
        return self._child.error if self._child is not None else None

    def _raise_error(self) -> None:
        err = self._error
        if self._cancelled or (err is not None and err.kind == "SeparationCancelled"):
            raise SeparationCancelled("separation cancelled")
        if err is None:
            return
        if isinstance(err, WorkerDied):
            raise err.retyped(SeparationWorkerDied)
        if err.kind == "BadInput":
            raise BadInput(err.details.get("what", "input"), err.details.get("reason", str(err)))
        if err.kind in _ERRORS:
            raise _ERRORS[err.kind](str(err))
        if err.details.get("expected"):
            raise SeparationFailed(str(err))
        raise err.retyped(SeparationWorkerFailed, "separation worker failed: ")

    def stems_info(self) -> tuple[list[str], int]:
        """Stem names and the model's sample rate; blocks until the model is loaded.

        Raises:
            ModelUnavailable, BadInput, SeparationFailed, SeparationCancelled.
        """
        with self._cond:
            self._cond.wait_for(
                lambda: self._info is not None or self._error is not None or self._finished or self._cancelled
            )
            if self._info is None:
                self._raise_error()
                raise SeparationFailed("separation worker ended before loading the model")
            return list(self._info["names"]), int(self._info["samplerate"])

    @property
    def frames(self) -> int:
        """Length of the output at the model's rate (blocks like :meth:`stems_info`)."""
        self.stems_info()
        assert self._info is not None
        return int(self._info["frames"])

    @property
    def output(self) -> np.ndarray:
        """The read-only ``(stems, frames, 2)`` memmap the worker fills."""
        if self._out is None:
            names, _ = self.stems_info()
            self._out = np.memmap(self.output_path, dtype=np.float32, mode="r", shape=(len(names), self.frames, 2))
        return self._out

    @property
    def ready_frames(self) -> int:
        """Frames from the start that are final."""
        return self._ready

    @property
    def running(self) -> bool:
        """True while the worker process is alive."""
        return self._child is not None and self._child.running

    def wait(self, timeout: float | None = None) -> dict[str, np.ndarray]:
        """Block until the worker ends; the stems as views of :attr:`output`.

        Raises:
            SeparationCancelled, ModelUnavailable, BadInput, SeparationFailed;
            TimeoutError when ``timeout`` passes first.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._finished, timeout):
                raise TimeoutError("separation still running")
            if self._cancelled or self._error is not None:
                self._raise_error()
        names, _ = self.stems_info()
        return {name: self.output[i] for i, name in enumerate(names)}

    def cancel(self) -> None:
        """Stop the worker now (it is killed: no segment is finished first)."""
        with self._cond:
            if self._finished:
                return
            self._cancelled = True
            self._cond.notify_all()
        if self._child is not None:
            self._child.cancel(grace=5.0)  # SIGTERM ends it at once: no segment is finished first

    close = cancel

    def release(self) -> None:
        """Let go of the output mapping and the callbacks (the worker has ended or is cancelled).

        The child's callbacks are this task's bound methods, and
        ``on_progress`` is usually its job's: a reference cycle that kept
        the ``stems.f32`` mapping (a deleted file, by then) in RSS until
        Python's cycle collector ran. A song still playing from
        :attr:`output` keeps its own reference; the mapping goes with it.
        """
        self._out = None
        self.on_progress = None
        child = self._child
        if child is not None and child.wait(1.0):  # its reader has told us it ended: nothing more to hear
            child.watch(None, None)

    def __enter__(self) -> SeparationTask:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
