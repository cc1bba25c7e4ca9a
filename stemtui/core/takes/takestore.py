"""The takes of each song: the user's recordings, kept beside the practice state.

CONTRACT (written by the integrator; the takes-store helper implements it,
the other helpers code against it). Layout, under ``Settings.data_dir``::

    takes/<song_id>/takes.json        versioned manifest (atomic rewrite)
    takes/<song_id>/<id>.flac         a finished take (mono or stereo, the song's rate)
    takes/<song_id>/<id>.part.f32     a take being recorded: raw interleaved float32
    takes/<song_id>/<id>.part.json    its sidecar, written before the first frame

A ``.part`` pair whose recording process is gone is recovered (converted to
a finished take, up to its last whole frame) or removed if empty, by
:meth:`TakeStore.recover`; it never breaks the song or the listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


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


class TakeStore:
    """Takes per song under ``root`` (``Settings.data_dir``)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def takes(self, song_id: str) -> list[Take]:
        """The song's takes in id order; a damaged manifest is reported (warnings), never raised."""
        raise NotImplementedError

    def get(self, song_id: str, take_id: str) -> Take:
        """One take; ``BadInput`` naming the id if there is none."""
        raise NotImplementedError

    def read(self, take: Take) -> np.ndarray:
        """The take's audio, ``(frames, channels)`` float32."""
        raise NotImplementedError

    def import_file(
        self, song_id: str, path: Path, at_s: float, sample_rate: int, song_frames: int, name: str | None = None
    ) -> Take:
        """A take recorded elsewhere whose t=0 is song time ``at_s``; checked, resampled, stored atomically."""
        raise NotImplementedError

    def begin(self, song_id: str, start_s: float, sample_rate: int, channels: int, reference: str = "") -> PartInfo:
        """Reserve an id and write the sidecar of a take about to be recorded."""
        raise NotImplementedError

    def finish(self, part: PartInfo, start_s: float | None = None, name: str | None = None) -> Take:
        """Turn a recorded ``.part`` into a finished take (``start_s`` corrected for latency if given)."""
        raise NotImplementedError

    def discard(self, part: PartInfo) -> None:
        """Remove a take being recorded (Esc)."""
        raise NotImplementedError

    def recover(self, song_id: str | None = None) -> list[str]:
        """Finish or remove ``.part`` takes of dead processes; one line each of what was done."""
        raise NotImplementedError

    def rename(self, song_id: str, take_id: str, name: str) -> Take:
        raise NotImplementedError

    def remove(self, song_id: str, take_id: str) -> None:
        raise NotImplementedError

    def remove_song(self, song_id: str) -> int:
        """Remove every take of a song (``stemtui rm --with-takes``); the count removed."""
        raise NotImplementedError
