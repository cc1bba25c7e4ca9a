"""Synthesized songs with known errors, for the take comparison's tests and benchmark.

A melody comes from a seeded RNG; the reference plays it with an
instrument's timbre (a reed or a plucked string), the take "sings" it:
formant-shaped harmonics, delayed vibrato, pitch jitter, a soft attack and
breath noise. Some take notes are sharp or flat by known cents, some late or
early by known milliseconds; :class:`SynthCase` holds the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SR = 44100


@dataclass(frozen=True)
class TrueNote:
    start: float  # song time (s) of the reference note
    end: float
    midi: int
    cents: float = 0.0  # the take's deviation
    onset_ms: float = 0.0  # the take's onset minus the reference's


@dataclass(frozen=True)
class SynthCase:
    name: str
    sr: int
    ref: np.ndarray  # the reference stem, mono, the whole song
    take: np.ndarray  # the take, mono, its t=0 at take_start_s
    take_start_s: float
    notes: tuple[TrueNote, ...]  # every reference note
    covered: tuple[int, ...] = field(default=())  # indices of the notes the take sings

    def truth(self) -> list[TrueNote]:
        return [self.notes[i] for i in self.covered]


def melody(
    rng: np.random.Generator, seconds: float, low: int, high: int, beat: float
) -> list[tuple[float, float, int]]:
    """``(start, end, midi)`` notes over ``seconds``: steps and small leaps, some rests."""
    notes: list[tuple[float, float, int]] = []
    t, pitch = 0.5, int(rng.integers(low + 3, high - 3))
    while True:
        dur = beat * float(rng.choice([1.0, 1.0, 1.5, 2.0, 1.0, 3.0]))
        if t + dur > seconds - 0.5:
            return notes
        gap = float(rng.uniform(0.03, 0.08))
        notes.append((t, t + dur - gap, pitch))
        t += dur
        if rng.random() < 0.12:
            t += beat * float(rng.choice([1.0, 2.0]))  # a rest
        step = int(rng.choice([-4, -3, -2, -2, -1, 1, 1, 2, 2, 3, 5, 0]))
        pitch = int(np.clip(pitch + step, low, high))


def _envelope(n: int, sr: int, attack_s: float, release_s: float, decay_tau: float | None = None) -> np.ndarray:
    t = np.arange(n) / sr
    env = np.ones(n)
    a = max(1, int(attack_s * sr))
    env[:a] = 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / a) if a < n else env[:a]
    if decay_tau is not None:
        env *= np.exp(-t / decay_tau)
    r = min(n, max(1, int(release_s * sr)))
    env[n - r :] *= np.linspace(1.0, 0.0, r)
    return env


def _harmonics(f0: np.ndarray, sr: int, amp_of: object) -> np.ndarray:
    """Sum of harmonics of the instantaneous ``f0`` (Hz per sample), amplitudes ``amp_of(k, freq)``."""
    phase = 2 * np.pi * np.cumsum(f0) / sr
    out = np.zeros(len(f0))
    top = float(np.max(f0))
    for k in range(1, int(min(7000.0, sr * 0.45) // top) + 1):
        out += amp_of(k, k * top) * np.sin(k * phase)  # type: ignore[operator]
    return out


def render_reference(notes: list[tuple[float, float, int]], seconds: float, timbre: str, sr: int = SR) -> np.ndarray:
    """The reference stem: ``reed`` (odd-heavy, steady) or ``pluck`` (bright, decaying)."""
    y = np.zeros(int(seconds * sr))
    for start, end, midi in notes:
        i0, n = round(start * sr), round((end - start) * sr)
        f0 = np.full(n, 440.0 * 2 ** ((midi - 69) / 12))
        if timbre == "reed":
            wave = _harmonics(f0, sr, lambda k, _f: (1.0 if k % 2 else 0.25) / k)
            env = _envelope(n, sr, 0.008, 0.03)
        else:
            wave = _harmonics(f0, sr, lambda k, _f: 1.0 / k**1.2)
            env = _envelope(n, sr, 0.003, 0.03, decay_tau=0.9)
        y[i0 : i0 + n] += 0.25 * wave * env
    return y.astype(np.float32)


_VOWEL = ((700.0, 130.0, 1.0), (1220.0, 160.0, 0.5), (2600.0, 250.0, 0.25))  # "ah"


def _formants(freq: float) -> float:
    return 0.05 + sum(g / (1.0 + ((freq - fc) / bw) ** 2) for fc, bw, g in _VOWEL)


def render_sung(
    notes: list[tuple[float, float, float]], seconds: float, rng: np.random.Generator, sr: int = SR
) -> np.ndarray:
    """A sung-like line: ``(start, end, midi)`` with fractional midi (the errors are in it)."""
    y = np.zeros(int(seconds * sr))
    for start, end, midi in notes:
        i0, n = round(start * sr), round((end - start) * sr)
        if i0 >= len(y) or n <= 0:
            continue
        n = min(n, len(y) - i0)
        t = np.arange(n) / sr
        rate, depth = rng.uniform(5.0, 6.5), rng.uniform(20.0, 35.0)  # vibrato Hz, cents
        vib = depth * np.clip((t - 0.15) / 0.2, 0.0, 1.0) * np.sin(2 * np.pi * rate * t + rng.uniform(0, 6.3))
        walk = np.cumsum(rng.normal(0.0, 1.0, n // 441 + 2))  # slow jitter, a few cents
        walk = 3.0 * (walk - walk.mean()) / (walk.std() + 1e-9)
        jitter = np.interp(t, np.arange(len(walk)) * 0.01, walk)
        f0 = 440.0 * 2 ** ((midi - 69 + (vib + jitter) / 100) / 12)
        voice = _harmonics(f0, sr, lambda k, f: _formants(f) / k**0.7)
        env = _envelope(n, sr, 0.03, 0.05) * (1 + 0.05 * np.sin(2 * np.pi * 2.3 * t))
        y[i0 : i0 + n] += 0.2 * voice * env
    # Breath noise: band-limited, always there, louder between notes.
    noise = rng.normal(0.0, 1.0, len(y))
    spec = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(len(y), 1 / sr)
    spec *= ((freqs > 1000) & (freqs < 6000)).astype(float)
    breath = np.fft.irfft(spec, len(y))
    breath *= 0.004 / (np.std(breath) + 1e-12)
    return (y + breath).astype(np.float32)


def make_case(
    name: str,
    seed: int,
    seconds: float = 24.0,
    *,
    low: int = 57,
    high: int = 74,
    beat: float = 0.3,
    timbre: str = "reed",
    octave: int = 0,
    take_start_s: float = 1.7,
    cents_errors: tuple[float, ...] = (40.0, -60.0),
    timing_errors_ms: tuple[float, ...] = (60.0, -40.0),
    sr: int = SR,
) -> SynthCase:
    """A song: a seeded melody, its reference, and a take with known errors.

    ``octave`` shifts the whole take by octaves (a singer an octave below
    the reference); the errors fall on distinct notes chosen by the RNG.
    """
    rng = np.random.default_rng(seed)
    notes = melody(rng, seconds, low, high, beat)
    ref = render_reference(notes, seconds, timbre, sr)
    covered = [i for i, (s, e, _) in enumerate(notes) if s >= take_start_s + 0.1 and e < seconds - 0.6]
    picks = rng.choice(covered[1:-1], size=len(cents_errors) + len(timing_errors_ms), replace=False)
    cents = dict(zip(picks[: len(cents_errors)].tolist(), cents_errors, strict=True))
    late = dict(zip(picks[len(cents_errors) :].tolist(), timing_errors_ms, strict=True))
    truth, sung = [], []
    for i, (s, e, m) in enumerate(notes):
        c, d = cents.get(i, 0.0), late.get(i, 0.0)
        truth.append(TrueNote(s, e, m, c, d))
        if i in covered:
            nxt = notes[i + 1][0] + late.get(i + 1, 0.0) / 1000 if i + 1 < len(notes) else seconds
            end = min(e + d / 1000, nxt - 0.03)
            sung.append((s + d / 1000 - take_start_s, end - take_start_s, m + 12 * octave + c / 100))
    take = render_sung(sung, seconds - take_start_s, rng, sr)
    return SynthCase(name, sr, ref, take, take_start_s, tuple(truth), tuple(covered))


def cases() -> list[SynthCase]:
    """The two songs the tests and ``bench compare`` score on."""
    return [
        make_case("reed-alto", seed=11, low=60, high=76, beat=0.32, timbre="reed"),
        make_case(
            "pluck-octave-below",
            seed=29,
            low=55,
            high=69,
            beat=0.27,
            timbre="pluck",
            octave=-1,
            take_start_s=2.3,
            cents_errors=(-35.0, 50.0),
            timing_errors_ms=(45.0, -30.0),
        ),
    ]
