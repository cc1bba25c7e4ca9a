"""The song model: named stereo stems at one sample rate and one length.

A :class:`Song` holds every stem in one contiguous ``float32`` array of shape
``(stems, frames, 2)``. One array (rather than a dict of arrays) lets the mixer
mix all stems of a block with a single strided slice, and keeps the stems
sample-locked by construction.

Stems can fill in progressively (a cached song being decoded, or a separation
still running): ``available`` counts the frames, from the start, that hold
real audio. The mixer treats the rest as not-yet-arrived and waits there.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from stemtui.core.errors import BadInput

#: Order in which well-known stems are listed; others follow alphabetically.
STEM_ORDER = ("vocals", "drums", "bass", "other", "guitar", "piano", "chords", "instrumental")


def stem_sort_key(name: str) -> tuple[int, str]:
    """Sort key putting well-known stems first, in a musician's order."""
    try:
        return (STEM_ORDER.index(name), name)
    except ValueError:
        return (len(STEM_ORDER), name)


@dataclass
class SongMeta:
    """Descriptive metadata, stored in the cache manifest.

    Attributes:
        title: Song title, from tags or the file name.
        artist: Artist, possibly empty.
        source: Where the audio came from (a path, ``demo``...).
        model: The separation model, or ``""`` for imported stems.
        options: Separation options that are part of the cache key.
    """

    title: str
    artist: str = ""
    source: str = ""
    model: str = ""
    options: dict = field(default_factory=dict)


