"""A synthesized demo song, so a newcomer can practise on first run, offline.

The song ("Night Drive") is 12 bars of Am-F-C-G at 100 BPM plus a final hit
that rings out: about 31 seconds, four stems (drums, bass, chords, vocals).
Everything is built from closed-form oscillators and filtered noise with a
fixed seed, so every call returns byte-identical audio and the cache id
(which includes :data:`DEMO_VERSION`) stays valid.

Each note is rendered into its own slice with vectorised numpy (Python loops
run over notes, never samples); every sound starts and ends at exactly zero
through raised-cosine ramps (no clicks); and different registers, timbres and
pans keep the stems nearly uncorrelated, so muting one is obvious by ear and
by correlation.
"""

from __future__ import annotations

import numpy as np

DEMO_TITLE = "Demo: Night Drive"
DEMO_ARTIST = "stemtui"
DEMO_BPM = 100.0
#: Bump whenever the rendered audio changes; it is part of the cache id.
DEMO_VERSION = 1
DEMO_BARS = 12
DEMO_BEATS_PER_BAR = 4
#: Stem names, in the order :func:`synthesize` builds them.
DEMO_STEMS = ("drums", "bass", "chords", "vocals")

_SEED = 1234
_TAIL_S = 2.0  # the final hit on bar 13's downbeat rings this long
_PROGRESSION = ("Am", "F", "C", "G")
# Pad voicings (MIDI) move by step between chords and stay between G3 and F4:
# above the bass and below most of the melody, so the stems do not mask.
_VOICINGS = {"Am": (57, 60, 64), "F": (57, 60, 65), "C": (55, 60, 64), "G": (55, 59, 62)}
_ROOTS = {"Am": 45, "F": 41, "C": 48, "G": 43}
# Bass figure per bar: (beat, length in beats, interval above the root).
_BASS_FIGURE = ((0, 1.5, 0), (1.5, 0.5, 0), (2, 1, 0), (3, 0.5, 7), (3.5, 0.5, 12))
# Melody phrases: (bar, vowel, ((beat, beats, midi), ...)). The voice enters
# after a two-bar intro and each phrase leaves half a bar or more of silence,
# so muting the vocal is unmistakable.
_PHRASES = (
    (2, "ah", ((0, 1, 64), (1, 1, 67), (2, 1.5, 72), (3.5, 0.5, 71), (4, 2.5, 74))),
    (4, "oh", ((0, 1.5, 72), (1.5, 0.5, 71), (2, 2, 69), (4, 1, 65), (5, 1.5, 69))),
    (6, "ah", ((0, 1, 67), (1, 1, 72), (2, 1, 76), (3, 1, 74), (4, 1, 74), (5, 1.5, 71))),
    (8, "oh", ((0, 1, 76), (1, 1, 72), (2, 2, 69), (4, 1, 72), (5, 1.5, 65))),
    (10, "ah", ((0, 1, 67), (1, 1, 72), (2, 1.5, 71), (3.5, 0.5, 67), (4, 2.5, 74))),
    (12, "ah", ((0, 3, 69),)),
)
# Vowel formants: (centre Hz, gain, bandwidth Hz). Formants are fixed in
# frequency whatever the pitch, which is what makes a buzz sound sung.
_VOWELS = {
    "ah": ((800, 1.0, 140), (1150, 0.6, 160), (2800, 0.3, 300)),
    "oh": ((500, 1.0, 120), (850, 0.6, 140), (2800, 0.2, 300)),
}
# Stem loudness (RMS dBFS over the whole song) before the final headroom trim.
_TARGET_DB = {"drums": -20.0, "bass": -20.0, "chords": -23.0, "vocals": -20.0}
_MIX_PEAK = 0.9


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def _ramp(n: int) -> np.ndarray:
    """Raised-cosine 0 -> 1 over ``n`` samples (exactly 0 first, 1 last)."""
    return 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))


def _fade(x: np.ndarray, sr: int, attack: float, release: float) -> np.ndarray:
    """Ramp ``x`` in and out in place so it starts and ends at zero."""
    n = x.shape[0]
    a, r = min(n, max(2, int(attack * sr))), min(n, max(2, int(release * sr)))
    shape = (-1,) + (1,) * (x.ndim - 1)
    x[:a] *= _ramp(a).reshape(shape)
    x[n - r :] *= _ramp(r)[::-1].reshape(shape)
    return x


