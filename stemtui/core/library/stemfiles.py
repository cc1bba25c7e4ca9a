"""Stem files: 16-bit FLAC written and fsynced, decoded progressively into a song.

Split from :mod:`stemtui.core.library.store` (the entries, manifests and
commits): the store writes its stems and manifests through these helpers and
opens a song with :func:`decode_into` in a background thread; the separation
job writes long stems from blocks (:func:`write_stem_blocks`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from stemtui.core.audio.song import Song
from stemtui.core.library.safeio import SafeSoundFile

if TYPE_CHECKING:
    from stemtui.core.library.store import Entry

STEM_FORMAT = "FLAC"
STEM_SUBTYPE = "PCM_16"
#: Frames decoded per stem before playback can start, then per step after.
FIRST_CHUNK = 1 << 16
CHUNK = 1 << 18


def decode_into(song: Song, entry: Entry) -> None:
    """Decode every stem chunk by chunk, round-robin, publishing as it goes."""
    import soundfile as sf

    files = []
    try:
        files = [sf.SoundFile(str(entry.stem_path(n))) for n in entry.stems]
        pos, step = 0, FIRST_CHUNK
        while pos < song.frames:
            n = min(step, song.frames - pos)
            got = n
            for i, f in enumerate(files):
                # Reading straight into the song's buffer: no extra copy.
                got = min(got, len(f.read(n, dtype="float32", out=song.data[i, pos : pos + n])))
            if got < n:
                raise ValueError(f"stem ended early at {pos + got} of {song.frames} frames")
            pos += n
            song.mark_available(pos)
            step = CHUNK
    except Exception as exc:  # noqa: BLE001 -- any decode failure of a stem found late is a damaged entry: report, don't crash
        song.load_error = f"damaged entry ({exc})"
        song.complete.set()
    finally:
        for f in files:
            f.close()


def write_stem(path: Path, data: np.ndarray, sample_rate: int) -> None:
    """Write one stereo stem as 16-bit FLAC and fsync it; NaN (which libsndfile's FLAC encoder
    fails on) as silence. Raises BadInput/WriteFailed naming ``path`` if the disk refuses."""
    with SafeSoundFile(path, sample_rate, 2, STEM_FORMAT, STEM_SUBTYPE, atomic=False) as f:
        for s in range(0, data.shape[0], CHUNK):
            f.write(np.nan_to_num(np.clip(data[s : s + CHUNK], -1.0, 1.0), copy=False))


def write_stem_blocks(path: Path, blocks: Iterable[np.ndarray], sample_rate: int) -> None:
    """:func:`write_stem` from ``(n, 2)`` blocks, so a long stem is never held whole."""
    with SafeSoundFile(path, sample_rate, 2, STEM_FORMAT, STEM_SUBTYPE, atomic=False) as f:
        for b in blocks:
            f.write(np.nan_to_num(np.clip(b, -1.0, 1.0), copy=False))


def wait_first_audio(song: Song, timeout: float = 5.0) -> float:
    """Block until the first chunk is decoded; returns the seconds waited."""
    t0 = time.perf_counter()
    while song.available == 0 and not song.complete.is_set():
        if time.perf_counter() - t0 > timeout:
            break
        time.sleep(0.001)
    return time.perf_counter() - t0
