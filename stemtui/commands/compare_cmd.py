"""``stemtui compare SONG TAKE [--against STEM] [--json]``: a take against a stem, note by note."""

from __future__ import annotations

import json

#: Below this median onset offset (ms) a take is "on time".
ON_TIME_MS = 10.0

_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(midi: float) -> str:
    """``A4`` for 69.0 (the nearest equal-tempered note)."""
    m = round(midi)
    return f"{_NAMES[m % 12]}{m // 12 - 1}"


def timing_phrase(offset_ms: float) -> str:
    """``you drag by 40 ms``, ``you rush by 25 ms`` or ``on time (+4 ms)``."""
    if abs(offset_ms) < ON_TIME_MS:
        return f"on time ({offset_ms:+.0f} ms)"
    return f"you {'drag' if offset_ms > 0 else 'rush'} by {abs(offset_ms):.0f} ms"


def pick_reference(against: str | None, take_reference: str, stems: list[str]) -> str:
    """``--against``, else the stem muted while recording, else ``vocals``.

    Raises:
        BadInput: The stem is not one of the song's.
    """
    from stemtui.core.errors import BadInput

    name = against or take_reference or "vocals"
    if name not in stems:
        what = f"--against {name}" if against else f"reference stem {name!r}"
        hint = "" if against else "; pick one with --against"
        raise BadInput(what, f"no such stem in this song (it has {', '.join(stems)}){hint}")
    return name


def cmd_compare(args, settings) -> int:
    """Compare the take with the reference stem in the worker; print the summary or the JSON."""
    from stemtui.core.analysis.comparejob import CompareJob
    from stemtui.core.timefmt import format_time

    entry = settings.store().resolve(args.song)
    take = settings.takes_store().get(entry.id, args.take)
    reference = pick_reference(args.against, take.reference, list(entry.stems))
    result = CompareJob(entry.stem_path(reference), take.path, take.start_s, take.id, reference).run(timeout=None)
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    end = take.start_s + take.duration_s
    print(f"{take.name} ({format_time(take.start_s)}–{format_time(end)}) against {reference}")
    if not result.notes:
        print("  no notes of the reference under the take")
        return 0
    print(
        f"  pitch   {result.median_abs_cents:.0f} cents off (median), "
        f"{result.in_tune_pct:.0f}% of {len(result.notes)} notes within ±25 cents"
    )
    print(f"  timing  {timing_phrase(result.offset_ms)}")
    print("  worst notes:")
    for i in result.worst:
        n = result.notes[i]
        print(
            f"    {format_time(n.ref_start, 2):>8}  {note_name(n.ref_midi):<4} "
            f"{n.cents:+5.0f} cents  {n.onset_ms:+5.0f} ms"
        )
    return 0
