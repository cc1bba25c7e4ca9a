"""A separation job: one audio file → stems in the store, playable as they come.

It ties the pieces together for the CLI and the UI:

1. :meth:`SeparationJob.lookup` hashes the file's bytes with the options and
   checks the store: a hit answers at once, without decoding or importing
   torch.
2. :meth:`SeparationJob.start` decodes the file (bad input is reported as
   :class:`BadInput` before anything is spawned) and starts a
   :class:`~stemtui.core.separation.task.SeparationTask` in a worker process, inside
   a temporary store folder.
3. :meth:`SeparationJob.song` is a :class:`Song` over the worker's output
   memmap whose ``available`` frames grow as segments finish, so a player can
   start on the first chunk.
4. :meth:`SeparationJob.finish` writes the stems as FLAC into the temporary
   folder and commits it to the store in one rename. Cancel, or a crash,
   leaves no entry.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# What a separation's start and finish use is imported with this module, not
# when they run: a separation is often started while a song plays, and an
# import (PyAV's extension modules among them) holds the GIL the audio
# callback needs for up to a tenth of a second.
from stemtui.core.audio.song import Song, SongMeta, as_stereo
from stemtui.core.errors import BadInput
from stemtui.core.library.audioblocks import decode_blocks
from stemtui.core.library.audiofiles import read_tags
from stemtui.core.library.stemfiles import write_stem_blocks
from stemtui.core.library.store import Entry, Store, hash_files
from stemtui.core.separation.budget import estimate, record_speed
from stemtui.core.separation.scratch import stem_blocks, write_npy
from stemtui.core.separation.task import SeparationTask

PROGRESS_FILE = "progress.json"


def separation_id(path: Path, options) -> str:
    """The cache id of a file separated with ``options`` (content, not name)."""
    return hash_files([path], {"kind": "separate", **options.cache_key_fields()})


def check_input_file(path: str | Path) -> Path:
    """Cheap checks before hashing: exists, is a file, is not empty.

    Raises:
        BadInput: ``no such file``, ``is a directory`` or ``zero-length audio``.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise BadInput(str(path), "no such file")
    if p.is_dir():
        raise BadInput(str(path), "is a directory (to import a folder of stems, use `stemtui import`)")
    if p.stat().st_size == 0:
        raise BadInput(str(path), "not an audio file (empty)")
    return p


