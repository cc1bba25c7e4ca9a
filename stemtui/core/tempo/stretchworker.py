"""Renders stretched runs in a worker process, ahead of the playhead.

Why a process: python-stretch keeps the GIL for a whole ``process()`` call
(measured: the main thread did not run once during a 0.6 s call), and a
render of several stems takes seconds. In the player's process that would
stall the audio callback, which needs the GIL for every block.

Each run is rendered by its own processes (the stems split over up to two)
that exit when it is done; dropping a run kills them, so a tempo change or a
seek never waits behind obsolete work. The song goes
in, and the run comes out, through files mapped by both processes (tmpfs
where there is one), so nothing large crosses the pipe: the worker prints
``valid length`` lines as the run grows, and the parent publishes ``valid``
to the mixer.

Run as ``python -m stemtui.core.tempo.stretchworker`` with one JSON line on stdin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from stemtui.core.audio.source import MappedSource
from stemtui.core.tempo.stretch import RunRenderer, out_frames


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


class WorkerPool:
    """Worker processes started ahead of need, waiting for a job on stdin.

    Starting Python with numpy and the stretcher takes ~0.2 s; a tempo
    change should not pay it. After each use the pool refills in the
    background. Idle workers exit on their own when this process ends (their
    stdin closes).
    """

    def __init__(self, spares: int = 2) -> None:
        self.spares = spares
        self._idle: list[subprocess.Popen] = []
        self._lock = threading.Lock()

    @staticmethod
    def _spawn() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "stemtui.core.tempo.stretchworker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        )

    def take(self) -> subprocess.Popen:
        """A started worker (a fresh one if none is idle)."""
        with self._lock:
            while self._idle:
                p = self._idle.pop()
                if p.poll() is None:
                    return p
        return self._spawn()

    def refill(self) -> None:
        """Start spares in the background, up to :attr:`spares`."""

        def fill() -> None:
            while True:
                with self._lock:
                    self._idle = [p for p in self._idle if p.poll() is None]
                    if len(self._idle) >= self.spares:
                        return
                p = self._spawn()
                with self._lock:
                    self._idle.append(p)

        threading.Thread(target=fill, name="stemtui-stretch-pool", daemon=True).start()

    def close(self) -> None:
        """Stop the idle workers."""
        with self._lock:
            idle, self._idle = self._idle, []
        for p in idle:
            p.kill()
            p.wait()


#: The process-wide pool of render workers.
POOL = WorkerPool()


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

    def __init__(self, song: SharedSong, start: int, end: int, sample_rate: int, tempo: float,
                 semitones: int, folder: Path, workers: int = 0) -> None:
        self.start, self.end = int(start), int(end)
        self.rate = float(tempo)
        self.tempo, self.semitones = float(tempo), int(semitones)
        self.sample_rate = int(sample_rate)
        s = song.shape[0]
        self.frames = out_frames(max(1, self.end - self.start), self.tempo)
        self.path = folder / f"run-{uuid.uuid4().hex[:8]}.f32"
        # A sparse file: pages exist only once the worker writes them.
        self._mm = np.memmap(self.path, dtype=np.float32, mode="w+", shape=(s, self.frames, 2))
        # The audio thread slices a plain ndarray view: slicing a np.memmap
        # makes a new memmap object (and its attributes) every time.
        self.data = self._mm.view(np.ndarray)
        #: Output frames ready; the mixer reads it without a lock.
        self.avail = np.zeros(1, dtype=np.int64)
        self.error: str | None = None
        self.finished = threading.Event()
        self._song = song
        self._cancelled = False
        # The stems are split over one process per core (two at most: the
        # UI and the audio callback need the rest); stems are independent, so
        # the split changes nothing in the output.
        n = max(1, min(s, workers if workers else min(2, os.cpu_count() or 1)))
        self._valid = [0] * n
        self._procs: list[subprocess.Popen] = []
        self._readers: list[threading.Thread] = []
        for w in range(n):
            self._start_worker(w, list(range(w, s, n)))
        POOL.spares = n
        POOL.refill()

    def _start_worker(self, w: int, stems: list[int]) -> None:
        job = {
            "song": str(self._song.path), "shape": list(self._song.shape), "sr": self.sample_rate,
            "start": self.start, "end": self.end, "tempo": self.tempo, "semitones": self.semitones,
            "out": str(self.path), "stems": stems,
        }
        proc = POOL.take()
        proc.stdin.write(json.dumps(job) + "\n")
        proc.stdin.close()
        self._procs.append(proc)
        t = threading.Thread(target=self._read, args=(w, proc), name="stemtui-stretch-run", daemon=True)
        self._readers.append(t)
        t.start()

    def _read(self, w: int, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            parts = line.split()
            if len(parts) == 2:
                self._valid[w] = int(parts[0])
                # Frames are playable once every worker has written them.
                self.avail[0] = min(self._valid)
        err = proc.stderr.read().strip()
        proc.wait()
        if proc.returncode != 0 and not self._cancelled:
            self.error = err.splitlines()[-1] if err else f"stretch worker exited with {proc.returncode}"
        if all(p.poll() is not None for p in self._procs):
            self.finished.set()

    @property
    def ready(self) -> int:
        """Output frames ready to play."""
        return int(self.avail[0])

    @property
    def done(self) -> bool:
        """Whether every frame of the run is rendered."""
        return self.ready >= self.frames

    def cancel(self) -> None:
        """Stop rendering (kills the workers); the frames ready stay playable."""
        self._cancelled = True
        for p in self._procs:
            if p.poll() is None:
                p.kill()

    def close(self) -> None:
        """Cancel and delete the output file (once no mixer reads it)."""
        self.cancel()
        for p in self._procs:
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        self.path.unlink(missing_ok=True)


def _main() -> int:
    # Import everything before waiting: a pooled worker starts its job at once.
    import python_stretch.Signalsmith  # noqa: F401

    line = sys.stdin.readline()
    if not line.strip():
        return 0  # the pool's owner went away
    job = json.loads(line)
    shape = tuple(job["shape"])
    song = np.memmap(job["song"], dtype=np.float32, mode="r", shape=shape)
    n_out = out_frames(max(1, job["end"] - job["start"]), job["tempo"])
    out = np.memmap(job["out"], dtype=np.float32, mode="r+", shape=(shape[0], n_out, 2))
    r = RunRenderer(song, job["start"], job["end"], job["sr"], job["tempo"], job["semitones"], out,
                    stems=job.get("stems"))
    while not r.done:
        r.step()
        # The pages are shared with the parent: once written they are
        # visible there; the line tells it how far it may read.
        print(r.valid, r.length, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
