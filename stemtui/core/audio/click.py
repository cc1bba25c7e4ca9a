"""Metronome sounds: the click, clicks laid on a beat grid, and the count-in.

Clicks are never time-stretched: at a playback tempo of 0.75 the same short
click sounds, only placed 1/0.75 times further apart. :func:`render_clicks` is
called block by block from the render thread ahead of playback, so a click
that straddles two blocks is split exactly (rendering in blocks equals
rendering at once).
"""

from __future__ import annotations

import math
import numbers
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from stemtui.core.analysis.beats import BeatGrid

if TYPE_CHECKING:
    from stemtui.core.audio.mixstate import Click
    from stemtui.core.audio.source import Source

#: Click length in seconds: long enough to have a pitch, short enough to be tight.
CLICK_S = 0.035
_PEAK = {True: 0.5, False: 0.4}  # the bar's downbeat is a little louder as well as higher
_PITCH = {True: 1568.0, False: 1046.5}  # G6 over C6: a fifth apart, clear but not shrill
# Woodblock-like modes: (frequency ratio, gain, decay in s). Inharmonic ratios
# and fast-decaying upper modes read as "wood", not "beep".
_MODES = ((1.0, 1.0, 0.010), (2.76, 0.35, 0.004), (5.40, 0.12, 0.002))


@lru_cache(maxsize=8)
def _click(sample_rate: int, accent: bool) -> np.ndarray:
    sr = int(sample_rate)
    n = max(4, round(CLICK_S * sr))
    t = np.arange(n) / sr
    f = _PITCH[accent]
    # Modes above 0.45 * sr would alias at low sample rates; drop them.
    modes = (g * np.exp(-t / tau) * np.sin(2 * np.pi * r * f * t) for r, g, tau in _MODES if r * f < 0.45 * sr)
    y = sum(modes, np.zeros(n))
    # Raised-cosine ends: 1 ms in, 5 ms out, so the click starts and ends at
    # exactly zero and does not add a click of its own.
    a, r = max(2, int(0.001 * sr)), max(2, int(0.005 * sr))
    y[:a] *= 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, a))
    y[n - r :] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, r))
    y *= _PEAK[accent] / np.max(np.abs(y))
    out = np.ascontiguousarray(np.repeat(y[:, None], 2, axis=1), dtype=np.float32)
    out.flags.writeable = False  # shared by every render
    return out


def click_sample(sample_rate: int, accent: bool = False) -> np.ndarray:
    """One click as ``(frames, 2)`` float32 (a fresh copy).

    Args:
        sample_rate: Frames per second.
        accent: The bar-downbeat click: a fifth higher and a little louder.

    Returns:
        :data:`CLICK_S` seconds of audio peaking at 0.5 (accent) or 0.4,
        starting and ending at zero.
    """
    return _click(int(sample_rate), bool(accent)).copy()


def render_clicks(
    out: np.ndarray,
    grid: BeatGrid | None,
    song_start_frame: float,
    rate: float,
    sample_rate: int,
    gain: float = 1.0,
) -> np.ndarray:
    """Fill ``out`` with the clicks of ``grid`` that sound in this block.

    Output frame ``j`` plays song frame ``song_start_frame + j * rate``, so the
    beat at song time ``t`` clicks at output frame
    ``round((t * sample_rate - song_start_frame) / rate)``. A click begun in
    an earlier block is continued here.

    Args:
        out: ``(frames, 2)`` float32 block; overwritten (silence where no click).
        grid: The beat grid, or ``None`` for silence.
        song_start_frame: Song frame (possibly fractional) at ``out[0]``.
        rate: Playback tempo, song frames per output frame (> 0).
        sample_rate: Frames per second of both the song and ``out``.
        gain: Linear gain applied to the clicks.

    Returns:
        ``out``.
    """
    out.fill(0.0)
    if grid is None or gain == 0.0 or out.shape[0] == 0:
        return out
    if not rate > 0.0:
        raise ValueError(f"rate must be positive, got {rate!r}")
    sr, frames = int(sample_rate), out.shape[0]
    clicks = (_click(sr, False), _click(sr, True))
    length = max(c.shape[0] for c in clicks)
    start = float(song_start_frame)
    # Beats whose click (length output frames) overlaps [0, frames).
    beats = grid.beat_range((start - length * rate) / sr, (start + frames * rate) / sr)
    for k in beats:  # a handful per block at most
        pos = math.floor((grid.beat_time(k) * sr - start) / rate + 0.5)
        c = clicks[grid.is_downbeat(k)]
        a, b = max(0, -pos), min(c.shape[0], frames - pos)
        if b > a:
            out[pos + a : pos + b] += c[a:b]
    if gain != 1.0:
        out *= gain
    return out


def count_in(n_beats: int, bpm: float, sample_rate: int, beats_per_bar: int = 4) -> np.ndarray:
    """Clicks to play before the song starts.

    Args:
        n_beats: Number of clicks (0 gives an empty array).
        bpm: Click tempo in output time: the song's BPM times the playback tempo.
        sample_rate: Frames per second.
        beats_per_bar: Every this many clicks, from the first, is accented.

    Returns:
        ``(round(n_beats * 60 / bpm * sample_rate), 2)`` float32 audio with
        click ``k`` starting at frame ``round(k * 60 / bpm * sample_rate)``.
    """
    if isinstance(bpm, bool) or not isinstance(bpm, numbers.Real) or not (math.isfinite(bpm) and bpm > 0):
        raise ValueError(f"bpm must be a positive number, got {bpm!r}")
    if n_beats < 0 or beats_per_bar < 1:
        raise ValueError("n_beats must be >= 0 and beats_per_bar >= 1")
    sr = int(sample_rate)
    spacing = 60.0 / bpm * sr
    out = np.zeros((round(n_beats * spacing), 2), dtype=np.float32)
    for k in range(int(n_beats)):
        pos = round(k * spacing)
        c = _click(sr, k % beats_per_bar == 0)
        n = min(c.shape[0], out.shape[0] - pos)
        out[pos : pos + n] += c[:n]
    return out


def add_clicks(seg: np.ndarray, src: Source, pos: int, click: Click) -> None:
    """Add the metronome's clicks that sound in ``seg`` (song-time beats; the audio thread, allocates nothing)."""
    period, offset, bpb = click.period, click.offset, click.beats_per_bar
    normal, accent = click.normal, click.accent
    n = seg.shape[0]
    length = normal.shape[0]
    rate, start = src.rate, src.start
    # First beat whose click could still be sounding at the segment start.
    first_song = start + (pos - length) * rate
    k = int((first_song - offset) // period)
    while True:
        o = int((offset + k * period - start) / rate + 0.5) - pos
        if o >= n:
            break
        if o + length > 0 and k >= 0:
            sample = accent if k % bpb == 0 else normal
            a = max(0, o)
            b = min(n, o + length)
            np.add(seg[a:b], sample[a - o : b - o], out=seg[a:b])
        k += 1
