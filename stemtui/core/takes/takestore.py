"""The takes of each song: the user's recordings, kept beside the practice state.

CONTRACT (written by the integrator; the takes-store helper implements it,
the other helpers code against it). Layout, under ``Settings.data_dir``::

    takes/<song_id>/takes.json        versioned manifest (atomic rewrite)
    takes/<song_id>/<id>.flac         a finished take (mono or stereo, the song's rate)
    takes/<song_id>/<id>.part.f32     a take being recorded: raw interleaved float32
    takes/<song_id>/<id>.part.json    its sidecar, written before the first frame

The manifest's format and its checks are in :mod:`.takefiles`. Every
mutation holds an ``flock`` on ``takes/<song_id>/.lock``, so two processes
never hand out the same id. Reading never raises: problems (a damaged
manifest, a missing audio file) are logged as warnings on ``stemtui.takes``
and returned by :meth:`TakeStore.listing`.

A ``.part`` pair whose recording process is gone is recovered (converted to
a finished take, up to its last whole frame) or removed if empty, by
:meth:`TakeStore.recover`; it never breaks the song or the listing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from stemtui.core.errors import BadInput
from stemtui.core.library.safeio import fsync_path, pid_alive, write_error, write_json_synced
from stemtui.core.takes.takefiles import (
    SAFE_SONG_ID,
    array_blocks,
    raw_blocks,
    read_manifest,
    valid_take_id,
    write_manifest,
    write_take_audio,
)

log = logging.getLogger("stemtui.takes")


@dataclass(frozen=True)
class Take:
    """One finished take.

    Attributes:
        id: Short id, unique within the song (``"1"``, ``"2"``, ...); the mix flags say ``take:ID``.
        song_id: The song it was recorded over.
        name: What the stem table shows (default ``"take N"``).
        start_s: Song time of the take's first frame (latency already compensated).
        frames: Length in frames.
        sample_rate: Always the song's rate (imports are resampled).
        channels: 1 or 2.
        path: The audio file.
        reference: The stem muted while recording (the default to compare against), or ``""``.
        created: Unix time it was recorded or imported.
    """

    id: str
    song_id: str
    name: str
    start_s: float
    frames: int
    sample_rate: int
    channels: int
    path: Path
    reference: str = ""
    created: float = 0.0

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.frames / float(self.sample_rate)


@dataclass(frozen=True)
class PartInfo:
    """The sidecar of a take being recorded (``<id>.part.json``)."""

    id: str
    song_id: str
    start_s: float
    sample_rate: int
    channels: int
    reference: str
    pid: int
    audio: Path  # the .part.f32 file the recorder appends to

    def to_json(self) -> dict:
        d = asdict(self)
        d["audio"] = str(self.audio)
        return d

    @classmethod
    def from_json(cls, d: dict) -> PartInfo:
        """From a sidecar's JSON; ``ValueError``/``TypeError``/``KeyError`` if it is not one."""
        ints = [d[k] for k in ("sample_rate", "channels", "pid")]
        if any(isinstance(v, bool) or not isinstance(v, int) for v in ints) or d["channels"] not in (1, 2):
            raise ValueError("bad numbers")
        if not all(isinstance(d[k], str) for k in ("id", "song_id", "reference", "audio")):
            raise ValueError("bad strings")
        return cls(
            d["id"], d["song_id"], float(d["start_s"]), ints[0], ints[1], d["reference"], ints[2], Path(d["audio"])
        )


def _take(folder: Path, song_id: str, e: dict) -> Take:
    return Take(
        e["id"],
        song_id,
        e["name"],
        e["start_s"],
        e["frames"],
        e["sample_rate"],
        e["channels"],
        folder / f"{e['id']}.flac",
        e["reference"],
        e["created"],
    )


