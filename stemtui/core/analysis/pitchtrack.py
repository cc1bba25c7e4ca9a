"""Monophonic pitch (f0) of a stem or a take: ``librosa.pyin``, refined to the cent.

pyin decodes its pitch on a grid of bins (here 10 cents), so its values are
quantised; each voiced frame is refined with YIN's parabolically
interpolated period where YIN agrees with pyin (within 60 cents), which
gives sub-cent precision on a steady tone and keeps pyin's octave-robust
decoding where YIN jumps.

Cost is what keeps a 60-s take under 10 s on two cores: the audio is
analysed at :data:`ANALYSIS_SR` with a 10-ms hop, and pyin's range (its
Viterbi runs over every bin pair) is narrowed to the signal's own range,
found by a cheap YIN pass first (:func:`pitch_range`).
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

#: The rate every analysis runs at (Hz).
ANALYSIS_SR = 16000
#: Hop between pitch frames: 10 ms.
HOP = 160
#: Frame length for the range pass: two periods of the lowest pitch allowed (~31 Hz at 16 kHz).
FRAME = 1024
#: The shorter frame (32 ms: less smearing across notes, cheaper) used when the range allows (> 65 Hz).
SHORT_FRAME = 512
#: The widest range a voice or an instrument line is looked for in (Hz).
FMIN_LIMIT, FMAX_LIMIT = 50.0, 1600.0
#: pyin's bin width (semitones): coarse, as YIN refines each voiced frame.
RESOLUTION = 1 / 3


@dataclass(frozen=True)
class PitchTrack:
    """Pitch per frame.

    Attributes:
        hop_s: Time between frames (s); frame ``i`` is centred at ``i * hop_s``.
        midi: Fractional MIDI pitch per frame, NaN where unvoiced.
        voiced_prob: pyin's voicing probability per frame.
    """

    hop_s: float
    midi: np.ndarray
    voiced_prob: np.ndarray

    @property
    def times(self) -> np.ndarray:
        return np.arange(len(self.midi)) * self.hop_s


def to_analysis_rate(y: np.ndarray, sr: int) -> np.ndarray:
    """Mono float32 at :data:`ANALYSIS_SR` (channels averaged)."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=1) if y.shape[1] <= 8 else y.mean(axis=0)
    if sr != ANALYSIS_SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=ANALYSIS_SR, res_type="soxr_hq")
    return np.ascontiguousarray(y, dtype=np.float32)


def pitch_range(y: np.ndarray) -> tuple[float, float] | None:
    """The signal's pitch range (Hz), with a margin; ``None`` if it has no clear pitch.

    A YIN pass over the loud frames (within 30 dB of the loudest), the 3rd
    to 97th percentiles, widened by a major third each way.
    """
    if len(y) < FRAME:
        return None
    f0 = librosa.yin(
        y, fmin=FMIN_LIMIT, fmax=FMAX_LIMIT, sr=ANALYSIS_SR, frame_length=FRAME, hop_length=HOP * 2, center=True
    )
    rms = librosa.feature.rms(y=y, frame_length=FRAME, hop_length=HOP * 2, center=True)[0]
    n = min(len(f0), len(rms))
    f0, rms = f0[:n], rms[:n]
    if not np.any(rms > 0):
        return None
    loud = rms > rms.max() * 10 ** (-30 / 20)
    # YIN reports its search bounds where it found no trough: not pitches.
    sane = loud & (f0 > FMIN_LIMIT * 1.02) & (f0 < FMAX_LIMIT * 0.98)
    if sane.sum() < 5:
        return None
    lo, hi = np.percentile(f0[sane], [3, 97])
    third = 2 ** (4 / 12)
    return max(FMIN_LIMIT, lo / third), min(FMAX_LIMIT, hi * third)


def track_pitch(y: np.ndarray, fmin: float | None = None, fmax: float | None = None) -> PitchTrack:
    """pyin f0 of mono ``y`` at :data:`ANALYSIS_SR`, refined with YIN; unvoiced frames are NaN.

    ``fmin``/``fmax`` default to :func:`pitch_range`'s; a signal without a
    clear pitch gives an all-NaN track.
    """
    n_frames = 1 + len(y) // HOP
    hop_s = HOP / ANALYSIS_SR
    if fmin is None or fmax is None:
        rng = pitch_range(y)
        if rng is None:
            return PitchTrack(hop_s, np.full(n_frames, np.nan), np.zeros(n_frames))
        fmin, fmax = rng
    frame = SHORT_FRAME if fmin >= 2 * ANALYSIS_SR / SHORT_FRAME + 2 else FRAME
    if len(y) < frame:
        y = np.pad(y, (0, frame - len(y)))
    f0, voiced, prob = librosa.pyin(
        y,
        fmin=fmin,
        fmax=fmax,
        sr=ANALYSIS_SR,
        frame_length=frame,
        hop_length=HOP,
        resolution=RESOLUTION,
        center=True,
        fill_na=np.nan,
    )
    fine = librosa.yin(y, fmin=fmin, fmax=fmax, sr=ANALYSIS_SR, frame_length=frame, hop_length=HOP, center=True)
    n = min(len(f0), len(fine))
    f0, voiced, prob, fine = f0[:n], voiced[:n], prob[:n], fine[:n]
    midi = np.full(n, np.nan)
    ok = voiced & np.isfinite(f0) & (f0 > 0)
    midi[ok] = librosa.hz_to_midi(f0[ok])
    fine_midi = np.full(n, np.nan)
    good = np.isfinite(fine) & (fine > 0)
    fine_midi[good] = librosa.hz_to_midi(fine[good])
    agree = ok & good & (np.abs(fine_midi - midi) < 0.6)
    midi[agree] = fine_midi[agree]
    return PitchTrack(hop_s, midi, np.asarray(prob, dtype=np.float64))
