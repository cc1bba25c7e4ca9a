"""Renders stretched runs in a worker process, ahead of the playhead.

Why a process: python-stretch keeps the GIL for a whole ``process()`` call
(measured: the main thread did not run once during a 0.6 s call), and a
render of several stems takes seconds. In the player's process that would
stall the audio callback, which needs the GIL for every block.

Each run is rendered by up to two processes (the stems split between
them), taken from :data:`POOL`. A worker serves job after job: when a run is
rendered, or dropped (a tempo change, a seek), its workers go back to the
pool for the next run. Starting a process for every run cost its interpreter
and imports each time, ~2 processes a second under the soak's keys: a
quarter of the machine's CPU (and on a kernel without preemption, a process
starting holds its core in the kernel for milliseconds at a time, while a
real-time audio thread woken on that core waits). A
dropped run's worker stops at its next stem (``cancel`` on stdin, answered
with ``finished``); one that does not answer within :data:`RECYCLE_GRACE_S`
is killed, so obsolete work never runs long. The song goes in, and the run
comes out, through files mapped by both processes (tmpfs where there is
one), so nothing large crosses the pipe: the worker sends ``progress``
events (``valid``, ``length``) as the run grows, and the parent publishes
``valid`` to the mixer.

The worker is :mod:`stemtui.core.tempo.renderchild` (the child's side).
A worker that dies or fails sets :attr:`StretchRun.error` (one line) and
:attr:`StretchRun.failure` (the typed error). A worker that makes no
progress (stopped, or stuck: neither a progress event nor CPU time) is
noticed by :meth:`StretchRun.stalled_for`; :meth:`StretchRun.hang` then kills
it and fails the run the same way.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from stemtui.core.audio.source import MappedSource
from stemtui.core.procs.pool import WorkerPool
from stemtui.core.procs.protocol import Child, Event, WorkerDied, WorkerError
from stemtui.core.tempo.stretch import out_frames


class SharedSong:
    """The song's samples in a file a worker can map (copied once, in slices).

    Args:
        data: ``(stems, frames, 2)`` float32 audio.
        folder: Where to put the copy.
        path: A file that already holds ``data`` (then nothing is copied).
    """

    def __init__(self, data: np.ndarray, folder: Path, path: str | None = None) -> None:
        self.shape = tuple(data.shape)
        if path and data.flags.c_contiguous:
            # A separation's output, or a song decoded into shared memory, is
            # already a file with this layout.
            self.path = Path(path)
            self.owned = False
            return
        self.path = folder / f"song-{uuid.uuid4().hex[:8]}.f32"
        self.owned = True
        mm = np.memmap(self.path, dtype=np.float32, mode="w+", shape=self.shape)
        step = 1 << 18
        for i in range(0, self.shape[1], step):
            mm[:, i : i + step] = data[:, i : i + step]
            # Copying a whole song at once holds the GIL for a while; short
            # slices with a yield between them keep the audio callback fed.
            time.sleep(0)
        mm.flush()
        del mm

    def close(self) -> None:
        """Delete the copy (not a separation's own file)."""
        if self.owned:
            self.path.unlink(missing_ok=True)


WORKER_MODULE = "stemtui.core.tempo.renderchild"
#: Seconds more of no progress before a worker that is not stopped counts as stalled
#: (a busy machine can keep a runnable worker off the CPU, or the disk can block it).
RUNNABLE_GRACE_S = 3.5


#: Seconds a dropped run's worker has to stop (it answers between two stems) before it is killed.
RECYCLE_GRACE_S = 0.5


def _worker_env() -> dict[str, str]:
    """The render workers' environment: one BLAS thread (they use none; idle BLAS threads spin)."""
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


#: The process-wide pool of render workers: two spares, and up to four idle ones kept for reuse.
POOL = WorkerPool(WORKER_MODULE, "stretch worker", spares=2, keep=4, env=_worker_env)


class StretchRun(MappedSource):
    """One run: every stem stretched from ``start`` to ``end`` in song frames.

    The mixer reads :attr:`data` up to ``avail[0]`` while the worker fills
    it. Output frame ``j`` plays song frame ``start + j * rate``.

    Args:
        song: The shared song file.
        start: First song frame.
        end: End song frame (exclusive).
        sample_rate: Song rate.
        tempo: Speed factor.
        semitones: Transpose.
        folder: Where the output file lives.
        workers: Processes to split the stems over (0: one per core, two at most).
    """

    def __init__(
        self,
        song: SharedSong,
        start: int,
        end: int,
        sample_rate: int,
        tempo: float,
        semitones: int,
        folder: Path,
        workers: int = 0,
    ) -> None:
        self.start, self.end = int(start), int(end)
        self.rate = float(tempo)
        self.tempo, self.semitones = float(tempo), int(semitones)
        self.sample_rate = int(sample_rate)
        s = song.shape[0]
        self.frames = out_frames(max(1, self.end - self.start), self.tempo)
        self.path = folder / f"run-{uuid.uuid4().hex[:8]}.f32"
        # A sparse file: pages exist only once the worker writes them.
        self._mm: np.memmap | None = np.memmap(self.path, dtype=np.float32, mode="w+", shape=(s, self.frames, 2))
        # The audio thread slices a plain ndarray view: slicing a np.memmap
        # makes a new memmap object (and its attributes) every time.
        self.data = self._mm.view(np.ndarray)
        #: Output frames ready; the mixer reads it without a lock.
        self.avail = np.zeros(1, dtype=np.int64)
        #: Why rendering stopped early: one line (a worker died or failed), else None.
        self.error: str | None = None
        #: The same as the protocol's typed error (``WorkerDied``, or ``WorkerError`` with the worker's traceback).
        self.failure: WorkerError | None = None
        self.finished = threading.Event()
        self._song = song
        self._cancelled = False
        # The stems are split over one process per core (two at most: the
        # UI and the audio callback need the rest); stems are independent, so
        # the split changes nothing in the output.
        n = max(1, min(s, workers if workers else min(2, os.cpu_count() or 1)))
        self._valid = [0] * n
        #: When each worker last made progress (``time.monotonic()``), and its pid and CPU ticks then.
        self._heard = [time.monotonic()] * n
        self._cpu: list[tuple[int, int]] = [(0, -1)] * n
        self._children: list[Child] = []
        #: Per worker: its job is over (``finished``, or the process ended).
        self._over = [False] * n
        self._lock = threading.Lock()
        for w in range(n):
            self._start_worker(w, list(range(w, s, n)))
        POOL.spares = n
        # After a dropped run's workers had time to come back: they are the spares.
        POOL.refill(delay=RECYCLE_GRACE_S + 0.1)

    def _start_worker(self, w: int, stems: list[int]) -> None:
        job = {
            "song": str(self._song.path),
            "shape": list(self._song.shape),
            "sr": self.sample_rate,
            "start": self.start,
            "end": self.end,
            "tempo": self.tempo,
            "semitones": self.semitones,
            "out": str(self.path),
            "stems": stems,
        }
        try:
            self._attach(w, POOL.take(), job, retry=True)
        except WorkerError:  # a spare that died since it was started: a fresh one
            self._attach(w, POOL.spawn(), job, retry=False)

    def _attach(self, w: int, child: Child, job: dict, retry: bool) -> None:
        with self._lock:
            self._children.append(child)
            self._cpu[w] = (child.pid or 0, -1)
        # Watch before sending the job: no event is missed.
        child.watch(on_event=functools.partial(self._progress, w, child), on_exit=functools.partial(self._exited, w))
        try:
            child.send(job)
        except WorkerError as exc:
            if not retry:
                self.failure, self.error = exc, str(exc)
                return
            child.watch(None, None)
            with self._lock:
                self._children.remove(child)
            if self.failure is child.error:
                self.failure = self.error = None
            raise

    def _progress(self, w: int, child: Child, ev: Event) -> None:
        if ev.kind == "progress":
            self._valid[w] = int(ev.data["valid"])
            self._heard[w] = time.monotonic()
            # Frames are playable once every worker has written them.
            self.avail[0] = min(self._valid)
        elif ev.kind == "finished":  # the job is over; the worker waits for the next
            if self._job_over(w):
                child.watch(None, None)
                POOL.give(child)

    def _exited(self, w: int, child: Child) -> None:
        err = child.error
        if err is not None and not self._cancelled and self.failure is None:
            # One dead worker stalls the whole run: the run reports it.
            self.failure, self.error = err, str(err)
        self._job_over(w)

    def _job_over(self, w: int) -> bool:
        """Mark worker ``w``'s job over (once: False if it already was); the run is finished when all are."""
        with self._lock:
            if self._over[w]:
                return False
            self._over[w] = True
            ended = all(self._over)
        if ended:
            self.finished.set()
        return True

    def stalled_for(self) -> float:
        """Seconds the most idle worker still rendering has gone without progress; 0 once all are done.

        Progress is a progress event or CPU time used (a render step of a
        long run can take seconds between two events on a busy machine; a
        stopped or stuck worker uses none). A worker that is not stopped
        (it may wait on the disk or for a core) counts
        :data:`RUNNABLE_GRACE_S` less. Where the CPU time cannot be read (no
        ``/proc``) a worker is never called stalled.
        """
        now, worst = time.monotonic(), 0.0
        for w, valid in enumerate(self._valid):
            if valid >= self.frames or self._cancelled:
                continue
            pid, ticks = self._cpu[w]
            used, stopped = _cpu_ticks(pid)
            if used is None:
                return 0.0
            if used != ticks:
                self._cpu[w] = (pid, used)
                self._heard[w] = now
            quiet = now - self._heard[w]
            # A worker that is not stopped may be waiting on the disk or for the CPU: give it longer.
            worst = max(worst, quiet if stopped else max(0.0, quiet - RUNNABLE_GRACE_S))
        return worst

    def hang(self, why: str) -> None:
        """A worker stopped responding: fail the run with ``why`` (as a death) and kill its workers."""
        if self.failure is None:
            self.failure = WorkerDied(f"stretch worker hung: {why}", kind="WorkerDied")
            self.error = str(self.failure)
        for c in self._claim_busy():
            c.kill()  # SIGKILL ends a stopped process too

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and diagnostics)."""
        return [c.pid for c in self._children if c.pid is not None]

    @property
    def ready(self) -> int:
        """Output frames ready to play."""
        return int(self.avail[0])

    @property
    def done(self) -> bool:
        """Whether every frame of the run is rendered."""
        return self.ready >= self.frames

    def cancel(self) -> None:
        """Stop rendering; the frames ready stay playable.

        Each worker still rendering is asked to stop (it goes back to the
        pool when it has); one still at it :data:`RECYCLE_GRACE_S` later is killed.
        """
        if self._cancelled:
            return
        self._cancelled = True
        with self._lock:
            busy = [(w, c) for w, c in enumerate(self._children) if not self._over[w]]
        for _w, c in busy:
            try:
                c.send("cancel")
            except WorkerError:
                pass  # gone already: its exit marks the job over
        if busy:
            t = threading.Timer(RECYCLE_GRACE_S, self._reap)
            t.daemon = True
            t.start()

    def _reap(self) -> None:
        """Kill the workers of a dropped run that have not stopped."""
        for c in self._claim_busy():
            c.kill()

    def _claim_busy(self) -> list[Child]:
        """The workers still on this run's job, marked over here so none goes back to the pool (to be killed)."""
        with self._lock:
            busy = [c for w, c in enumerate(self._children) if not self._over[w]]
            self._over = [True] * len(self._over)
        self.finished.set()
        return busy

    def close(self) -> None:
        """Cancel, delete the output file and unmap it (once no mixer reads it).

        The run object may outlive this (a record that named it), so its
        mapping is dropped here, not when the object goes: a deleted file's
        pages would stay in RSS until then.
        """
        self.cancel()
        self.finished.wait(RECYCLE_GRACE_S + 2.0)
        self.path.unlink(missing_ok=True)
        self.avail[0] = 0
        self.data = np.zeros((self.data.shape[0], 0, 2), dtype=np.float32)
        self._mm = None


def _cpu_ticks(pid: int) -> tuple[int | None, bool]:
    """User plus system CPU time of ``pid`` in clock ticks (``None``: unknown, e.g. no ``/proc``),
    and whether it is stopped (SIGSTOP, a debugger)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) + int(fields[12]), fields[0] in (b"T", b"t")
    except (OSError, ValueError, IndexError):
        return None, False
