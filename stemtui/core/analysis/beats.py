"""Beat grids: a song's tempo and beat phase, estimated from audio or tapped.

A :class:`BeatGrid` is a constant tempo plus the song time of one beat; the
metronome click and the count-in (:mod:`stemtui.core.audio.click`) are drawn from it.

Estimation uses librosa, whose numba code holds the GIL and JIT-compiles on
first use (tens of seconds in a fresh environment). Run in the player's process
that would starve the audio callback thread, so the UI runs it in a child
process (:class:`EstimateJob`, or ``python -m stemtui.core.analysis.beats IN.npy SR``).
librosa is imported lazily: importing this module stays light.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from stemtui.core.errors import StemtuiError

if TYPE_CHECKING:
    from stemtui.core.audio.song import Song

#: Where a grid came from: a drums stem, the full mix, tapping, or typed in.
SOURCES = ("drums", "mix", "tap", "manual")
#: Tempi a grid may have; anything outside is a mistake, not music.
MIN_BPM, MAX_BPM = 20.0, 400.0
#: Estimated tempi are folded (halved/doubled) into this range.
FOLD_LO, FOLD_HI = 60.0, 200.0

_ANALYSIS_SR = 22050
_HOP = 256  # librosa's tempo is quantised by the hop; 256 keeps beat frames ~12 ms apart
_N_FFT = 1024  # shorter than librosa's 2048: sharper onsets, and 140 BPM is not halved
_EPS = 1e-9  # in beats: a time computed as "on a beat" must count as on it
# A beat found this close before 0:00 is moved onto it, so a song starting on
# a downbeat numbers that beat 0 (not -1, which would shift the accents). Kept
# within the estimate's own error (~3 ms) so no real grid moves audibly.
_SNAP_S = 0.005


class BeatEstimateError(StemtuiError):
    """Beat estimation failed (the analysis process crashed or timed out)."""


def _real(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class BeatGrid:
    """A constant-tempo beat grid in song time; invalid fields raise ValueError.

    Beat ``k`` (any integer) falls at ``offset + k * period`` s; beat 0 is the
    first at or after 0:00, and beats with ``k % beats_per_bar == 0`` are bar
    downbeats (the accented click).

    Attributes:
        bpm: Beats per minute in song time, ``MIN_BPM`` to ``MAX_BPM``.
        offset: Song time of beat 0 in seconds; folded into ``[0, period)``.
        beats_per_bar: Beats in a bar (1-16), for the accent.
        source: One of :data:`SOURCES`.
    """

    bpm: float
    offset: float = 0.0
    beats_per_bar: int = 4
    source: str = "manual"

    def __post_init__(self) -> None:
        bpm = _real(self.bpm, "bpm")
        if not MIN_BPM <= bpm <= MAX_BPM:
            raise ValueError(f"bpm must be between {MIN_BPM:g} and {MAX_BPM:g}, got {bpm:g}")
        period = 60.0 / bpm
        offset = _real(self.offset, "offset") % period
        if offset >= period:  # x % p can round up to p for tiny negative x
            offset = 0.0
        bpb = self.beats_per_bar
        if isinstance(bpb, bool) or not isinstance(bpb, numbers.Integral) or not 1 <= bpb <= 16:
            raise ValueError(f"beats_per_bar must be an integer from 1 to 16, got {bpb!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        object.__setattr__(self, "bpm", bpm)
        object.__setattr__(self, "offset", float(offset))
        object.__setattr__(self, "beats_per_bar", int(bpb))

    @property
    def period(self) -> float:
        """Seconds (song time) between beats."""
        return 60.0 / self.bpm

    def beat_time(self, index: int) -> float:
        """Song time of beat ``index``."""
        return self.offset + index * self.period

    def beat_index(self, t: float) -> int:
        """Index of the beat at or before song time ``t`` (negative before beat 0)."""
        return math.floor((t - self.offset) / self.period + _EPS)

    def next_beat(self, t: float) -> float:
        """Song time of the first beat at or after ``t``."""
        return self.beat_time(math.ceil((t - self.offset) / self.period - _EPS))

    def is_downbeat(self, index: int) -> bool:
        """Whether beat ``index`` starts a bar."""
        return index % self.beats_per_bar == 0

    def beat_range(self, start_s: float, end_s: float) -> range:
        """Indices of the beats in ``[start_s, end_s)``."""
        k0 = math.ceil((start_s - self.offset) / self.period - _EPS)
        k1 = math.ceil((end_s - self.offset) / self.period - _EPS)
        return range(k0, max(k0, k1))

    def beat_times(self, start_s: float, end_s: float) -> np.ndarray:
        """Song times (float64 seconds) of the beats in ``[start_s, end_s)``."""
        r = self.beat_range(start_s, end_s)
        return self.offset + np.arange(r.start, r.stop, dtype=np.float64) * self.period

    def to_dict(self) -> dict:
        """A JSON-ready dict; :meth:`from_dict` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> BeatGrid:
        """Rebuild a grid from :meth:`to_dict` output; ValueError if it is not one."""
        if not isinstance(data, dict):
            # ValueError, not TypeError: callers catch one error for any bad state file.
            raise ValueError(f"a beat grid must be a JSON object, got {type(data).__name__}")
        missing = {"bpm", "offset", "source"} - data.keys()
        if missing:
            raise ValueError(f"beat grid lacks {', '.join(sorted(missing))}")
        return cls(data["bpm"], data["offset"], data.get("beats_per_bar", 4), data["source"])


