"""Tempo and pitch: Signalsmith Stretch (python-stretch, MIT) applied to stems.

Why the audio is rendered ahead rather than block by block in the callback:
python-stretch 0.3.1's ``process()`` seeks, processes and flushes on every
call, so calling it per block makes a click at every block edge and the pitch
drifts (measured: steps of 0.3–0.7 on a 440 Hz sine against 0.03 clean). One
call over a whole array is clean. So the player renders *runs*: every stem
stretched, from a start point in song time, as one call each.

Runs grow progressively without seams because the stretcher is
deterministic (a fixed seed): rendering ``[start, start + L)`` and later
``[start, start + 2L)`` gives bit-identical output over the shared prefix,
except for the last few blocks the flush touches. So each longer render only
*appends* the frames past the previous one, and the first second is audible
long before the whole run is done. :data:`PAD_S` of extra input keeps the
flush's effect out of the frames that are kept.

Every stem goes through its own stretcher with identical settings, so the
stems stay sample-locked: a run's output has ``ceil(n / tempo)`` frames for
each of them, and song time maps to run time linearly.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from stemtui.core.errors import BadInput

#: Slowest and fastest tempo, as factors of the original.
TEMPO_MIN, TEMPO_MAX = 0.5, 1.5
#: Transpose range in semitones.
SEMITONES_MIN, SEMITONES_MAX = -12, 12
#: Seed for the stretcher: determinism is what makes progressive runs seamless.
SEED = 1
#: Extra input past the kept part of each render, seconds (the flush's reach
#: is about 2.5 of the stretcher's 60 ms latencies; this keeps a margin).
PAD_S = 0.25
#: A run's first render covers this many seconds of *output* (song seconds
#: times the tempo): past the 2 s the mixer wants ready before it switches,
#: small enough to be heard well within a second.
FIRST_OUT_S = 4.0
#: Crossfade at the junction of two successive renders of a run (10 ms at 44.1 kHz).
JOIN_FRAMES = 441


def check_tempo(tempo: float, what: str = "--tempo") -> float:
    """Validate a tempo factor.

    Raises:
        BadInput: Outside 0.5–1.5 (50–150 %), or not a number.
    """
    try:
        t = float(tempo)
    except (TypeError, ValueError):
        raise BadInput(f"{what} {tempo}", "must be a number such as 0.8") from None
    if not math.isfinite(t) or not TEMPO_MIN - 1e-9 <= t <= TEMPO_MAX + 1e-9:
        raise BadInput(f"{what} {tempo}", f"must be between {TEMPO_MIN} and {TEMPO_MAX} (50–150 %)")
    return t


def check_semitones(semitones: float, what: str = "--transpose") -> int:
    """Validate a transpose amount (whole semitones).

    Raises:
        BadInput: Outside −12…+12, or not a whole number.
    """
    try:
        f = float(semitones)
    except (TypeError, ValueError):
        raise BadInput(f"{what} {semitones}", "must be a whole number of semitones") from None
    if not math.isfinite(f) or f != round(f):
        raise BadInput(f"{what} {semitones}", "must be a whole number of semitones")
    if not SEMITONES_MIN <= f <= SEMITONES_MAX:
        raise BadInput(f"{what} {semitones}", f"must be between {SEMITONES_MIN} and +{SEMITONES_MAX}")
    return int(f)


def is_identity(tempo: float, semitones: int) -> bool:
    """Whether the settings leave the audio untouched (no stretching needed)."""
    return abs(tempo - 1.0) < 1e-6 and semitones == 0


def out_frames(in_frames: int, tempo: float) -> int:
    """Frames a render of ``in_frames`` song frames produces at ``tempo``."""
    return math.ceil(in_frames / tempo - 1e-9)


def make_stretcher(sample_rate: int, tempo: float, semitones: int):
    """A configured stereo Signalsmith stretcher (import deferred: it is optional at startup)."""
    from python_stretch.Signalsmith import Stretch

    s = Stretch(SEED)
    s.preset(2, float(sample_rate))
    s.timeFactor = float(tempo)
    if semitones:
        s.setTransposeSemitones(float(semitones))
    return s


def stretch_stem(x: np.ndarray, sample_rate: int, tempo: float, semitones: int, frames_out: int) -> np.ndarray:
    """Stretch one stereo stem in one call.

    Args:
        x: ``(frames, 2)`` audio.
        sample_rate: Its rate.
        tempo: Speed factor (0.5 = half speed).
        semitones: Transpose.
        frames_out: How many output frames to return (zero-padded if the
            stretcher gives fewer).

    Returns:
        ``(frames_out, 2)`` float32.
    """
    st = make_stretcher(sample_rate, tempo, semitones)
    # A writable copy always: python-stretch refuses read-only arrays, and for
    # 0 or 1 frames ``x.T`` is already contiguous, so ascontiguousarray would
    # pass a read-only view of a shared song straight through.
    y = st.process(np.require(x.T, np.float32, ["C", "W", "O"]))
    out = np.zeros((frames_out, 2), dtype=np.float32)
    n = min(frames_out, y.shape[1])
    out[:n] = y[:, :n].T
    return out


class RunRenderer:
    """Renders one run progressively: each call covers twice the song time.

    Each render restarts at the run's start (python-stretch has no streaming
    API), keeps the output up to the covered length and appends the part
    past what earlier renders produced. Restarting from the same point keeps
    tonal material coherent (a sine continues with its phase: no dip, no
    step), but successive renders do not agree sample for sample on noisy
    material, so each junction crossfades over :data:`JOIN_FRAMES` output
    frames *before* the old end, from the earlier render into the new one.
    Those frames are still far ahead of the playhead when the player keeps
    its buffer full.

    The state is two numbers (:attr:`valid`, :attr:`length`), so a fresh
    process can resume a run.

    Args:
        data: The song, ``(stems, frames, 2)``.
        start: Run start, in song frames.
        end: Run end (exclusive), in song frames.
        sample_rate: Song rate.
        tempo: Speed factor.
        semitones: Transpose.
        out: The run's output, ``(stems, out_frames(end - start), 2)``.
        valid: Output frames already rendered (resuming).
        length: Song frames the next render covers (``0``: the first one).
        stems: Which stems to render (default all).
    """

    def __init__(
        self,
        data: np.ndarray,
        start: int,
        end: int,
        sample_rate: int,
        tempo: float,
        semitones: int,
        out: np.ndarray,
        valid: int = 0,
        length: int = 0,
        stems: list[int] | None = None,
    ) -> None:
        self.data, self.start, self.end = data, int(start), int(end)
        #: The stems this renderer writes (several processes can share a run).
        self.stems = list(range(data.shape[0])) if stems is None else list(stems)
        self.sr, self.tempo, self.semitones, self.out = int(sample_rate), float(tempo), int(semitones), out
        #: Output frames final so far.
        self.valid = int(valid)
        #: Song frames the next render covers.
        self.length = int(length) or int(FIRST_OUT_S * self.tempo * sample_rate)
        k = (np.arange(JOIN_FRAMES, dtype=np.float32) + 0.5) / JOIN_FRAMES
        self._fade_in = (np.sin(0.5 * np.pi * k) ** 2)[:, None].astype(np.float32)

    @property
    def done(self) -> bool:
        """Whether the whole run is rendered."""
        return self.valid >= self.out.shape[1]

    def step(self, should_stop: Callable[[], bool] | None = None) -> int:
        """Render once more, twice as far as last time.

        Args:
            should_stop: Polled between stems; ``True`` abandons this render
                (:attr:`valid` is unchanged).

        Returns:
            Output frames valid now.
        """
        total_out = self.out.shape[1]
        if self.valid >= total_out:
            return self.valid
        final = self.start + self.length >= self.end
        pad = 0 if final else int(PAD_S * self.sr)
        in_end = min(self.end, self.start + self.length + pad)
        keep = total_out if final else min(total_out, int(self.length / self.tempo))
        n_out = out_frames(in_end - self.start, self.tempo)
        v = self.valid
        j0 = max(0, v - JOIN_FRAMES)
        f = self._fade_in[JOIN_FRAMES - (v - j0) :]
        for s in self.stems:
            if should_stop is not None and should_stop():
                return self.valid
            y = stretch_stem(self.data[s, self.start : in_end], self.sr, self.tempo, self.semitones, n_out)
            if v > j0:
                old = self.out[s, j0:v]
                y[j0:v] = old * (1.0 - f) + y[j0:v] * f
            self.out[s, j0:keep] = y[j0:keep]
        self.valid = keep
        self.length *= 2
        return keep


def stretch_song_region(
    data: np.ndarray,
    start: int,
    end: int,
    sample_rate: int,
    tempo: float,
    semitones: int,
    on_progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Stretch every stem of ``[start, end)`` in one go (offline export).

    Returns:
        ``(stems, out_frames(end - start), 2)`` float32, sample-locked.
    """
    s_count = data.shape[0]
    n_out = out_frames(end - start, tempo)
    out = np.zeros((s_count, n_out, 2), dtype=np.float32)
    for s in range(s_count):
        out[s] = stretch_stem(data[s, start:end], sample_rate, tempo, semitones, n_out)
        if on_progress is not None:
            on_progress((s + 1) / s_count)
    return out