def _pan(mono: np.ndarray, pos: float) -> np.ndarray:
    """Equal-power pan, ``pos`` from -1 (left) to 1 (right)."""
    ang = (pos + 1.0) * np.pi / 4.0
    return np.stack([mono * np.cos(ang), mono * np.sin(ang)], axis=1)


def _add(buf: np.ndarray, start: int, sig: np.ndarray) -> None:
    end = min(buf.shape[0], start + sig.shape[0])
    buf[start:end] += sig[: end - start]


def _filter(x: np.ndarray, sr: int, response) -> np.ndarray:
    """Zero-phase FFT filter along axis 0 with magnitude ``response(freqs)``.

    Only short sounds (notes, phrases) are filtered, so a power-of-two FFT is
    cheap; the zero padding keeps the brief ringing from wrapping around.
    """
    n = x.shape[0]
    m = 1 << (n + int(0.05 * sr)).bit_length()
    h = response(np.fft.rfftfreq(m, 1.0 / sr))
    if x.ndim == 2:
        h = h[:, None]
    return np.fft.irfft(np.fft.rfft(x, m, axis=0) * h, m, axis=0)[:n]


def _band(lo: float = 0.0, hi: float = np.inf):
    """Gentle band-pass magnitude response (4th-order-like skirts)."""
    return lambda f: 1.0 / (1.0 + (lo / np.maximum(f, 1.0)) ** 4) / np.sqrt(1.0 + (f / hi) ** 4)


def _saw(dt, phase0: float, n: int = 0) -> np.ndarray:
    """Band-limited (polyBLEP) sawtooth: a naive saw would alias audibly.

    Args:
        dt: Cycles per sample: a scalar (steady pitch, ``n`` samples) or one
            value per sample (gliding pitch).
        phase0: Starting phase in cycles.
        n: Length for a scalar ``dt``.
    """
    if np.ndim(dt) == 0:
        t = (np.arange(n) * dt + phase0) % 1.0  # exact, no cumulative drift
    else:
        t = (np.cumsum(dt) + phase0) % 1.0
    dt = np.broadcast_to(dt, t.shape)
    y = 2.0 * t - 1.0
    lo = t < dt
    x = t[lo] / dt[lo]
    y[lo] -= 2.0 * x - x * x - 1.0
    hi = t > 1.0 - dt
    x = (t[hi] - 1.0) / dt[hi]
    y[hi] -= x * x + 2.0 * x + 1.0
    return y


def _noise(rng: np.random.Generator, sr: int, seconds: float, lo: float, hi: float, ch: int = 1):
    """Band-limited noise: the raw material of snare rattle and cymbals."""
    x = rng.standard_normal((int(seconds * sr), ch))
    return _filter(x, sr, _band(lo, hi))


