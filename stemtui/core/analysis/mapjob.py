"""The song map's analyses in a child process, with progress per analysis.

As for the beat job (:mod:`stemtui.core.analysis.beatjob`): librosa's numba
code holds the GIL, so :func:`analyze_stems` runs in
``python -m stemtui.core.analysis.mapjob``, niced,
with one BLAS thread, speaking the worker protocol of
:mod:`stemtui.core.procs.protocol`. The stems cross as mono float32 arrays
in a temporary ``.npz`` (always removed), or as the rows of a song already
in shared memory (:class:`SharedStems`). The child is started before that
file is written (or long before: a warm spare of :data:`POOL`) and warms
librosa up meanwhile (its cold imports and first calls take seconds); its
job comes as one line on stdin; the child sends a ``progress``
event as each analysis starts (``{"fraction", "analysis"}``), a ``partial``
event with the map so far after each (``{"map"}``), and ends with
``{"event": "done", "map": SongMap.to_json()}``.

A child that dies raises :class:`MapJobDied`, one that fails
:class:`MapJobFailed`: both are :class:`SongMapError` and the protocol's
typed errors, so the CLI and the UI report them as one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from stemtui.core.analysis.beats import BeatGrid
from stemtui.core.analysis.songmap import Partial, Progress, SongMap, analyze_stems
from stemtui.core.errors import StemtuiError
from stemtui.core.procs.channel import Channel, serve
from stemtui.core.procs.pool import WorkerPool
from stemtui.core.procs.protocol import Event, WorkerCancelled, WorkerDied, WorkerError

MODULE = "stemtui.core.analysis.mapjob"


class SongMapError(StemtuiError):
    """The song map could not be made (its worker died, failed or timed out)."""


class MapJobFailed(SongMapError, WorkerError):
    """The analysis raised in its process; ``traceback`` holds the child's traceback."""


class MapJobDied(SongMapError, WorkerDied):
    """The analysis process died: ``song analysis failed: its worker process died (killed by SIGKILL)``."""


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env.setdefault(var, "1")
    return env