class SeparationJob:
    """Separate one file into the store.

    Args:
        store: Where the stems go.
        path: The audio file.
        options: A :class:`~stemtui.core.separation.splitter.SeparationOptions`.
        on_progress: Called (on a background thread) with each ``Progress``.
        nice: Niceness for the worker; above 0 it also runs SCHED_IDLE (for
            separations beside playback: the audio must never wait).
    """

    def __init__(self, store: Store, path: str | Path, options, on_progress: Callable | None = None, nice: int = 0):
        self.store = store
        self.path = check_input_file(path)
        self.options = options
        self.on_progress = on_progress
        self.nice = nice
        self.id = separation_id(self.path, options)
        self.meta: SongMeta | None = None
        self.task: SeparationTask | None = None
        self.tmp: Path | None = None
        self._song: Song | None = None
        self._last_write = 0.0
        self._t_start = 0.0

    # -- 1. cache -----------------------------------------------------------------
    def lookup(self) -> Entry | None:
        """The complete cached entry for this file and options, or ``None``."""
        e = self.store.get(self.id)
        return e if e is not None and e.ok else None

    # -- 2. start -------------------------------------------------------------------
    def budget(self):
        """Time and disk this separation will take (a :class:`~.budget.Budget`), from the file's header.

        Raises:
            BadInput: The file is not audio.
        """
        return estimate(self.path, self.options, self.store.tmp_dir, self.store.root)

    def start(self) -> None:
        """Decode the file into the temporary folder and start the worker.

        The file is decoded a block at a time straight into ``input.npy``, so
        the parent never holds the song.

        Raises:
            BadInput: If the file is not usable audio (nothing is stored).
            WriteFailed: The disk refused the decoded input (nothing is left).
        """
        rate, blocks = decode_blocks(self.path)
        title, artist = read_tags(self.path)
        opts = self.options
        self.meta = SongMeta(
            title, artist, source=str(self.path.resolve()), model=opts.model, options=opts.cache_key_fields()
        )
        self.tmp = self.store.new_tmp(self.id)
        try:
            self._write_progress(0.0, force=True)
            work = self.tmp / "work"
            work.mkdir()
            write_npy(work / "input.npy", map(as_stereo, blocks))
            self.task = SeparationTask(
                None,
                rate,
                opts,
                workdir=work,
                on_progress=self._progress,
                nice=self.nice,
                input_path=work / "input.npy",
            )
            self.task.start()
        except BaseException:
            self.discard()
            raise
        self._t_start = time.monotonic()
        if self.nice > 0:
            _run_when_idle(self.task.pid)

    def _progress(self, p) -> None:
        self._write_progress(p.fraction, force=p.fraction >= 1.0)
        if self._song is not None:
            self._song.mark_available(p.ready_frames)
        if self.on_progress is not None:
            self.on_progress(p)

    def _write_progress(self, fraction: float, force: bool = False) -> None:
        """Let other processes' library views show "separating N%"."""
        now = time.monotonic()
        if self.tmp is None or (not force and now - self._last_write < 0.5):
            return
        self._last_write = now
        info = {"title": self.meta.title if self.meta else self.path.name, "fraction": fraction, "pid": os.getpid()}
        part = self.tmp / (PROGRESS_FILE + ".part")
        try:
            part.write_text(json.dumps(info))
            os.replace(part, self.tmp / PROGRESS_FILE)
        except OSError:
            pass  # the folder is being discarded

    def _started(self) -> SeparationTask:
        if self.task is None:
            raise RuntimeError("SeparationJob.start() was not called")
        return self.task

    # -- 3. progressive song ----------------------------------------------------------
    def song(self) -> Song:
        """A song over the worker's output; ``available`` grows as segments finish.

        Blocks until the model is loaded (its stems and rate are known).

        Raises:
            ModelUnavailable, BadInput, SeparationFailed, SeparationCancelled.
        """
        if self._song is None:
            task = self._started()
            assert self.meta is not None
            names, sr = task.stems_info()
            self._song = Song(names, task.output, sr, self.meta, self.id, available=0)
            self._song.mark_available(task.ready_frames)
            threading.Thread(target=self._follow, name="stemtui-follow", daemon=True).start()
        return self._song

    def _follow(self) -> None:
        """Publish ready frames even between progress events."""
        task, song = self._started(), self._song
        assert song is not None
        while task.running:
            song.mark_available(task.ready_frames)
            time.sleep(0.05)
        song.mark_available(task.ready_frames)

    # -- 4. finish -------------------------------------------------------------------
    def finish(self) -> Entry:
        """Wait for the worker, store the stems, and commit the entry.

        Raises:
            SeparationCancelled, ModelUnavailable, BadInput, SeparationFailed;
            on any of them the temporary folder is removed.
        """
        try:
            task, tmp = self._started(), self.tmp
            assert tmp is not None and self.meta is not None
            task.wait()
            last = task.last_progress  # its elapsed time leaves out starting python and torch
            compute_s = last.elapsed_s if last is not None else time.monotonic() - self._t_start
            names, sr = task.stems_info()
            frames = task.frames
            task.input_path.unlink(missing_ok=True)  # room for the FLAC stems
            _write_stems(tmp, names, task.output_path, frames, sr)
            if self._song is not None:
                self._song.mark_available(frames)
            task.close()
            self._release()
            shutil.rmtree(tmp / "work", ignore_errors=True)
            (tmp / PROGRESS_FILE).unlink(missing_ok=True)
            entry = self.store.commit(tmp, self.id, names, frames, sr, self.meta)
            self.tmp = None
        except BaseException:
            self.discard()
            raise
        if self.nice <= 0:  # a niced run beside playback is not this machine's speed
            record_speed(self.store.root, self.options, self.options.device, compute_s, frames / sr)
        return entry

    def cancel(self) -> None:
        """Stop the worker; no entry is left."""
        if self.task is not None:
            self.task.cancel()

    def discard(self) -> None:
        """Stop everything and remove the temporary folder."""
        if self.task is not None:
            self.task.cancel()
            self._release()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def _release(self) -> None:
        """Drop the job's hold on the worker's output (see :meth:`SeparationTask.release`).

        The song is the caller's from here on: one that still plays it keeps
        the mapping alive; otherwise it is unmapped now, not at the next
        garbage collection.
        """
        if self.task is not None:
            self.task.release()
        self._song = None


def _write_stems(folder: Path, names: list[str], output: Path, frames: int, sample_rate: int) -> None:
    """Encode the stems of the worker's output file as FLAC, one thread per core.

    Each stem is read from the file a block at a time (not through a
    mapping), so memory stays flat however long the song. libsndfile's
    encoder runs without the GIL: 4 stems of 30 s took 0.14 s on 2 threads
    against 0.28 s one after the other, time the user waits after the last
    segment.
    """

    def one(i: int) -> None:
        write_stem_blocks(folder / f"{names[i]}.flac", stem_blocks(output, frames, i), sample_rate)

    workers = max(1, min(len(names), os.cpu_count() or 1))
    with ThreadPoolExecutor(workers, thread_name_prefix="stemtui-flac") as pool:
        list(pool.map(one, range(len(names))))


def _run_when_idle(pid: int | None) -> None:
    """Put a background worker in SCHED_IDLE: it only gets otherwise idle CPU.

    Niceness alone was not enough on 2 cores: with the model busy on both,
    the player's threads (and the sound server) were late by 30–140 ms often
    enough to underrun. A SCHED_IDLE worker never delays them, and still
    takes every idle cycle, so a separation on a quiet machine is as fast.
    Threads the worker starts later (torch's) inherit the policy.
    """
    if pid is None:
        return
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        pass  # not Linux, or the worker already ended: niceness still applies


def in_progress(store: Store) -> list[Entry]:
    """Separations running in any process, as entries in state ``separating``."""
    from stemtui.core.library.safeio import pid_alive

    out = []
    for d in store.tmp_dir.iterdir():
        f = d / PROGRESS_FILE
        try:
            info = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if not pid_alive(int(info.get("pid", 0))):
            continue
        pct = int(float(info.get("fraction", 0.0)) * 100)
        out.append(
            Entry(
                id=d.name.split(".")[0], path=d, state="separating", reason=f"{pct}%", title=str(info.get("title", ""))
            )
        )
    return out
