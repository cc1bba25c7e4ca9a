"""Onsets from the audio, and the reference's notes from onsets plus stable pitch.

Onsets come from librosa's spectral-flux onset strength on a 4-ms hop, with
SuperFlux's vibrato suppression (a maximum filter across frequency), so a
sung vibrato does not read as new notes. A note is a voiced stretch after
an onset; a voiced stretch that starts well after any onset (a missed soft
onset) or a stable pitch change without an onset starts a note of its own.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import librosa
import numpy as np

from stemtui.core.analysis.pitchtrack import ANALYSIS_SR, PitchTrack

#: Onset-strength hop: 4 ms at 16 kHz.
ONSET_HOP = 64
#: A note is at least this long (s).
MIN_NOTE_S = 0.06
#: Unvoiced gaps shorter than this do not end a note (s).
MAX_GAP_S = 0.04
#: A voiced stretch starting within this of an onset starts at the onset (s).
ONSET_SNAP_S = 0.08
#: A pitch change of this many semitones, held for :data:`MIN_NOTE_S`, splits a note.
SPLIT_SEMITONES = 0.75
#: An onset is where the level has climbed this fraction of the way from the floor to the attack's peak.
RISE = 0.05
#: An onset's level rises at least this much (peak over the floor before it: 3.5 dB).
MIN_RISE = 1.5
#: The level used to place an onset: a 1-ms hop, a 6-ms frame.
FINE_HOP, FINE_FRAME = 16, 96


@dataclass(frozen=True)
class Note:
    """A reference note: ``start``/``end`` in the analysed signal's time (s), ``midi`` its median pitch."""

    start: float
    end: float
    midi: float
    onset: bool  # whether an audio onset starts it


def onset_envelope(y: np.ndarray) -> np.ndarray:
    """Onset strength per :data:`ONSET_HOP` of mono ``y`` at :data:`ANALYSIS_SR`."""
    return librosa.onset.onset_strength(
        y=y, sr=ANALYSIS_SR, hop_length=ONSET_HOP, n_fft=1024, n_mels=80, lag=2, max_size=3, fmax=8000
    )


def detect_onsets(y: np.ndarray) -> np.ndarray:
    """Onset times (s) in mono ``y`` at :data:`ANALYSIS_SR`, backtracked to where the rise begins."""
    if len(y) < 2048 or not np.any(y):
        return np.zeros(0)
    env = onset_envelope(y)
    frames = librosa.onset.onset_detect(
        onset_envelope=env,
        sr=ANALYSIS_SR,
        hop_length=ONSET_HOP,
        backtrack=False,
        units="frames",
        pre_max=12,
        post_max=12,
        pre_avg=25,
        post_avg=25,
        delta=0.06,
        wait=12,
    )
    # The level on a 1-ms hop, for the refinement.
    rms = librosa.feature.rms(y=y, frame_length=FINE_FRAME, hop_length=FINE_HOP, center=True)[0]
    k = ONSET_HOP // FINE_HOP
    found = [_refine(rms, int(f) * k) for f in frames]
    # A flux peak without a rise in level (vibrato, a formant moving) is no onset.
    return np.asarray([t for t, rise in found if rise >= MIN_RISE]) * FINE_HOP / ANALYSIS_SR


def _refine(rms: np.ndarray, frame: int) -> tuple[float, float]:
    """The onset at ``frame`` moved to where the level starts to rise towards its peak, and the rise (ratio).

    The level's minimum in the 60 ms before it, then the first frame that
    climbs :data:`RISE` of the way from there to the peak in the 60 ms after: the
    same rule for a plucked attack and a sung one, so their difference is
    the timing, not the timbres'.
    """
    span = int(0.06 * ANALYSIS_SR / FINE_HOP)
    lo = max(0, frame - span)
    hi = min(len(rms), frame + span)
    if hi - lo < 3:
        return float(frame), 1.0
    low_i = lo + int(np.argmin(rms[lo : frame + 1]))
    peak_i = frame + int(np.argmax(rms[frame:hi]))
    low, peak = float(rms[low_i]), float(rms[peak_i])
    if peak <= low:
        return float(frame), 1.0
    rise = peak / low if low > 0 else np.inf
    level = low + RISE * (peak - low)
    above = np.nonzero(rms[low_i : peak_i + 1] >= level)[0]
    i = low_i + int(above[0]) if len(above) else frame
    # Sub-frame: interpolate the crossing between frames i-1 and i.
    if i > low_i and rms[i] > rms[i - 1]:
        return (i - 1) + (level - float(rms[i - 1])) / (float(rms[i]) - float(rms[i - 1])), rise
    return float(i), rise