def as_stereo(x: np.ndarray) -> np.ndarray:
    """Return ``x`` as a ``(frames, 2)`` float32 array.

    Mono becomes two identical channels; more than two channels are downmixed
    to stereo by averaging the extra channels into both sides.

    Args:
        x: Audio of shape ``(frames,)`` or ``(frames, channels)``.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"audio must be 1-D or 2-D, got shape {x.shape}")
    ch = x.shape[1]
    if ch == 2:
        return np.ascontiguousarray(x)
    if ch == 1:
        return np.ascontiguousarray(np.repeat(x, 2, axis=1))
    # >2 channels: keep front L/R, fold the rest in equally so nothing is lost.
    extra = x[:, 2:].mean(axis=1, keepdims=True)
    return np.ascontiguousarray((x[:, :2] + extra) / 2.0, dtype=np.float32)


class Song:
    """Stems of one song, sample-locked in one array.

    Args:
        names: Stem names, one per row of ``data``.
        data: ``float32`` array of shape ``(len(names), frames, 2)``.
        sample_rate: Frames per second.
        meta: Descriptive metadata.
        song_id: The cache id, or ``""`` for a song not (yet) in the store.
        available: Frames already filled; defaults to all of them.
    """

    def __init__(
        self,
        names: list[str],
        data: np.ndarray,
        sample_rate: int,
        meta: SongMeta,
        song_id: str = "",
        available: int | None = None,
    ) -> None:
        if data.dtype != np.float32 or data.ndim != 3 or data.shape[2] != 2:
            raise ValueError("data must be float32 of shape (stems, frames, 2)")
        if len(names) != data.shape[0]:
            raise ValueError("one name per stem row is required")
        self.names = list(names)
        self.data = data
        self.sample_rate = int(sample_rate)
        self.meta = meta
        self.id = song_id
        # A 1-element array so the audio thread reads it without a lock and the
        # loader thread can grow it in place.
        self._available = np.array([data.shape[1] if available is None else available], dtype=np.int64)
        self.complete = threading.Event()
        #: Set by a background loader that hit a damaged file; ``None`` if fine.
        self.load_error: str | None = None
        #: A file holding ``data`` that other processes can map, or ``None``.
        self.shared_path: str | None = getattr(data, "filename", None)
        #: Display names of rows whose name is an address (``take:1`` -> ``take 1``); see :meth:`label`.
        self.labels: dict[str, str] = {}
        if self._available[0] >= data.shape[1]:
            self.complete.set()

    # -- construction -----------------------------------------------------
    @classmethod
    def from_stems(
        cls,
        stems: dict[str, np.ndarray],
        sample_rate: int,
        meta: SongMeta,
        song_id: str = "",
    ) -> Song:
        """Build a song from per-stem arrays of possibly different lengths.

        Every stem becomes stereo and is zero-padded to the longest one, so
        they stay sample-locked. All stems must already share ``sample_rate``.

        Raises:
            BadInput: If there are no stems or every stem is empty.
        """
        if not stems:
            raise BadInput(meta.source or meta.title, "no stems")
        names = sorted(stems, key=stem_sort_key)
        arrays = [as_stereo(stems[n]) for n in names]
        frames = max(a.shape[0] for a in arrays)
        if frames == 0:
            raise BadInput(meta.source or meta.title, "zero-length audio")
        data = np.zeros((len(names), frames, 2), dtype=np.float32)
        for i, a in enumerate(arrays):
            data[i, : a.shape[0]] = a
        return cls(names, data, sample_rate, meta, song_id)

    @classmethod
    def empty(cls, names: list[str], frames: int, sample_rate: int, meta: SongMeta, song_id: str = "") -> Song:
        """A silent song of known size that a loader fills progressively."""
        from stemtui.core.audio.shm import zeros

        data, path = zeros((len(names), frames, 2))
        song = cls(names, data, sample_rate, meta, song_id, available=0)
        song.shared_path = path
        return song

    # -- progressive fill -------------------------------------------------
    @property
    def available(self) -> int:
        """Frames from the start that already hold real audio."""
        return int(self._available[0])

    @property
    def available_ref(self) -> np.ndarray:
        """The shared 1-element counter the mixer reads without locking."""
        return self._available

    def write(self, start: int, block: np.ndarray) -> None:
        """Fill frames ``[start, start+len)`` of every stem and publish them.

        Args:
            start: First frame; must not leave a gap after ``available``.
            block: ``(stems, n, 2)`` float32 audio.
        """
        n = block.shape[1]
        self.data[:, start : start + n] = block
        self.mark_available(start + n)

    def mark_available(self, upto: int) -> None:
        """Publish that frames ``[0, upto)`` are filled."""
        upto = min(int(upto), self.frames)
        if upto > self._available[0]:
            self._available[0] = upto
        if upto >= self.frames:
            self.complete.set()

    # -- properties -------------------------------------------------------
    @property
    def frames(self) -> int:
        """Length in frames."""
        return self.data.shape[1]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate

    @property
    def title(self) -> str:
        """Song title."""
        return self.meta.title

    def stem(self, name: str) -> np.ndarray:
        """The ``(frames, 2)`` view of one stem.

        Raises:
            BadInput: If no stem has that name.
        """
        return self.data[self.index(name)]

    def index(self, name: str) -> int:
        """Row of the stem called ``name`` (case-insensitive).

        Raises:
            BadInput: If no stem has that name; the message lists the stems.
        """
        low = name.lower()
        for i, n in enumerate(self.names):
            if n.lower() == low:
                return i
        raise BadInput(name, f"no such stem (this song has: {', '.join(self.names)})")

    def label(self, name: str) -> str:
        """What to show for a row: its label (a take's name) or the name itself."""
        return self.labels.get(name, name)

    def resampled(self, sample_rate: int) -> Song:
        """A copy at another sample rate (soxr, high quality), done once at load."""
        if sample_rate == self.sample_rate:
            return self
        import soxr

        rows = [
            soxr.resample(self.data[i], self.sample_rate, sample_rate, quality="HQ").astype(np.float32)
            for i in range(len(self.names))
        ]
        data = np.ascontiguousarray(np.stack(rows))
        song = Song(self.names, data, sample_rate, self.meta, self.id)
        song.labels = dict(self.labels)
        return song

    def __repr__(self) -> str:
        return f"Song({self.title!r}, stems={self.names}, {self.duration:.1f}s @ {self.sample_rate} Hz)"
