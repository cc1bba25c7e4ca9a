"""The song map: tempo, key, sections, chords and bass notes of one song, found from its stems.

:func:`analyze_stems` runs the analyses that make sense for the stems given
and says which it skipped and why; :class:`SongMap` holds the result, and
:meth:`SongMap.to_json` is what ``stemtui analyze SONG --json`` prints::

    {"version": 1, "duration": 241.3, "bpm": 100.0, "key": "E:min",
     "grid": {"bpm": 100.0, "offset": 0.2, "beats_per_bar": 4, "source": "drums"} | null,
     "sections": [{"start": 0.0, "end": 19.4, "label": "A"}, ...],
     "chords": [{"start": 0.0, "end": 0.2, "label": "N"}, {"start": 0.2, "end": 2.6, "label": "E:min"}, ...],
     "bass_notes": [{"start": 0.2, "end": 0.5, "midi": 40}, ...],
     "skipped": [{"analysis": "bass_notes", "reason": "no bass stem"}],
     "timings": {"beats": 1.2, ...}}

Stems: ``vocals``, ``drums``, ``bass`` by those names; every other stem is
harmonic (``other``, ``piano``, ``guitar``...). Chords and key come from the
harmonic stems with the bass line's notes voting for roots; sections from
all stems; the beat grid (given, else estimated from the drums, else from
the mix) pools chords per beat and snaps sections to bar lines.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from stemtui.core.analysis.beats import BeatGrid, estimate_grid

#: Bump when any analysis changes its output: cached maps of another version are recomputed.
ANALYSIS_VERSION = 1
#: The analyses, in the order they run (the progress reports these names).
ANALYSES = ("bass_notes", "beats", "chords", "key", "sections")
#: Shorter than this, a song has no sections to find (fewer than ~4 bars).
MIN_SECTIONS_S = 15.0
#: A song over twice this long (seconds) gets a first partial map with the bass line of its start.
BASS_HEAD_S = 45.0
_SILENT_PEAK = 1e-4

Progress = Callable[[str, float], None]
Partial = Callable[["SongMap"], None]


@dataclass(frozen=True)
class Span:
    """A labelled stretch of song time: a section (``A``) or a chord (``D:maj``, ``N``)."""

    start: float
    end: float
    label: str

    def to_json(self) -> dict[str, Any]:
        return {"start": round(self.start, 4), "end": round(self.end, 4), "label": self.label}


@dataclass(frozen=True)
class BassNote:
    """One note of the bass line: onset and offset (s), MIDI number."""

    start: float
    end: float
    midi: int

    def to_json(self) -> dict[str, Any]:
        return {"start": round(self.start, 4), "end": round(self.end, 4), "midi": self.midi}


@dataclass(frozen=True)
class Skipped:
    """An analysis not run, and why (``bass_notes``, ``no bass stem``)."""

    analysis: str
    reason: str


def _num(d: dict, key: str, lo: float = 0.0, hi: float = math.inf) -> float:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"{key} must be a number in [{lo:g}, {hi:g}], got {v!r}")
    return float(v)


def _items(d: dict, key: str) -> list[dict]:
    v = d.get(key)
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise ValueError(f"{key} must be a list of objects")
    return v


def _span(x: dict) -> Span:
    a, b, lab = _num(x, "start"), _num(x, "end"), x.get("label")
    if b < a or not isinstance(lab, str) or not lab:
        raise ValueError(f"bad span {x!r}")
    return Span(a, b, lab)


@dataclass(frozen=True)
class SongMap:
    """What :func:`analyze_stems` found. Times are seconds of song time.

    Attributes:
        bpm: The grid's tempo, or ``None`` without a clear beat.
        key: ``"D:maj"`` / ``"B:min"``, or ``None``.
        sections: Spans covering the song, letters repeating for repeated sections.
        chords: Spans covering the song, Harte labels (major/minor triads, ``N``).
        bass_notes: The bass line, by onset.
        skipped: Analyses not run (no such stem, silence, too short) and why.
        duration: The song's length.
        grid: The beat grid used (given or estimated).
        version: :data:`ANALYSIS_VERSION` of the analyses that made it.
        timings: Seconds each analysis took (not compared, not essential).
    """

    bpm: float | None = None
    key: str | None = None
    sections: tuple[Span, ...] = ()
    chords: tuple[Span, ...] = ()
    bass_notes: tuple[BassNote, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    duration: float = 0.0
    grid: BeatGrid | None = None
    version: int = ANALYSIS_VERSION
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    # -- JSON -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The JSON object of the module docstring (``stemtui analyze --json``)."""
        return {
            "version": self.version,
            "duration": round(self.duration, 4),
            "bpm": None if self.bpm is None else round(self.bpm, 3),
            "key": self.key,
            "grid": None if self.grid is None else self.grid.to_dict(),
            "sections": [s.to_json() for s in self.sections],
            "chords": [c.to_json() for c in self.chords],
            "bass_notes": [n.to_json() for n in self.bass_notes],
            "skipped": [{"analysis": s.analysis, "reason": s.reason} for s in self.skipped],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }

    @classmethod
    def from_json(cls, data: object) -> SongMap:
        """Read :meth:`to_json` back; ValueError (one line) for anything else, any version."""
        if not isinstance(data, dict):
            raise ValueError(f"a song map must be a JSON object, got {type(data).__name__}")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValueError(f"version must be an integer, got {version!r}")
        bpm = None if data.get("bpm") is None else _num(data, "bpm", 1.0, 1000.0)
        key = data.get("key")
        if key is not None and not isinstance(key, str):
            raise ValueError(f"key must be a string or null, got {key!r}")
        notes = []
        for x in _items(data, "bass_notes"):
            m = x.get("midi")
            if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m <= 127:
                raise ValueError(f"bad bass note {x!r}")
            notes.append(BassNote(_num(x, "start"), _num(x, "end"), m))
        skipped = []
        for x in _items(data, "skipped"):
            if not isinstance(x.get("analysis"), str) or not isinstance(x.get("reason"), str):
                raise ValueError(f"bad skipped entry {x!r}")
            skipped.append(Skipped(x["analysis"], x["reason"]))
        grid = None if data.get("grid") is None else BeatGrid.from_dict(data["grid"])
        timings = data.get("timings") or {}
        return cls(
            bpm=bpm,
            key=key,
            sections=tuple(_span(x) for x in _items(data, "sections")),
            chords=tuple(_span(x) for x in _items(data, "chords")),
            bass_notes=tuple(notes),
            skipped=tuple(skipped),
            duration=_num(data, "duration"),
            grid=grid,
            version=version,
            timings={str(k): float(v) for k, v in timings.items()} if isinstance(timings, dict) else {},
        )

    # -- looking things up --------------------------------------------------------------
    def chord_at(self, t: float) -> Span | None:
        """The chord sounding at song time ``t``."""
        return _at(self.chords, t)

    def next_chord(self, t: float) -> Span | None:
        """The first chord starting after ``t`` whose label differs from the current one."""
        cur = self.chord_at(t)
        i = bisect.bisect_right([c.start for c in self.chords], t)
        return next((c for c in self.chords[i:] if cur is None or c.label != cur.label), None)

    def section_at(self, t: float) -> Span | None:
        """The section at song time ``t``."""
        return _at(self.sections, t)

    def notes_between(self, start: float, end: float) -> list[BassNote]:
        """Bass notes with an onset in ``[start, end)``."""
        return [n for n in self.bass_notes if start <= n.start < end]

    def transposed(self, semitones: int) -> SongMap:
        """The map as heard ``semitones`` up: key, chords and bass notes moved."""
        from stemtui.core.analysis.chordest import transpose_label

        if semitones == 0:
            return self
        return replace(
            self,
            key=None if self.key is None else transpose_label(self.key, semitones),
            chords=tuple(replace(c, label=transpose_label(c.label, semitones)) for c in self.chords),
            bass_notes=tuple(replace(n, midi=min(127, max(0, n.midi + semitones))) for n in self.bass_notes),
        )


