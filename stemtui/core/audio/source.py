"""What the mixer reads: the song itself, or a stretched run of it.

A source is stems laid out like :attr:`Song.data` (``(stems, frames, 2)``)
plus the map from its frames to song time: frame ``j`` plays song frame
``start + j * rate``. The song is the identity source (start 0, rate 1); a
:class:`~stemtui.core.tempo.stretchworker.StretchRun` is a source whose frames a
worker fills ahead of the playhead. Loop points and the playhead's published
position are song frames, so they mean the same thing at every tempo.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from stemtui.core.audio.song import Song


class Source(Protocol):
    """What the audio thread reads from a source (duck-typed; see the module docstring).

    ``data`` is ``(stems, frames, 2)`` float32; ``avail[0]`` counts the frames
    ready to play (it may grow while playing); ``start``, ``rate`` map a
    source frame to song time, ``end`` is the song frame it ends at.
    """

    data: np.ndarray
    avail: np.ndarray
    frames: int
    start: int
    end: int
    rate: float
    tempo: float
    semitones: int

    def run_frame(self, song_frame: int) -> int:
        """The source frame that plays ``song_frame``."""
        ...


class SongSource:
    """The song's own frames, unstretched.

    Args:
        song: The song; its ``available`` counter is shared, not copied.
    """

    start = 0
    rate = 1.0
    tempo = 1.0
    semitones = 0

    def __init__(self, song: Song) -> None:
        self.data: np.ndarray = song.data
        self.avail: np.ndarray = song.available_ref
        self.frames: int = song.frames
        #: Song frame one past the last frame this source can play.
        self.end: int = song.frames

    def run_frame(self, song_frame: int) -> int:
        """The source frame that plays ``song_frame``."""
        return min(max(0, int(song_frame)), self.frames)


class MappedSource:
    """A stretched source: frame ``j`` plays song frame ``start + j * rate``.

    Subclasses set ``start``, ``rate`` and ``frames``.
    """

    start: int
    rate: float
    frames: int

    def run_frame(self, song_frame: int) -> int:
        """The frame that plays ``song_frame`` (clamped to the source)."""
        return min(max(0, round((song_frame - self.start) / self.rate)), self.frames)


class ArraySource(MappedSource):
    """A fully rendered stretch of ``[start, end)`` in song frames (offline export).

    Args:
        data: ``(stems, frames, 2)`` stretched audio.
        start: Song frame of its first frame.
        end: Song frame it ends at.
        tempo: Speed factor it was rendered at.
        semitones: Transpose it was rendered at.
    """

    def __init__(self, data: np.ndarray, start: int, end: int, tempo: float, semitones: int) -> None:
        self.data = data
        self.frames = data.shape[1]
        self.avail = np.array([self.frames], dtype=np.int64)
        self.start, self.end = int(start), int(end)
        self.rate = self.tempo = float(tempo)
        self.semitones = int(semitones)


class Silence:
    """A source with nothing in it: fading in from it is a plain fade-in."""

    start, rate, tempo, semitones, frames, end = 0, 1.0, 1.0, 0, 0, 0

    def __init__(self, s: int) -> None:
        self.data = np.zeros((s, 0, 2), dtype=np.float32)
        self.avail = np.zeros(1, dtype=np.int64)

    def run_frame(self, song_frame: int) -> int:  # noqa: ARG002
        """Always 0: there is nothing to play."""
        return 0