def _drums(sr: int, n: int, beat: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((n, 2))
    t = np.arange(int(max(0.5, _TAIL_S) * sr)) / sr
    k, s, h, c, ch = (int(x * sr) for x in (0.45, 0.28, 0.35, _TAIL_S - 0.05, 0.09))
    # Kick: a sine falling from ~160 to 48 Hz; the phase is the closed-form
    # integral of that frequency sweep, so there is no cumulative error.
    kick = np.sin(2 * np.pi * (48 * t[:k] + 3.85 * (1 - np.exp(-t[:k] / 0.035)))) * np.exp(-t[:k] / 0.3)
    kick = _pan(_fade(kick, sr, 0.002, 0.03), 0.0)
    ts = t[:s, None]
    body = 0.6 * np.sin(2 * np.pi * 185 * ts) * np.exp(-ts / 0.06)
    body += 0.3 * np.sin(2 * np.pi * 330 * ts) * np.exp(-ts / 0.04)
    rattle = 0.35 * _noise(rng, sr, 0.28, 1200, 9000) * np.exp(-ts / 0.09)
    snare = _pan(_fade(body + rattle, sr, 0.001, 0.03)[:, 0], -0.08)
    # Hats share one noise source; they sit right, away from the snare.
    hat = _noise(rng, sr, 0.35, 7000, 14000)[:, 0]
    closed = _pan(_fade(0.25 * hat[:ch] * np.exp(-t[:ch] / 0.02), sr, 5e-4, 0.02), 0.4)
    opened = _pan(_fade(0.2 * hat * np.exp(-t[:h] / 0.1), sr, 5e-4, 0.05), 0.4)
    # Independent noise per side makes the crash wide, unlike the hats.
    crash = 0.2 * _noise(rng, sr, c / sr, 3500, 11000, ch=2) * np.exp(-t[:c, None] / 0.6)
    crash = _fade(crash, sr, 0.001, 0.3)

    def hit(sound: np.ndarray, beats: float, vel: float) -> None:
        # A few percent of velocity variation keeps the loop from sounding stamped.
        _add(out, round(beats * beat * sr), sound * vel * rng.uniform(0.92, 1.0))

    for bar in range(DEMO_BARS):
        b0 = bar * DEMO_BEATS_PER_BAR
        if bar % 8 == 0:
            hit(crash, b0, 1.0)
        for e in range(8):
            if e == 7 and bar % 2 == 1:
                hit(opened, b0 + 3.5, 1.0)
            else:
                hit(closed, b0 + e / 2, 1.0 if e % 2 == 0 else 0.6)
        for b in (0, 2) + ((2.5,) if bar % 2 else ()):  # syncopated kick every other bar
            hit(kick, b0 + b, 1.0)
        for b in (1, 3):
            hit(snare, b0 + b, 1.0)
        if bar % 4 == 3:  # a small fill leading into the next Am
            hit(snare, b0 + 3.5, 0.4)
            hit(snare, b0 + 3.75, 0.6)
    end = DEMO_BARS * DEMO_BEATS_PER_BAR
    hit(kick, end, 1.0)
    hit(crash, end, 1.0)
    return out


def _bass_note(sr: int, midi: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    w = 2 * np.pi * _hz(midi) * t
    # Upper partials decay faster than the fundamental: a plucked, round tone
    # whose energy stays under ~300 Hz once it settles.
    y = np.sin(w) + 0.3 * np.exp(-t / 0.12) * np.sin(2 * w)
    y += 0.12 * np.exp(-t / 0.06) * np.sin(3 * w)
    y = np.tanh(1.3 * y) * (0.65 + 0.35 * np.exp(-t / 0.2))
    return _fade(y, sr, 0.004, 0.03)


def _bass(sr: int, n: int, beat: float) -> np.ndarray:
    out = np.zeros(n)
    notes: dict[tuple[int, float], np.ndarray] = {}  # the figure repeats: render each note once
    for bar in range(DEMO_BARS):
        root = _ROOTS[_PROGRESSION[bar % 4]]
        for b, length, iv in _BASS_FIGURE:
            # 90% gate: a small gap between notes reads as picked articulation.
            key = (root + iv, 0.9 * length * beat)
            if key not in notes:
                notes[key] = _bass_note(sr, *key)
            _add(out, round((bar * DEMO_BEATS_PER_BAR + b) * beat * sr), notes[key])
    end = round(DEMO_BARS * DEMO_BEATS_PER_BAR * beat * sr)
    _add(out, end, _bass_note(sr, _ROOTS["Am"], _TAIL_S - 0.1))
    return _pan(out, -0.12)


def _pad_chord(sr: int, notes, seconds: float, release: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * sr)
    out = np.zeros((n, 2))
    # Two saws per note, detuned by +/-7 cents and spread left/right: the slow
    # beating between them gives the pad its width and movement.
    for cents, pos in ((-7.0, -0.75), (7.0, 0.55)):
        voice = sum((_saw(_hz(m) * 2.0 ** (cents / 1200.0) / sr, rng.random(), n) for m in notes), np.zeros(n))
        out += _pan(voice, pos)
    # Low-pass so the pad is soft and leaves the 1-3 kHz presence range to the voice.
    out = _filter(out, sr, _band(hi=1400.0)) / len(notes)
    return _fade(out, sr, 0.12, release)


def _chords(sr: int, n: int, beat: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((n, 2))
    bar_s, release = DEMO_BEATS_PER_BAR * beat, 0.4
    # Each bar of a chord sounds the same, so render each chord once and reuse
    # it: four renders instead of twelve. The release overlaps the next
    # chord's attack for a legato crossfade.
    cache = {c: _pad_chord(sr, _VOICINGS[c], bar_s + release, release, rng) for c in _PROGRESSION}
    for bar in range(DEMO_BARS):
        _add(out, round(bar * bar_s * sr), cache[_PROGRESSION[bar % 4]])
    final = _pad_chord(sr, _VOICINGS["Am"], _TAIL_S - 0.05, 1.2, rng)
    _add(out, round(DEMO_BARS * bar_s * sr), final)
    return out


def _smooth(x: np.ndarray, half: int) -> np.ndarray:
    """Centred moving average (edge-padded) via a cumulative sum."""
    padded = np.concatenate([np.full(half, x[0]), x, np.full(half, x[-1])])
    c = np.concatenate([[0.0], np.cumsum(padded)])
    return (c[2 * half + 1 :] - c[: -2 * half - 1]) / (2 * half + 1)


def _vocal_phrase(sr: int, beat: float, notes, vowel: str, rng: np.random.Generator) -> np.ndarray:
    starts = (np.array([b for b, _, _ in notes], dtype=float) - notes[0][0]) * beat
    ends = np.append(starts[1:], (notes[-1][0] + notes[-1][1] - notes[0][0]) * beat)
    n = int(ends[-1] * sr)
    t = np.arange(n) / sr
    idx = np.searchsorted(starts, t, side="right") - 1
    since, until = t - starts[idx], ends[idx] - t
    # Pitch: steps between notes smoothed into ~50 ms glides (portamento), plus
    # a 5.3 Hz vibrato that blooms on held notes and fades before the next one.
    pitch = np.array([m for _, _, m in notes], dtype=float)[idx]
    pitch = _smooth(_smooth(pitch, int(0.025 * sr)), int(0.025 * sr))
    depth = 0.3 * np.clip((since - 0.15) / 0.25, 0, 1) * np.clip(until / 0.1, 0, 1)
    pitch += depth * np.sin(2 * np.pi * 5.3 * t)
    src = _saw(440.0 * 2.0 ** ((pitch - 69.0) / 12.0) / sr, 0.0) + 0.06 * rng.standard_normal(n)
    # A dip around each new note (symmetric, so the envelope stays smooth)
    # reads as a new syllable rather than one held sound changing pitch.
    gap = np.minimum(np.where(idx > 0, since, np.inf), np.where(idx < len(starts) - 1, until, np.inf))
    src *= 1.0 - 0.5 * np.exp(-((gap / 0.035) ** 2))
    src = _fade(src, sr, 0.06, 0.15)
    formants = _VOWELS[vowel]

    def tract(f: np.ndarray) -> np.ndarray:
        h = sum(g * np.exp(-0.5 * ((f - fc) / bw) ** 2) for fc, g, bw in formants)
        return (h + 0.03) * _band(lo=180.0)(f)

    return _fade(_filter(src, sr, tract), sr, 0.005, 0.005)


def _vocals(sr: int, n: int, beat: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    for bar, vowel, notes in _PHRASES:
        start = round((bar * DEMO_BEATS_PER_BAR + notes[0][0]) * beat * sr)
        _add(out, start, _vocal_phrase(sr, beat, notes, vowel, rng))
    return _pan(out, 0.12)


def synthesize(sample_rate: int = 44100) -> dict[str, np.ndarray]:
    """Render the demo song's stems, byte-identical on every call.

    Args:
        sample_rate: Frames per second of the returned audio.

    Returns:
        ``{"drums", "bass", "chords", "vocals"}`` mapped to ``float32`` arrays
        of shape ``(frames, 2)``, all the same length (about 31 s). Their sum
        peaks below 0.95.
    """
    sr = int(sample_rate)
    if sr < 8000:
        raise ValueError(f"sample_rate must be at least 8000, got {sample_rate}")
    rng = np.random.default_rng(_SEED)
    beat = 60.0 / DEMO_BPM
    n = round((DEMO_BARS * DEMO_BEATS_PER_BAR * beat + _TAIL_S) * sr)
    # Fixed render order: each stem draws from the one generator in turn.
    stems = {
        "drums": _drums(sr, n, beat, rng),
        "bass": _bass(sr, n, beat),
        "chords": _chords(sr, n, beat, rng),
        "vocals": _vocals(sr, n, beat, rng),
    }
    for name, x in stems.items():
        rms = np.sqrt(np.mean(x * x))
        x *= 10.0 ** (_TARGET_DB[name] / 20.0) / rms
    # One trim for all stems keeps their balance while leaving mix headroom.
    peak = np.max(np.abs(sum(stems.values())))
    trim = min(1.0, _MIX_PEAK / peak)
    return {name: (x * trim).astype(np.float32) for name, x in stems.items()}