class TakeStore:
    """Takes per song under ``root`` (``Settings.data_dir``)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()

    def folder(self, song_id: str) -> Path:
        """``<root>/takes/<song_id>``; ``BadInput`` for an id that is not a plain name."""
        if not SAFE_SONG_ID.fullmatch(song_id or ""):
            raise BadInput(repr(song_id), "not a song id")
        return self.root / "takes" / song_id

    @contextlib.contextmanager
    def _locked(self, song_id: str) -> Iterator[Path]:
        folder = self.folder(song_id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise write_error(folder, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield folder
        finally:
            os.close(fd)

    # -- reading ---------------------------------------------------------------------------
    def listing(self, song_id: str) -> tuple[list[Take], list[str]]:
        """The song's takes in id order and one line per problem (logged as warnings too); never raises.

        A take whose audio file is missing is left out of the list and reported.
        """
        try:
            folder = self.folder(song_id)
        except BadInput as exc:
            return [], [str(exc)]
        if not folder.is_dir():
            return [], []
        m = read_manifest(folder)
        problems = list(m.problems)
        out = []
        for e in m.entries:
            t = _take(folder, song_id, e)
            if not t.path.is_file():
                problems.append(f"take {t.id} ({t.name}): audio file missing ({t.path}): not listed")
                continue
            out.append(t)
        for line in problems:
            log.warning("stemtui: warning: %s", line)
        return out, problems

    def takes(self, song_id: str) -> list[Take]:
        """The song's takes in id order; a damaged manifest is reported (warnings), never raised."""
        return self.listing(song_id)[0]

    def get(self, song_id: str, take_id: str) -> Take:
        """One take; ``BadInput`` naming the id if there is none."""
        t = next((t for t in self.takes(song_id) if t.id == take_id), None)
        if t is None:
            raise BadInput(f"take {take_id}", "no such take of this song")
        return t

    def read(self, take: Take) -> np.ndarray:
        """The take's audio, ``(frames, channels)`` float32; ``BadInput`` if the file is unreadable."""
        import soundfile as sf

        try:
            data, _ = sf.read(str(take.path), dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError, OSError) as exc:
            raise BadInput(str(take.path), f"take {take.id} unreadable: {str(exc).strip()[:120]}") from None
        return np.ascontiguousarray(data)

    # -- adding ----------------------------------------------------------------------------
    def _add(self, song_id: str, blocks_for, frames: int, rate: int, channels: int, info: dict) -> Take:
        """Reserve an id (or use ``info['id']``), write the FLAC, then the manifest; all or nothing."""
        with self._locked(song_id) as folder:
            m = read_manifest(folder)
            tid = info.pop("id", None) or str(m.next_id)
            path = folder / f"{tid}.flac"
            write_take_audio(path, blocks_for(), rate, channels)
            entry = {"id": tid, "frames": frames, "sample_rate": rate, "channels": channels, **info}
            entry["name"] = (entry.get("name") or "").strip() or f"take {tid}"
            m.entries = sorted([e for e in m.entries if e["id"] != tid] + [entry], key=lambda e: int(e["id"]))
            m.next_id = max(m.next_id, int(tid) + 1)
            try:
                write_manifest(folder, song_id, m)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        return _take(folder, song_id, entry)

    def import_file(
        self, song_id: str, path: Path, at_s: float, sample_rate: int, song_frames: int, name: str | None = None
    ) -> Take:
        """A take recorded elsewhere whose t=0 is song time ``at_s``; checked, resampled, stored atomically.

        Raises:
            BadInput: The file is not readable audio, or ``at_s`` is negative or past the song's end.
            WriteFailed: The disk refused it (nothing is left behind).
        """
        from stemtui.core.audio.song import as_stereo
        from stemtui.core.library.audiofiles import read_audio, resample
        from stemtui.core.library.safeio import check_input_file

        at = float(at_s)
        if not np.isfinite(at) or at < 0:
            raise BadInput(f"--at {at_s}", "must be a song time of 0 or more")
        if at * sample_rate >= song_frames:
            raise BadInput(f"--at {at_s}", f"past the song's end ({song_frames / sample_rate:.2f} s)")
        src = check_input_file(path)
        data, rate = read_audio(src)  # NaN and infinities repaired there, with a warning
        if data.shape[1] > 2:
            data = as_stereo(data)
        data = np.ascontiguousarray(resample(data, rate, sample_rate).reshape(-1, data.shape[1]))
        if data.shape[0] == 0:
            raise BadInput(str(src), "zero-length audio")
        info = {"name": name or "", "start_s": at, "reference": "", "created": time.time()}
        return self._add(song_id, lambda: array_blocks(data), data.shape[0], sample_rate, data.shape[1], info)

    # -- recording ---------------------------------------------------------------------------
    def begin(self, song_id: str, start_s: float, sample_rate: int, channels: int, reference: str = "") -> PartInfo:
        """Reserve an id and write the sidecar of a take about to be recorded.

        The recorder appends raw interleaved float32 frames to ``PartInfo.audio``
        (created empty here), then calls :meth:`finish` or :meth:`discard`.
        """
        if channels not in (1, 2):
            raise ValueError(f"a take has 1 or 2 channels, not {channels}")
        with self._locked(song_id) as folder:
            m = read_manifest(folder)
            tid = str(m.next_id)
            m.next_id += 1
            write_manifest(folder, song_id, m)
            part = PartInfo(
                tid, song_id, float(start_s), int(sample_rate), int(channels), reference, os.getpid(),
                folder / f"{tid}.part.f32",
            )  # fmt: skip
            sidecar = folder / f"{tid}.part.json"
            tmp = sidecar.with_name(sidecar.name + ".tmp")
            try:
                write_json_synced(tmp, part.to_json())
                os.replace(tmp, sidecar)
                os.close(os.open(part.audio, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666))
                fsync_path(folder)
            except OSError as exc:
                for p in (tmp, sidecar, part.audio):
                    p.unlink(missing_ok=True)
                raise write_error(sidecar, exc) from None
        return part

    def finish(self, part: PartInfo, start_s: float | None = None, name: str | None = None) -> Take:
        """Turn a recorded ``.part`` into a finished take (``start_s`` corrected for latency if given).

        Call it once the recorder has closed ``part.audio``; it keeps up to the
        last whole frame. The ``.part`` files are removed only once the take is
        stored; on a full disk they stay (:meth:`recover` retries later).

        Raises:
            BadInput: Nothing was recorded (the part is removed).
            WriteFailed: The disk refused the take.
        """
        try:
            size = part.audio.stat().st_size
        except OSError:
            size = 0
        frames = size // (4 * part.channels)
        if frames == 0:
            self.discard(part)
            raise BadInput(f"take {part.id}", "nothing was recorded")
        start = float(part.start_s if start_s is None else start_s)
        # Frames from before song time 0 (the input's head start) are trimmed,
        # not the take shifted: what stays keeps its place.
        skip = min(frames, round(-start * part.sample_rate)) if start < 0 else 0
        if skip >= frames:
            self.discard(part)
            raise BadInput(f"take {part.id}", "nothing was recorded after the song's start")
        start = max(0.0, start + skip / part.sample_rate)
        info = {"id": part.id, "name": name or "", "start_s": start, "reference": part.reference}
        info["created"] = time.time()
        kept = frames - skip
        take = self._add(
            part.song_id, lambda: raw_blocks(part.audio, part.channels, kept, skip), kept, part.sample_rate,
            part.channels, info,
        )  # fmt: skip
        self._drop_part(part.audio.parent, part.id)
        return take

    def discard(self, part: PartInfo) -> None:
        """Remove a take being recorded (Esc)."""
        self._drop_part(part.audio.parent, part.id)

    @staticmethod
    def _drop_part(folder: Path, take_id: str) -> None:
        for suffix in (".part.f32", ".part.json", ".part.json.tmp"):
            with contextlib.suppress(OSError):
                (folder / f"{take_id}{suffix}").unlink()

    def recover(self, song_id: str | None = None) -> list[str]:
        """Finish or remove ``.part`` takes of dead processes; one line each of what was done. Never raises."""
        base = self.root / "takes"
        try:
            folders = [self.folder(song_id)] if song_id else sorted(d for d in base.iterdir() if d.is_dir())
        except (OSError, BadInput):
            return []
        lines: list[str] = []
        for folder in folders:
            with contextlib.suppress(OSError):
                for side in sorted(folder.glob("*.part.json")):
                    line = self._recover_one(folder, side)
                    if line:
                        lines.append(line)
        for line in lines:
            log.warning("stemtui: %s", line)
        return lines

    def _recover_one(self, folder: Path, sidecar: Path) -> str | None:
        tid = sidecar.name.split(".", 1)[0]
        song = folder.name
        try:
            part = PartInfo.from_json(json.loads(sidecar.read_bytes()))
            if part.id != tid or part.song_id != song:
                raise ValueError("names another take")
        except (OSError, ValueError, TypeError, KeyError):
            self._drop_part(folder, tid)
            return f"take {tid} of {song}: interrupted recording with a damaged sidecar: removed"
        if part.pid == os.getpid() or pid_alive(part.pid):
            return None
        part = PartInfo(**{**part.__dict__, "audio": folder / f"{tid}.part.f32"})  # wherever the folder is now
        if valid_take_id(tid) and read_manifest(folder).find(tid) is not None:
            self._drop_part(folder, tid)  # finished, killed before the clean-up
            return None
        try:
            whole = part.audio.stat().st_size // (4 * part.channels)
        except OSError:
            whole = 0
        if whole == 0:
            self.discard(part)
            return f"take {tid} of {song}: interrupted before any audio was recorded: removed"
        try:
            take = self.finish(part)
        except Exception as exc:  # noqa: BLE001 -- a full or read-only disk must not stop the app from starting
            return f"take {tid} of {song}: interrupted recording not recovered ({exc}): kept for the next start"
        return f"take {tid} of {song}: recovered {take.duration_s:.1f} s of an interrupted recording"

    # -- editing -------------------------------------------------------------------------------
    def rename(self, song_id: str, take_id: str, name: str) -> Take:
        """Give a take a new display name; ``BadInput`` for an unknown id or an empty name."""
        if not name.strip():
            raise BadInput(repr(name), "a take's name cannot be empty")
        with self._locked(song_id) as folder:
            m = read_manifest(folder)
            e = m.find(take_id)
            if e is None:
                raise BadInput(f"take {take_id}", "no such take of this song")
            e["name"] = name.strip()
            write_manifest(folder, song_id, m)
        return _take(folder, song_id, e)

    def remove(self, song_id: str, take_id: str) -> None:
        """Delete a take (its audio, then its manifest entry); ``BadInput`` for an unknown id."""
        folder = self.folder(song_id)
        if not folder.is_dir():
            raise BadInput(f"take {take_id}", "no such take of this song")
        with self._locked(song_id) as folder:
            m = read_manifest(folder)
            if m.find(take_id) is None:
                raise BadInput(f"take {take_id}", "no such take of this song")
            try:
                (folder / f"{take_id}.flac").unlink(missing_ok=True)
            except OSError as exc:
                raise write_error(folder / f"{take_id}.flac", exc) from None
            m.entries = [e for e in m.entries if e["id"] != take_id]
            write_manifest(folder, song_id, m)

    def remove_song(self, song_id: str) -> int:
        """Remove every take of a song (``stemtui rm --with-takes``); the count removed."""
        folder = self.folder(song_id)
        if not folder.is_dir():
            return 0
        n = len(read_manifest(folder).entries)
        shutil.rmtree(folder, ignore_errors=True)
        return n