def fold_bpm(bpm: float, lo: float = FOLD_LO, hi: float = FOLD_HI) -> float:
    """Double or halve ``bpm`` until it lies in ``[lo, hi]`` (``hi >= 2 * lo``)."""
    while bpm < lo:
        bpm *= 2.0
    while bpm > hi:
        bpm /= 2.0
    return bpm


def _mono(audio: np.ndarray) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 2:
        a = a[:, 0] if a.shape[1] == 1 else a.mean(axis=1, dtype=np.float32)
    if a.ndim != 1:
        raise ValueError(f"audio must be (frames,) or (frames, channels), got shape {a.shape}")
    return a


def _step_onsets(y: np.ndarray, sr: int, hop: int = 32, win: int = 256) -> tuple[np.ndarray, ...]:
    """Fine onset curves from the energy just after each point and just before.

    librosa's onset envelope is smeared and shifted by its framing (beats came
    out 13-20 ms late on synthetic drums). The rise in energy (after minus
    before) peaks exactly where a hit starts, pinning the phase to a couple of
    ms; its log ratio, which plateaus after silence so cannot place a hit,
    measures how clear the hits are whatever the level.

    Returns:
        ``(times, rise, log_ratio)``; ``rise`` is relative to the mean energy.
    """
    c = np.concatenate(([0.0], np.cumsum(np.square(y, dtype=np.float64))))
    n = np.arange(win, len(y) - win, hop)
    mean = c[-1] / max(1, len(y))
    after, before = (c[n + win] - c[n]) / win, (c[n] - c[n - win]) / win
    eps = 1e-10 + 1e-4 * mean  # ignore steps in near-silence
    rise = np.maximum(after - before, 0.0) / (mean + 1e-20)
    return n / sr, rise, np.maximum(np.log((after + eps) / (before + eps)), 0.0)


def _pulse_clarity(env: np.ndarray, lag: float) -> float:
    """Normalised autocorrelation of the onset envelope at ``lag`` frames."""
    e = env - env.mean()
    spec = np.fft.rfft(e, 2 * len(e))
    ac = np.fft.irfft(spec * spec.conj())[: len(e)]
    # A beat tracked at twice the felt tempo (eighth-note hats) still has its
    # periodicity at two periods, so that counts too.
    lags = np.arange(len(e))
    return float(max(np.interp(lag, lags, ac), np.interp(2 * lag, lags, ac)) / ac[0]) if ac[0] > 0 else 0.0