def _at(spans: tuple[Span, ...], t: float) -> Span | None:
    i = bisect.bisect_right([s.start for s in spans], t) - 1
    return spans[i] if 0 <= i < len(spans) and t < spans[i].end else None


# -- the analyses --------------------------------------------------------------------------
def _mono(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 2:
        a = a.mean(axis=1, dtype=np.float32) if a.shape[1] > 1 else a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"a stem must be (frames,) or (frames, channels), got shape {a.shape}")
    return a if np.isfinite(a).all() else np.nan_to_num(a)  # never the caller's array in place


def _sum(ys: Iterable[np.ndarray], n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    for y in ys:
        out[: len(y)] += y
    return out


def _r4(x: float) -> float:
    """Times as the JSON keeps them (0.1 ms), so a map read back equals the map written."""
    return round(float(x), 4)


def analyze_stems(
    stems: dict[str, np.ndarray],
    sr: int,
    grid: BeatGrid | None = None,
    progress: Progress | None = None,
    partial: Partial | None = None,
) -> SongMap:
    """Run every analysis that makes sense for ``stems``; never raises for odd audio.

    Args:
        stems: Name -> ``(frames,)`` or ``(frames, channels)`` float audio at ``sr``.
        sr: Their sample rate.
        grid: A beat grid to use (tapped or saved); else one is estimated.
        progress: Called with ``(analysis, fraction of the whole done)`` as
            each analysis starts, then ``("done", 1.0)``.
        partial: Called with the map so far after each analysis (the bass
            line comes first: it needs no grid and is quick; on a song over
            ``2 * BASS_HEAD_S``, its first ``BASS_HEAD_S`` s before that), so
            a player can show something before the whole map is done.

    Raises:
        ValueError: If a stem is not 1-D or 2-D audio, or ``sr`` is not positive.
    """
    import soxr

    from stemtui.core.analysis import basslines, chordest, sectionfind

    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    report = progress or (lambda _name, _frac: None)
    mono = {name.lower(): _mono(y) for name, y in stems.items()}
    n = max((len(y) for y in mono.values()), default=0)
    duration = n / sr
    live = {k: y for k, y in mono.items() if y.size and float(np.max(np.abs(y))) >= _SILENT_PEAK}
    skipped: list[Skipped] = []
    timings: dict[str, float] = {}
    harmonic = {k: y for k, y in live.items() if k not in ("drums", "vocals", "bass")}

    def step(name: str) -> float:
        report(name, ANALYSES.index(name) / len(ANALYSES))
        return time.perf_counter()

    def build() -> SongMap:
        r = _r4
        return SongMap(
            bpm=None if grid is None else round(grid.bpm, 3),
            key=key,
            sections=tuple(Span(r(a), r(b), lab) for a, b, lab in sections),
            chords=tuple(Span(r(a), r(b), lab) for a, b, lab in chords),
            bass_notes=tuple(BassNote(r(a), r(b), int(m)) for a, b, m in notes),
            skipped=tuple(skipped),
            duration=r(duration),
            grid=grid,
            timings=dict(timings),
        )

    def publish() -> None:
        if partial is not None:
            partial(build())

    notes: list[basslines.Note] = []
    chords: list[tuple[float, float, str]] = []
    sections: list[tuple[float, float, str]] = []
    key: str | None = None

    # bass
    t0 = step("bass_notes")
    if "bass" in live:
        y = live["bass"]
        if partial is not None and len(y) > 2 * BASS_HEAD_S * sr:
            # A long song shows the bass line of its start first, in a
            # fraction of the time; the whole line replaces it a moment later.
            head = basslines.transcribe_bass(y[: int(BASS_HEAD_S * sr)], sr)
            notes = [x for x in head if x[1] < BASS_HEAD_S - 1.0]  # (a note at the cut may be cut short)
            publish()
        notes = basslines.transcribe_bass(y, sr)
    else:
        skipped.append(Skipped("bass_notes", "bass stem is silent" if "bass" in mono else "no bass stem"))
    timings["bass_notes"] = time.perf_counter() - t0

    publish()

    # beats
    t0 = step("beats")
    if grid is None and live:
        src = "drums" if "drums" in live else "mix"
        audio = live["drums"] if src == "drums" else _sum(live.values(), n)
        grid = estimate_grid(audio, sr, src)
        if grid is None:
            skipped.append(Skipped("beats", f"no clear steady beat in the {src}"))
    elif grid is None:
        skipped.append(Skipped("beats", "the song is silent"))
    timings["beats"] = time.perf_counter() - t0
    beats = None if grid is None else grid.beat_times(0.0, duration)

    publish()

    # chords and key
    t0 = step("chords")
    if harmonic or notes:
        y = soxr.resample(_sum(harmonic.values(), n), sr, chordest.ANALYSIS_SR).astype(np.float32)
        chroma, db = chordest.harmonic_chroma(y)
        if not harmonic:  # only the bass: its notes are the harmony
            db = np.zeros(chroma.shape[1])
        bass = basslines.bass_chroma(notes, chroma.shape[1], chordest.HOP / chordest.ANALYSIS_SR) if notes else None
        if not harmonic and bass is not None:
            chroma = bass.copy()
        chords = chordest.estimate_chords(chroma, db, duration, beats, bass)
        timings["chords"] = time.perf_counter() - t0
        t0 = step("key")
        key = chordest.estimate_key(chroma, db, bass, chords)
        timings["key"] = time.perf_counter() - t0
    else:
        why = "no harmonic stem" if not any(k not in ("drums", "vocals") for k in mono) else "harmonic stems are silent"
        skipped += [Skipped("chords", why), Skipped("key", why)]
        step("key")
    publish()

    # sections
    t0 = step("sections")
    if not live:
        skipped.append(Skipped("sections", "the song is silent"))
    elif duration < MIN_SECTIONS_S:
        skipped.append(Skipped("sections", f"song too short ({duration:.0f} s, sections need {MIN_SECTIONS_S:g})"))
    else:
        resampled = {k: soxr.resample(y, sr, sectionfind.SECTION_SR).astype(np.float32) for k, y in live.items()}
        feats = sectionfind.stem_features(resampled)
        bars = None
        if grid is not None:
            bars = np.array([grid.beat_time(k) for k in grid.beat_range(0.0, duration) if grid.is_downbeat(k)])
        sections = sectionfind.estimate_sections(feats, duration, beats, bars)
    timings["sections"] = time.perf_counter() - t0
    report("done", 1.0)
    return build()
