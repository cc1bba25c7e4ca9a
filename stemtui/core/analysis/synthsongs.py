"""Synthesized multitrack songs with known ground truth, for the song map's tests and benchmark.

Each song is drawn from a :class:`SongSpec` (key, tempo, form, a timbre per
section label, a seed) into four stems at 44.1 kHz, ``(frames, 2)`` float32,
named as Demucs names them (``vocals``, ``drums``, ``bass``, ``other``), and a
:class:`Truth`: the key (``D:maj``), the tempo, chord intervals with Harte
labels, section intervals with their letters and every bass note as
``(onset, offset, midi)``.

What makes them a fair test and not a toy:

- diatonic progressions drawn per section label (never the same for two
  labels), one or two chords a bar;
- pads, plucked arpeggios and distorted chugs, chosen per section label;
- drum patterns that change at section boundaries, sometimes with a fill;
- a bass with passing notes (chromatic and diatonic approach notes, fifths,
  octaves, repeated eighths);
- a vibrato lead ("vocals") in some sections.

numpy only: wavetable voices and one-shot drums added in place, about a
second for a minute of music. Everything is seeded: one spec, one song.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SR = 44100
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
STEMS = ("vocals", "drums", "bass", "other")

#: Scale degree -> (semitones above the tonic, quality), per mode.
_DEGREES = {
    "maj": {"I": (0, "maj"), "ii": (2, "min"), "iii": (4, "min"), "IV": (5, "maj"), "V": (7, "maj"), "vi": (9, "min")},
    "min": {
        "i": (0, "min"),
        "III": (3, "maj"),
        "iv": (5, "min"),
        "v": (7, "min"),
        "V": (7, "maj"),
        "VI": (8, "maj"),
        "VII": (10, "maj"),
    },
}
_PROGRESSIONS = {
    "maj": (
        ("I", "V", "vi", "IV"),
        ("vi", "IV", "I", "V"),
        ("I", "IV", "V", "IV"),
        ("ii", "V", "I", "vi"),
        ("IV", "I", "V", "vi"),
        ("I", "iii", "IV", "V"),
        ("IV", "V", "iii", "vi"),
        ("I", "vi", "ii", "V"),
    ),
    "min": (
        ("i", "VI", "III", "VII"),
        ("i", "iv", "V", "i"),
        ("VI", "VII", "i", "i"),
        ("i", "VII", "VI", "V"),
        ("iv", "i", "v", "VI"),
        ("III", "VII", "iv", "V"),
        ("i", "III", "iv", "VI"),
    ),
}
_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)


@dataclass(frozen=True)
class SongSpec:
    """What to synthesize.

    Attributes:
        name: A short id.
        tonic: Pitch class of the key's tonic (0 = C).
        mode: ``"maj"`` or ``"min"``.
        bpm: Tempo; every bar is 4 beats.
        form: Section letters in order (``"ABABCAB"``); no letter twice in a row.
        bars: Bars per section letter.
        timbres: ``pad``, ``pluck`` or ``dist`` per section letter.
        lead: Section letters with the vibrato lead.
        split: Section letters with two chords a bar instead of one.
        seed: The seed of every random choice.
        lead_in: Silence before the first beat (s).
    """

    name: str
    tonic: int
    mode: str
    bpm: float
    form: str
    bars: dict[str, int]
    timbres: dict[str, str]
    lead: str = "B"
    split: str = ""
    seed: int = 0
    lead_in: float = 0.2

    @property
    def key(self) -> str:
        return f"{PITCH_NAMES[self.tonic]}:{self.mode}"


@dataclass(frozen=True)
class Truth:
    """The ground truth of a synthesized song (times in seconds)."""

    key: str
    bpm: float
    duration: float
    beat0: float
    chords: list[tuple[float, float, str]] = field(default_factory=list)
    sections: list[tuple[float, float, str]] = field(default_factory=list)
    bass_notes: list[tuple[float, float, int]] = field(default_factory=list)


@dataclass(frozen=True)
class SynthSong:
    """A synthesized song: its spec, stems (``(frames, 2)`` float32 at :data:`SR`) and truth."""

    spec: SongSpec
    stems: dict[str, np.ndarray]
    truth: Truth
    sr: int = SR


# -- voices ---------------------------------------------------------------------------
_TABLE = 4096


def _table(amps: np.ndarray) -> np.ndarray:
    ph = np.arange(_TABLE) / _TABLE
    k = np.arange(1, len(amps) + 1)
    return (np.asarray(amps)[:, None] * np.sin(2 * np.pi * k[:, None] * ph[None, :])).sum(axis=0).astype(np.float32)


_K = np.arange(1, 17, dtype=np.float64)
_TABLES = {
    "bright": _table(1.0 / _K),
    "dull": _table(np.where(_K <= 4, 1.0 / _K**2, 0.0)),
    "bass": _table(np.where(_K <= 8, 1.0 / _K**1.6, 0.0)),
    "sine": _table(np.array([1.0, 0.25, 0.1])),
}


def _osc(freq: float, n: int, table: str, vibrato: float = 0.0) -> np.ndarray:
    t = np.arange(n) / SR
    phase = freq * t
    if vibrato:
        phase += vibrato * freq / (2 * np.pi * 5.5) * np.sin(2 * np.pi * 5.5 * t) / 100.0
    idx = ((phase % 1.0) * _TABLE).astype(np.int64) & (_TABLE - 1)
    return _TABLES[table][idx]


def _env(n: int, attack: float, decay: float | None, release: float = 0.03) -> np.ndarray:
    """Linear attack, exponential decay (time constant ``decay`` s, ``None`` = sustain), linear release."""
    t = np.arange(n) / SR
    e = np.minimum(1.0, t / max(attack, 1e-4))
    if decay is not None:
        e *= np.exp(-t / decay)
    r = min(n, int(release * SR))
    if r > 0:
        e[n - r :] *= np.linspace(1.0, 0.0, r)
    return e.astype(np.float32)


def _add(buf: np.ndarray, start: float, sig: np.ndarray) -> None:
    i = round(start * SR)
    j = min(len(buf), i + len(sig))
    if j > i >= 0:
        buf[i:j] += sig[: j - i]


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def _note(buf: np.ndarray, start: float, dur: float, midi: float, table: str, gain: float, **env: float | None) -> None:
    n = max(1, int(dur * SR))
    _add(buf, start, gain * _osc(_hz(midi), n, table) * _env(n, **env))  # type: ignore[arg-type]


def _chord_notes(root_pc: int, quality: str) -> list[int]:
    """A close triad voiced between G3 and G4-ish (MIDI)."""
    third = 3 if quality == "min" else 4
    root = 55 + (root_pc - 55) % 12  # G3..F#4
    return [root, root + third, root + 7] if root < 62 else [root - 12 + 7, root, root + third]


def _chords_part(buf: np.ndarray, t0: float, dur: float, notes: list[int], timbre: str, beat: float) -> None:
    if timbre == "pad":
        for m in notes:
            _note(buf, t0, dur, m, "dull", 0.12, attack=0.08, decay=None, release=0.08)
            _note(buf, t0, dur, m + 12, "sine", 0.04, attack=0.1, decay=None, release=0.08)
    elif timbre == "pluck":  # arpeggiated eighths, each left ringing a little
        seq = [*notes, notes[1] + 12, *notes[::-1]]
        for k in range(round(dur / (beat / 2))):
            m = seq[k % len(seq)]
            t = t0 + k * beat / 2
            _note(buf, t, min(beat * 1.5, t0 + dur - t), m, "bright", 0.22, attack=0.003, decay=0.25, release=0.02)
            _note(buf, t, min(beat * 1.5, t0 + dur - t), m, "dull", 0.12, attack=0.003, decay=0.6, release=0.02)
    else:  # "dist": chugged eighths through a soft clipper
        n = int(dur * SR)
        x = np.zeros(n, dtype=np.float32)
        for m in notes:
            x += _osc(_hz(m), n, "bright") + 0.5 * _osc(_hz(m - 12), n, "bright")
        gate = np.ones(n, dtype=np.float32)
        step = int(beat / 2 * SR)
        for k in range(0, n, step):
            gate[k : k + step] = _env(min(step, n - k), attack=0.004, decay=0.18, release=0.02) * 0.8 + 0.2
        _add(buf, t0, 0.12 * np.tanh(2.5 * x) * gate)


def _drum_hits(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = np.arange(int(0.35 * SR)) / SR
    kick = np.sin(2 * np.pi * (45 * t + 60 * (1 - np.exp(-t / 0.03)) * 0.03)) * np.exp(-t / 0.12)
    noise = rng.standard_normal(len(t))
    snare = (0.6 * noise + 0.5 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t / 0.07)
    hat = np.diff(noise, prepend=0.0) * np.exp(-t / 0.02) * 0.3
    ohat = np.diff(noise, prepend=0.0) * np.exp(-t / 0.12) * 0.25
    return {k: v.astype(np.float32) for k, v in {"k": kick, "s": snare, "h": hat, "o": ohat}.items()}


#: 16-step bar patterns: instrument -> steps with a hit.
_PATTERNS = (
    {"k": (0, 8), "s": (4, 12), "h": (0, 2, 4, 6, 8, 10, 12, 14)},
    {"k": (0, 6, 8, 11), "s": (4, 12), "h": tuple(range(16))},
    {"k": (0, 4, 8, 12), "s": (4, 12), "o": (2, 6, 10, 14), "h": (0, 4, 8, 12)},
    {"k": (0, 10), "s": (8,), "h": (0, 4, 8, 12)},
    {"k": (0, 3, 8, 10), "s": (4, 12, 15), "h": (0, 2, 3, 4, 6, 8, 10, 11, 12, 14)},
)


# -- the song ---------------------------------------------------------------------------
def render(spec: SongSpec) -> SynthSong:
    """Draw the stems and the truth of ``spec``."""
    rng = np.random.default_rng(spec.seed)
    beat = 60.0 / spec.bpm
    bar = 4 * beat
    labels = sorted(set(spec.form))
    progs = rng.permutation(len(_PROGRESSIONS[spec.mode]))
    prog = {lab: _PROGRESSIONS[spec.mode][progs[i]] for i, lab in enumerate(labels)}
    pats = rng.permutation(len(_PATTERNS))
    pattern = {lab: _PATTERNS[pats[i % len(_PATTERNS)]] for i, lab in enumerate(labels)}
    bass_style = {lab: int(rng.integers(3)) for lab in labels}
    # How much of its slot each bass note holds: detached, or legato (re-plucked).
    bass_hold = {lab: float(rng.choice([0.8, 0.9, 1.0])) for lab in labels}
    total_bars = sum(spec.bars[c] for c in spec.form)
    duration = spec.lead_in + total_bars * bar + 1.5
    n = int(duration * SR)
    bufs = {s: np.zeros(n, dtype=np.float32) for s in STEMS}
    hits = _drum_hits(rng)
    degrees = _DEGREES[spec.mode]
    scale = _MAJOR_SCALE if spec.mode == "maj" else _MINOR_SCALE

    # The chord plan: (start, end, root_pc, quality) on the beat grid.
    plan: list[tuple[float, float, int, str, str]] = []  # + section label
    sections: list[tuple[float, float, str]] = []
    t = spec.lead_in
    for sec_i, lab in enumerate(spec.form):
        sec_start = t
        per_bar = 2 if lab in spec.split else 1
        seq = prog[lab]
        for b in range(spec.bars[lab]):
            for h in range(per_bar):
                deg = seq[(b * per_bar + h) % len(seq)]
                off, q = degrees[deg]
                plan.append((t + h * bar / per_bar, t + (h + 1) * bar / per_bar, (spec.tonic + off) % 12, q, lab))
            # drums
            pat = pattern[lab]
            fill = b == spec.bars[lab] - 1 and sec_i < len(spec.form) - 1 and rng.random() < 0.5
            for inst, steps in pat.items():
                for s in steps:
                    if fill and s >= 8 and inst in "sk":
                        continue
                    _add(bufs["drums"], t + s * beat / 4, hits[inst] * (0.9 if inst != "h" else 1.0))
            if fill:
                for s in range(8, 16, 2 if rng.random() < 0.5 else 1):
                    _add(bufs["drums"], t + s * beat / 4, hits["s"] * (0.5 + 0.03 * s))
            t += bar
        sections.append((0.0 if sec_i == 0 else sec_start, t, lab))
    sections[-1] = (sections[-1][0], duration, sections[-1][2])

    bass_notes: list[tuple[float, float, int]] = []
    for i, (c0, c1, root, q, lab) in enumerate(plan):
        notes = _chord_notes(root, q)
        _chords_part(bufs["other"], c0, c1 - c0, notes, spec.timbres[lab], beat)
        broot = 28 + (root - 28) % 12  # E1..Eb2
        nxt = plan[i + 1][2] if i + 1 < len(plan) else root
        nroot = 28 + (nxt - 28) % 12
        fifth = broot + 7
        n_beats = round((c1 - c0) / beat)
        style = bass_style[lab]
        line: list[tuple[float, float, int]] = []  # (beat offset, length in beats, midi)
        if style == 0:  # quarters, a chromatic approach on the last one
            line = [(k, 1.0, broot) for k in range(n_beats)]
            if nroot != broot:
                line[-1] = (n_beats - 1, 1.0, nroot + (1 if rng.random() < 0.5 else -1))
        elif style == 1:  # root eighths, fifth, then a diatonic step toward the next root
            line = [(k * 0.5, 0.5, broot) for k in range(n_beats * 2)]
            if n_beats >= 2:
                line[2] = (1.0, 0.5, fifth)
            if nroot != broot:  # a scale step below the next root, else a semitone
                below = nroot - 2 if (nroot - 2 - spec.tonic) % 12 in scale else nroot - 1
                line[-1] = (n_beats - 0.5, 0.5, below)
        else:  # root - fifth - octave - fifth
            shape = [broot, fifth, broot + 12, fifth]
            line = [(k, 1.0, shape[k % 4]) for k in range(n_beats)]
        for at, length, m in line:
            s0 = c0 + at * beat
            s1 = s0 + length * beat * bass_hold[lab]
            vel = 0.5 * float(rng.uniform(0.6, 1.0))
            _note(bufs["bass"], s0, s1 - s0, m, "bass", vel, attack=0.004, decay=0.5, release=0.01)
            bass_notes.append((round(s0, 6), round(s1, 6), int(m)))
        if lab in spec.lead:
            tones = sorted({x % 12 for x in notes})
            for k in range(0, n_beats, 2):
                m = 69 + (rng.choice(tones) - 69) % 12
                _add(
                    bufs["vocals"],
                    c0 + k * beat,
                    0.15
                    * _osc(_hz(m), int(2 * beat * SR * 0.95), "sine", vibrato=30.0)
                    * _env(int(2 * beat * SR * 0.95), 0.05, None, 0.1),
                )

    chords = [(0.0, spec.lead_in, "N")] if spec.lead_in > 0 else []
    for c0, c1, root, q, _ in plan:
        label = f"{PITCH_NAMES[root]}:{q}"
        if chords and chords[-1][2] == label and abs(chords[-1][1] - c0) < 1e-6:
            chords[-1] = (chords[-1][0], c1, label)
        else:
            chords.append((c0, c1, label))
    chords.append((chords[-1][1], duration, "N"))

    stems = {}
    for i, (name, mono) in enumerate(bufs.items()):
        pan = 0.15 * (i - 1.5)
        peak = float(np.max(np.abs(mono))) or 1.0
        mono *= 0.5 / peak
        stems[name] = np.stack([mono * (1 - pan), mono * (1 + pan)], axis=1).astype(np.float32)
    truth = Truth(spec.key, spec.bpm, duration, spec.lead_in, chords, sections, bass_notes)
    return SynthSong(spec, stems, truth)


# -- the set --------------------------------------------------------------------------------
def _spec(name: str, key: str, bpm: float, form: str, bars: str, timbres: str, **kw: object) -> SongSpec:
    """``key`` like ``"D:maj"``; ``bars``/``timbres`` as ``"A4 B8"``/``"A:pluck B:pad"``."""
    tonic, mode = key.split(":")
    b = {x[0]: int(x[1:]) for x in bars.split()}
    tim = dict(x.split(":") for x in timbres.split())
    return SongSpec(name, PITCH_NAMES.index(tonic), mode, bpm, form, b, tim, **kw)  # type: ignore[arg-type]


#: The test set: keys major and minor, 84-150 BPM, several forms and timbres.
TEST_SPECS = (
    _spec("dmaj120", "D:maj", 120, "ABABCAB", "A4 B4 C4", "A:pluck B:pad C:dist", seed=1),
    _spec("amin96", "A:min", 96, "ABACAB", "A4 B4 C4", "A:pad B:dist C:pluck", seed=2, lead="BC"),
    _spec("ebmaj140", "Eb:maj", 140, "ABABCB", "A8 B8 C4", "A:dist B:pluck C:pad", seed=3, split="C"),
    _spec("f#min108", "F#:min", 108, "ABCAB", "A4 B4 C8", "A:pluck B:dist C:pad", seed=4, lead="A"),
    _spec("gmaj84", "G:maj", 84, "ABABC", "A4 B4 C4", "A:pad B:pluck C:dist", seed=5, split="B"),
    _spec("cmin128", "C:min", 128, "ABCBAB", "A4 B8 C4", "A:dist B:pad C:pluck", seed=6),
    _spec("bbmaj150", "Bb:maj", 150, "ABACAB", "A8 B4 C8", "A:pluck B:dist C:pad", seed=7, lead="C", split="A"),
)

#: The benchmark's 4-minute song.
BENCH_SPEC = _spec(
    "emin100", "E:min", 100, "ABABCABABCAB", "A8 B8 C12", "A:pluck B:dist C:pad", seed=11, lead="BC", split="C"
)


def song_set() -> list[SynthSong]:
    """The test set, rendered (a few seconds)."""
    return [render(s) for s in TEST_SPECS]