def _mono(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 2 and a.shape[1] == 2:
        # Four times quicker than mean(axis=1) on a 4-min stereo stem.
        out = np.add(a[:, 0], a[:, 1])
        return np.multiply(out, np.float32(0.5), out=out)
    return a.mean(axis=1, dtype=np.float32) if a.ndim == 2 else a


def _warm_up() -> None:
    """Import librosa's pieces and run the bass line once on a second of noise (numba's cache)."""
    from stemtui.core.analysis import basslines

    noise = np.random.default_rng(0).standard_normal(basslines.BASS_SR).astype(np.float32) * 0.1
    basslines.transcribe_bass(noise, basslines.BASS_SR)


class SharedStems(NamedTuple):
    """Stems the child maps itself: rows of a ``(stems, frames, 2)`` float32 file (a song in shared memory).

    Nothing is copied on the caller's side (the player's process, beside
    the audio callback); the child mixes each row to mono.
    """

    path: str
    shape: tuple[int, int, int]
    rows: dict[str, int]


#: What a job analyses: name -> audio, or rows of a shared song file.
Stems = dict[str, np.ndarray] | SharedStems


def _read_stems(path: str) -> dict[str, np.ndarray]:
    """The child's side: an ``.npz`` of mono stems, or a :class:`SharedStems` as JSON."""
    with open(path, "rb") as f:
        head = f.read(1)
    if head != b"{":
        with np.load(path) as npz:
            return {name: npz[name] for name in npz.files}
    with open(path, encoding="utf-8") as f:
        spec = SharedStems(**json.load(f))
    data = np.memmap(spec.path, dtype=np.float32, mode="r", shape=tuple(spec.shape))
    try:
        return {name: _mono(data[int(i)]) for name, i in spec.rows.items()}
    finally:
        del data


class MapJob:
    """A song analysis in a child process, which a UI starts, polls and can cancel.

    The child starts at once (the stems are written out first, on the
    caller's thread); a daemon thread waits for it.

    Args:
        stems: Name -> ``(frames,)`` or ``(frames, channels)`` audio at ``sr``;
            or :class:`SharedStems`; or a function that returns either, called on this thread once the
            child is spawned (it may wait for a decode while the child warms
            up), or returns ``None`` to give up (the job ends cancelled).
        sr: Their sample rate.
        grid: A beat grid to use, else the child estimates one.
        progress: Called as ``(analysis, fraction)`` from the reader thread.
        timeout: Seconds before the child is killed and the job fails.
        callback: Called with the job, from its thread, when it ends uncancelled.
        on_partial: Called with the map so far after each analysis (reader thread).

    Attributes:
        done: Set when the job has ended, however it ended.
        result: The :class:`SongMap`, or ``None``.
        error: A one-line message if it failed, else ``None``.
        failure: The same as a typed error, else ``None``.
        fraction / analysis: The latest progress.
        partial: The map so far (bass notes first), or ``None``.
        cancelled: Whether :meth:`cancel` was called before it ended.
    """

    def __init__(
        self,
        stems: Stems | Callable[[], Stems | None],
        sr: int,
        grid: BeatGrid | None = None,
        progress: Progress | None = None,
        timeout: float = 600.0,
        callback: Callable[[MapJob], None] | None = None,
        on_partial: Partial | None = None,
    ) -> None:
        self.done = threading.Event()
        self.result: SongMap | None = None
        self.error: str | None = None
        self.failure: Exception | None = None
        self.cancelled = False
        self.fraction, self.analysis = 0.0, ""
        self.partial: SongMap | None = None
        self._on_partial = on_partial
        self._progress, self._callback, self._timeout = progress, callback, timeout
        fd, self._path = tempfile.mkstemp(prefix="stemtui-songmap-", suffix=".stems")
        os.close(fd)
        # The child is started first (a pooled spare, warm already, or a new
        # one that imports librosa and warms its code up, seconds cold, while
        # the stems are written here); its job line comes once they are.
        self.child = POOL.take()
        self.child.watch(on_event=self._event)
        try:
            got = stems() if callable(stems) else stems
            if got is None:  # the caller gave up waiting for them
                self.cancel()
            else:
                with open(self._path, "wb") as f:
                    if isinstance(got, SharedStems):
                        f.write(json.dumps(got._asdict()).encode())
                    else:
                        arrays: Any = {name: _mono(y) for name, y in got.items()}
                        np.savez(f, **arrays)
                job = {"stems": self._path, "sr": int(sr), "grid": None if grid is None else grid.to_dict()}
                try:
                    self.child.send(job)
                except WorkerError:  # a spare that died since it was started: the outcome says how
                    pass
        except BaseException:
            self.child.kill()
            self._unlink()
            raise
        finally:
            self.child.close_stdin()
        self._thread = threading.Thread(target=self._run, name="song-analysis", daemon=True)
        self._thread.start()

    def _unlink(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)

    def _event(self, ev: Event) -> None:
        if ev.kind == "progress":
            self.fraction, self.analysis = ev.fraction, str(ev.data.get("analysis", ""))
            if self._progress is not None:
                self._progress(self.analysis, self.fraction)
        elif ev.kind == "partial":
            self.partial = SongMap.from_json(ev.data.get("map"))
            if self._on_partial is not None:
                self._on_partial(self.partial)

    def _run(self) -> None:
        try:
            if not self.child.wait(self._timeout):
                self.child.kill()
                self.child.wait()
                if not self.cancelled:
                    raise SongMapError(f"song analysis took longer than {self._timeout:g} s")
            self.result = self._outcome()
        except Exception as exc:  # noqa: BLE001 -- reported via .error: a UI polls, nobody catches
            self.error, self.failure = str(exc), exc
        finally:
            self._unlink()
            if self.cancelled:
                self.result, self.error, self.failure = None, None, None
            self.done.set()
        if self._callback is not None and not self.cancelled:
            self._callback(self)

    def _outcome(self) -> SongMap | None:
        try:
            reply = self.child.outcome()
        except WorkerCancelled:
            return None
        except WorkerDied as exc:
            raise exc.died_as(MapJobDied, "song analysis") from None
        except WorkerError as exc:
            raise exc.retyped(MapJobFailed, "song analysis failed: ") from None
        return SongMap.from_json(reply.get("map"))

    def cancel(self) -> None:
        """Stop the analysis: kill the child; ``done`` is set soon after."""
        self.cancelled = True
        self.child.kill()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends; False if ``timeout`` passed first."""
        return self.done.wait(timeout)


def analyze_in_subprocess(
    stems: dict[str, np.ndarray],
    sr: int,
    grid: BeatGrid | None = None,
    progress: Progress | None = None,
    timeout: float = 600.0,
) -> SongMap:
    """:func:`~stemtui.core.analysis.songmap.analyze_stems` in a child; blocks until it answers.

    Raises:
        MapJobDied, MapJobFailed, SongMapError: It died, failed or timed out.
    """
    job = MapJob(stems, sr, grid, progress, timeout)
    job.wait()
    if job.failure is not None:
        raise job.failure
    if job.result is None:
        raise SongMapError("song analysis was cancelled")
    return job.result


def main() -> int:
    """``python -m stemtui.core.analysis.mapjob``: warm up, read one job line, answer in the worker protocol.

    The job: ``{"stems": PATH, "sr": RATE, "grid": BeatGrid dict or null}``;
    EOF instead (the pool's owner went away) ends it quietly.
    """
    try:
        os.nice(10)
    except (AttributeError, OSError):
        pass
    chan = Channel()

    def body(chan: Channel) -> int:
        _warm_up()
        job = chan.read()
        if job is None:
            return 0
        grid = BeatGrid.from_dict(job["grid"]) if job.get("grid") else None
        song_map = analyze_stems(
            _read_stems(job["stems"]),
            int(job["sr"]),
            grid,
            lambda name, frac: chan.progress(frac, analysis=name),
            lambda so_far: chan.send("partial", map=so_far.to_json()),
        )
        chan.done(map=song_map.to_json())
        return 0

    return serve(body, channel=chan, cancel_on_sigterm=True)


#: Spare analysis workers, warm (librosa imported, numba's cache loaded): the
#: player starts one while the library shows, so a song opened with no map
#: yet has its first result seconds sooner. None are kept unless asked
#: (:meth:`WorkerPool.refill`).
POOL = WorkerPool(MODULE, "song analysis", spares=1, env=_child_env)


if __name__ == "__main__":
    sys.exit(main())
