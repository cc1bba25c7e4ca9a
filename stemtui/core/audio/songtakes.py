"""Extra tracks in a song: takes (or any audio) placed at a song time, mixed like stems.

:func:`with_tracks` returns a new :class:`~stemtui.core.audio.song.Song` with
one row per track appended after the song's stems: each track becomes
stereo, starts at its song frame (zero before it), and is cut at the song's
end. The mixer, the export and the tempo code see ordinary rows, so mute,
solo and volume act on them by name (``take:1``).

A song still filling in (decoding, or being separated) stays progressive: a
thread copies its stems into the new song as they arrive, and the new
song's ``available``, ``complete`` and ``load_error`` follow the old one's.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from stemtui.core.audio.song import Song, as_stereo

#: Seconds between looks at a song still filling in.
FOLLOW_POLL_S = 0.01


def place(row: np.ndarray, audio: np.ndarray, start: int) -> None:
    """Write ``audio`` into ``row`` (``(frames, 2)``) from frame ``start``, cut to fit (a negative start: its head)."""
    x = as_stereo(audio)
    skip = max(0, -int(start))
    start = max(0, int(start))
    n = max(0, min(x.shape[0] - skip, row.shape[0] - start))
    if n:
        row[start : start + n] = x[skip : skip + n]


def with_tracks(song: Song, tracks: list[tuple[str, np.ndarray, int]], labels: dict[str, str] | None = None) -> Song:
    """The song with ``tracks`` appended as rows: ``(name, audio (frames[, ch]), start_frame)``.

    Args:
        song: The song (complete or still filling in); it is not changed.
        tracks: Names must be new (not a stem's name, case-insensitive) and distinct.
        labels: Display names of the new rows (:meth:`Song.label`).

    Returns:
        ``song`` itself when there are no tracks, else a new song of the same
        length, rate, metadata and id.

    Raises:
        ValueError: A name that is already taken.
    """
    if not tracks:
        return song
    names = [n for n, _, _ in tracks]
    taken = {n.lower() for n in song.names}
    for n in names:
        if n.lower() in taken:
            raise ValueError(f"track name {n!r} is already taken")
        taken.add(n.lower())
    out = Song.empty(song.names + names, song.frames, song.sample_rate, song.meta, song.id)
    out.labels = {**song.labels, **(labels or {})}
    k = len(song.names)
    for i, (_, audio, start) in enumerate(tracks):
        place(out.data[k + i], audio, start)
    if song.complete.is_set() and song.available >= song.frames:
        out.data[:k] = song.data
        out.load_error = song.load_error
        out.mark_available(song.frames)
    else:
        threading.Thread(target=_follow, args=(song, out), name="stemtui-song-tracks", daemon=True).start()
    return out


def _follow(song: Song, out: Song) -> None:
    """Copy the stems of ``song`` into ``out`` as they fill in, publishing as it goes."""
    k, done = len(song.names), 0
    while True:
        complete = song.complete.is_set()  # read before available: nothing after it is missed
        avail = song.available
        if avail > done:
            out.data[:k, done:avail] = song.data[:, done:avail]
            done = avail
            out.mark_available(done)
        if complete:
            if song.load_error is not None or done < song.frames:
                out.load_error = song.load_error or "the song stopped filling in"
                out.complete.set()
            return
        time.sleep(FOLLOW_POLL_S)
