"""The result of comparing a take with a reference stem, note by note.

CONTRACT (written by the integrator): the analysis fills it, ``stemtui
compare --json`` prints :meth:`CompareResult.to_json`, and the UI's
comparison view draws it. The JSON keys are the issue's: ``offset_ms``,
``median_abs_cents``, ``in_tune_pct``, ``notes`` (``ref_start``,
``ref_end``, ``ref_midi``, ``cents``, ``onset_ms``), plus the contours and
the worst notes for the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A note is in tune when its median deviation is within this many cents.
IN_TUNE_CENTS = 25.0


@dataclass(frozen=True)
class NoteResult:
    """One reference note that the take overlaps.

    Attributes:
        ref_start: Song time the reference note starts (s).
        ref_end: Song time it ends (s).
        ref_midi: Its pitch (fractional MIDI number, the note's median).
        cents: The take's median deviation over the note (positive: sharp).
        onset_ms: The take's onset minus the reference's (positive: late).
    """

    ref_start: float
    ref_end: float
    ref_midi: float
    cents: float
    onset_ms: float

    def to_json(self) -> dict[str, float]:
        return {
            "ref_start": round(self.ref_start, 4),
            "ref_end": round(self.ref_end, 4),
            "ref_midi": round(self.ref_midi, 3),
            "cents": round(self.cents, 2),
            "onset_ms": round(self.onset_ms, 2),
        }


@dataclass(frozen=True)
class CompareResult:
    """A take against a reference stem.

    Attributes:
        take_id: The take.
        reference: The stem compared against.
        offset_ms: Median onset offset over the notes (positive: late, "you drag").
        median_abs_cents: Median of the notes' absolute cents.
        in_tune_pct: Percent of notes within ±``IN_TUNE_CENTS``.
        notes: One per overlapped reference note, in time order.
        worst: Indices into ``notes`` of the (up to) three worst notes, worst first.
        hop_s: Time step of the contours.
        start_s: Song time of the contours' first value.
        ref_contour: Reference pitch per hop (MIDI, ``None`` where unvoiced).
        take_contour: Take pitch per hop, same times.
    """

    take_id: str
    reference: str
    offset_ms: float
    median_abs_cents: float
    in_tune_pct: float
    notes: tuple[NoteResult, ...]
    worst: tuple[int, ...]
    hop_s: float
    start_s: float
    ref_contour: tuple[float | None, ...]
    take_contour: tuple[float | None, ...]

    def to_json(self) -> dict[str, Any]:
        def contour(c: tuple[float | None, ...]) -> list[float | None]:
            return [None if v is None else round(v, 3) for v in c]

        return {
            "take": self.take_id,
            "reference": self.reference,
            "offset_ms": round(self.offset_ms, 2),
            "median_abs_cents": round(self.median_abs_cents, 2),
            "in_tune_pct": round(self.in_tune_pct, 1),
            "notes": [n.to_json() for n in self.notes],
            "worst": list(self.worst),
            "hop_s": self.hop_s,
            "start_s": round(self.start_s, 4),
            "ref_contour": contour(self.ref_contour),
            "take_contour": contour(self.take_contour),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CompareResult:
        return cls(
            take_id=str(d["take"]),
            reference=str(d["reference"]),
            offset_ms=float(d["offset_ms"]),
            median_abs_cents=float(d["median_abs_cents"]),
            in_tune_pct=float(d["in_tune_pct"]),
            notes=tuple(NoteResult(**{k: float(v) for k, v in n.items()}) for n in d["notes"]),
            worst=tuple(int(i) for i in d["worst"]),
            hop_s=float(d["hop_s"]),
            start_s=float(d["start_s"]),
            ref_contour=tuple(None if v is None else float(v) for v in d["ref_contour"]),
            take_contour=tuple(None if v is None else float(v) for v in d["take_contour"]),
        )