def estimate_grid(audio: np.ndarray, sample_rate: int, source: str = "drums") -> BeatGrid | None:
    """Estimate the tempo and beat phase of ``(frames,)`` or ``(frames, ch)`` audio.

    librosa's beat tracker gives beat times; a least-squares line through them
    (time against beat number) gives a period far finer than its hop, and a
    comb over a fine onset curve then places the phase. Holds the GIL for
    seconds: from a UI, run it in a child process (:class:`EstimateJob`).

    Returns:
        A grid with ``source`` and its tempo folded into 60-200 BPM; ``None``
        for silence or audio without a clear, steady beat.
    """
    y = _mono(audio)
    if y.size == 0 or float(np.max(np.abs(y))) < 1e-3:
        return None
    import librosa  # lazy: librosa pulls numba and scipy (seconds to import)
    import soxr

    y = soxr.resample(y, int(sample_rate), _ANALYSIS_SR).astype(np.float32)
    sr = _ANALYSIS_SR
    env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=_HOP, n_fft=_N_FFT)
    if env.size < 8 or not np.any(env > 0):
        return None
    _, beats = librosa.beat.beat_track(onset_envelope=env, sr=sr, hop_length=_HOP, units="time")
    if len(beats) < 6:
        return None
    # Number the beats step by step (a skipped beat keeps its slot; rounding
    # against beat 0 instead would drift off by one over a long song), fit,
    # drop beats far off the line, refit.
    steps = np.diff(beats)
    idx = np.concatenate(([0.0], np.cumsum(np.maximum(1.0, np.round(steps / np.median(steps))))))
    keep = np.ones(len(beats), dtype=bool)
    for _ in range(2):
        a = np.stack([np.ones(keep.sum()), idx[keep]], axis=1)
        (t0, period), *_ = np.linalg.lstsq(a, beats[keep], rcond=None)
        resid = beats - (t0 + period * idx)
        keep = np.abs(resid) < 0.15 * period
        if keep.sum() < 6:
            return None
    if np.std(resid[keep]) > 0.1 * period or _pulse_clarity(env, period * sr / _HOP) < 0.2:
        return None
    period = 60.0 / fold_bpm(60.0 / period)
    t, rise, ratio = _step_onsets(y, sr)
    k = np.arange(math.ceil((t[0] - t0) / period), math.floor((t[-1] - t0) / period) + 1)
    span = min(0.05, period / 6)  # stay clear of off-beat hits (half a period away)
    shifts = np.arange(-span, span, 0.0005)
    best = shifts[int(np.argmax([np.interp(t0 + d + k * period, t, rise).sum() for d in shifts]))]
    if len(k) == 0 or np.interp(t0 + best + k * period, t, ratio).mean() < 0.25:
        return None  # no clear energy steps on the beats
    offset = (t0 + best) % period
    if offset > period - _SNAP_S:  # keep 0:00 as beat 0 rather than beat -1
        offset = 0.0
    return BeatGrid(60.0 / period, offset, 4, source)


def grid_audio(song: Song) -> tuple[np.ndarray, str]:
    """``(audio, source)`` to find the beat in: the drums stem, else the mix ("mix").

    The audio is ``(frames, 2)`` float32, up to ``song.available``.
    """
    n = song.available
    for i, name in enumerate(song.names):
        if name.lower() == "drums":
            return song.data[i, :n], "drums"
    return song.data[:, :n].sum(axis=0, dtype=np.float32), "mix"


class TapTempo:
    """Tempo (and phase) from taps on a key; pure, as each tap carries its time.

    Args:
        max_taps: Taps the median interval looks back over.
        reset_after: A gap longer than this (seconds) starts a new run, as
            does one over twice the current interval.
        beats_per_bar: Copied into the grids it returns.
    """

    def __init__(self, max_taps: int = 8, reset_after: float = 2.0, beats_per_bar: int = 4) -> None:
        self.max_taps = max(3, int(max_taps))
        self.reset_after = float(reset_after)
        self.beats_per_bar = beats_per_bar
        self._taps: list[tuple[float, float | None]] = []

    @property
    def count(self) -> int:
        """Taps in the current run."""
        return len(self._taps)

    def reset(self) -> None:
        """Forget all taps."""
        self._taps.clear()

    def _interval(self) -> float | None:
        return float(np.median(np.diff([t for t, _ in self._taps]))) if len(self._taps) > 1 else None

    def tap(self, now: float | None = None, song_time: float | None = None, rate: float = 1.0) -> BeatGrid | None:
        """Register a tap; a ``"tap"`` grid from the run's third tap on, else ``None``.

        Args:
            now: Wall-clock time of the tap (s); ``time.monotonic()`` if omitted.
            song_time: Song position at the tap: the phase puts a beat there
                (a circular mean over the run's taps, averaging out jitter).
            rate: Playback tempo while tapping: taps are in wall time, the
                grid in song time.
        """
        now = time.monotonic() if now is None else float(now)
        if self._taps:
            gap, interval = now - self._taps[-1][0], self._interval()
            if gap <= 0 or gap > self.reset_after or (interval is not None and gap > 2 * interval):
                self._taps.clear()
        self._taps.append((now, song_time))
        del self._taps[: -self.max_taps]
        interval = self._interval()
        if len(self._taps) < 3 or interval is None or interval <= 0:
            return None
        bpm = fold_bpm(60.0 / (interval * rate), MIN_BPM, MAX_BPM)
        period = 60.0 / bpm
        angles = [2 * math.pi * s / period for _, s in self._taps if s is not None]
        mean = math.atan2(sum(map(math.sin, angles)), sum(map(math.cos, angles))) if angles else 0.0
        return BeatGrid(bpm, mean / (2 * math.pi) * period, self.beats_per_bar, "tap")