def _voiced_runs(voiced: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """``[start, end)`` frame runs of ``voiced``, bridging gaps up to ``max_gap`` frames."""
    idx = np.nonzero(voiced)[0]
    if len(idx) == 0:
        return []
    runs = []
    start = prev = int(idx[0])
    for i in idx[1:]:
        if i - prev > max_gap + 1:
            runs.append((start, prev + 1))
            start = int(i)
        prev = int(i)
    runs.append((start, prev + 1))
    return runs


def _split_on_pitch(midi: np.ndarray, a: int, b: int, min_len: int) -> list[tuple[int, int]]:
    """Split frames ``[a, b)`` where the (median-smoothed) pitch moves and stays moved."""
    seg = midi[a:b]
    if b - a < 2 * min_len:
        return [(a, b)]
    filled = seg.copy()
    bad = ~np.isfinite(filled)
    if bad.all():
        return [(a, b)]
    filled[bad] = np.interp(np.nonzero(bad)[0], np.nonzero(~bad)[0], filled[~bad])
    k = min_len | 1
    pad = np.pad(filled, k // 2, mode="edge")
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(pad, k), axis=1)
    cuts, level, i = [a], float(np.median(smooth[:min_len])), min_len
    while i < len(smooth) - min_len:
        ahead = float(np.median(smooth[i : i + min_len]))
        if abs(smooth[i] - level) > SPLIT_SEMITONES and abs(ahead - level) > SPLIT_SEMITONES:
            cuts.append(a + i)
            level, i = ahead, i + min_len
        else:
            i += 1
    cuts.append(b)
    return list(itertools.pairwise(cuts))


def note_pitch(midi: np.ndarray) -> float:
    """A note's pitch: the median of its steady part (the first fifth and last tenth left out)."""
    good = midi[np.isfinite(midi)]
    if len(good) == 0:
        return float("nan")
    a, b = int(len(good) * 0.2), max(int(len(good) * 0.9), int(len(good) * 0.2) + 1)
    return float(np.median(good[a:b]))


def segment_notes(track: PitchTrack, onsets: np.ndarray) -> list[Note]:
    """The notes of a monophonic line: its audio ``onsets`` (s) and its ``track``."""
    hop = track.hop_s
    voiced = np.isfinite(track.midi)
    min_len = max(2, round(MIN_NOTE_S / hop))
    onsets = np.sort(np.asarray(onsets, dtype=float))
    # Each onset cuts the voiced stretches; each cut piece is a candidate note.
    bounds = sorted({round(o / hop) for o in onsets})
    pieces: list[tuple[int, int]] = []
    for a, b in _voiced_runs(voiced, round(MAX_GAP_S / hop)):
        cuts = [c for c in bounds if a < c < b]
        edges = [a, *cuts, b]
        for s, e in itertools.pairwise(edges):
            pieces.extend(_split_on_pitch(track.midi, s, e, min_len))
    notes = []
    for s, e in pieces:
        if e - s < min_len or np.isfinite(track.midi[s:e]).sum() < min_len:
            continue
        start_t, end_t = s * hop, e * hop
        near = onsets[(onsets >= start_t - ONSET_SNAP_S) & (onsets <= start_t + ONSET_SNAP_S)]
        has_onset = len(near) > 0
        if has_onset:
            start_t = float(near[np.argmin(np.abs(near - start_t))])
        notes.append(Note(start_t, end_t, note_pitch(track.midi[s:e]), has_onset))
    return notes


def transcribe(y: np.ndarray) -> list[Note]:
    """The notes of mono ``y`` at :data:`ANALYSIS_SR`: :func:`segment_notes` of its pitch and onsets."""
    from stemtui.core.analysis.pitchtrack import track_pitch

    return segment_notes(track_pitch(y), detect_onsets(y))
