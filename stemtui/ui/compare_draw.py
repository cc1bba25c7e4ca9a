"""What the comparison view draws from a :class:`CompareResult` (no Textual here).

The pitch lane plots the reference's and the take's pitch contours in
braille dots (2 × 4 per cell, so a 100-cell lane has 200 time steps), each
in its own style; a cell both pass through gets a third. Under it a line
marks where each reference note starts and how many cents the take was off
over it, and the timing lane says, per note, how early or late it came in.
The summary reads in words: median cents, % in tune, "you drag by 40 ms".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text

from stemtui.core.analysis.comparison import IN_TUNE_CENTS, CompareResult, NoteResult
from stemtui.core.timefmt import format_time

#: Below this median onset offset (ms) the summary says "on time".
ON_TIME_MS = 10.0
#: Note names of the 12 pitch classes.
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
#: Bits of the braille dots, by [row 0–3][column 0–1] inside one cell.
BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
BRAILLE_BASE = 0x2800
#: Styles: reference, take, both in one cell; note edges; cents in tune / sharp / flat.
REF, TAKE, BOTH = "cyan", "bold yellow", "bold white"
EDGE, IN_TUNE, SHARP, FLAT, DIM = "grey50", "green", "bold red", "bold magenta", "grey50"
#: Width of the lanes' left gutter (note names, lane labels).
GUTTER = 5


def note_name(midi: float) -> str:
    """``A4`` for 69 (the nearest semitone)."""
    n = round(midi)
    return f"{NAMES[n % 12]}{n // 12 - 1}"


def fmt_cents(cents: float) -> str:
    """``+32 c``, ``-8 c``."""
    return f"{cents:+.0f} c"


def fmt_ms(ms: float) -> str:
    """``+40 ms`` (late) or ``-12 ms`` (early)."""
    return f"{ms:+.0f} ms"


def cents_style(cents: float) -> str:
    """Green in tune, red sharp, magenta flat."""
    if abs(cents) <= IN_TUNE_CENTS:
        return IN_TUNE
    return SHARP if cents > 0 else FLAT


def timing_style(ms: float) -> str:
    """Green on time, red late, magenta early."""
    if abs(ms) <= ON_TIME_MS * 2:
        return IN_TUNE
    return SHARP if ms > 0 else FLAT


def time_span(r: CompareResult) -> tuple[float, float]:
    """Song times the lanes cover: the contours and every note."""
    t0 = r.start_s
    t1 = r.start_s + max(len(r.ref_contour), len(r.take_contour)) * r.hop_s
    if r.notes:
        t0 = min(t0, r.notes[0].ref_start)
        t1 = max(t1, max(n.ref_end for n in r.notes))
    return t0, max(t1, t0 + 1e-3)


def pitch_range(r: CompareResult) -> tuple[float, float]:
    """The MIDI range the pitch lane shows: every voiced value, a semitone of room, 6 at least."""
    values = [v for v in (*r.ref_contour, *r.take_contour) if v is not None and math.isfinite(v)]
    values += [n.ref_midi for n in r.notes]
    if not values:
        return 57.0, 69.0
    lo, hi = math.floor(min(values)) - 1.0, math.ceil(max(values)) + 1.0
    if hi - lo < 6:
        mid = (hi + lo) / 2
        lo, hi = mid - 3, mid + 3
    return lo, hi


def summary(r: CompareResult) -> str:
    """``you drag by 40 ms`` / ``you rush by 25 ms`` / ``on time (+4 ms)``."""
    if abs(r.offset_ms) < ON_TIME_MS:
        return f"on time ({fmt_ms(r.offset_ms)})"
    return f"you {'drag' if r.offset_ms > 0 else 'rush'} by {abs(r.offset_ms):.0f} ms"


def summary_text(r: CompareResult) -> Text:
    """Two lines: the figures, then the worst three notes with their times."""
    text = Text()
    text.append(f"median {r.median_abs_cents:.0f} cents off", style="bold")
    text.append(" · ", style=DIM)
    text.append(f"{r.in_tune_pct:.0f}% within ±{IN_TUNE_CENTS:.0f} cents", style="bold")
    text.append(" · ", style=DIM)
    text.append(summary(r), style=timing_style(r.offset_ms))
    text.append("\nworst: ", style=DIM)
    if not r.worst:
        text.append("—" if not r.notes else "none", style=DIM)
    for k, i in enumerate(r.worst[:3]):
        if not 0 <= i < len(r.notes):
            continue
        n = r.notes[i]
        if k:
            text.append(" · ", style=DIM)
        text.append(f"{format_time(n.ref_start)} {note_name(n.ref_midi)} ")
        text.append(fmt_cents(n.cents), style=cents_style(n.cents))
        text.append(f" {fmt_ms(n.onset_ms)}", style=timing_style(n.onset_ms))
    if not r.notes:
        text.append("  (the take overlaps no note of the reference)", style=DIM)
    return text


def _dots(
    contour: Sequence[float | None], r: CompareResult, span: tuple[float, float], lo: float, hi: float, w: int, h: int
) -> list[list[int]]:
    """A ``h × w`` grid of braille bits for one contour (neighbours joined vertically)."""
    grid = [[0] * w for _ in range(h)]
    t0, t1 = span
    xs, ys = 2 * w, 4 * h
    prev: tuple[int, int] | None = None
    for i, v in enumerate(contour):
        if v is None or not math.isfinite(v):
            prev = None
            continue
        x = int((r.start_s + i * r.hop_s - t0) / (t1 - t0) * xs)
        y = int((hi - v) / (hi - lo) * ys)
        if not 0 <= x < xs:
            prev = None
            continue
        y = min(ys - 1, max(0, y))
        # Join a voiced neighbour: every dot column between them, at the pitch between.
        x0, y0 = prev if prev is not None and 0 < x - prev[0] <= 4 else (x, y)
        for xx in range(x0 + (x0 < x), x + 1):
            ya = y0 + (y - y0) * (xx - x0) // max(1, x - x0)
            yb = y0 + (y - y0) * (xx - 1 - x0) // max(1, x - x0) if xx > x0 else ya
            for yy in range(min(ya, yb), max(ya, yb) + 1):
                grid[yy // 4][xx // 2] |= BRAILLE_BITS[yy % 4][xx % 2]
        prev = (x, y)
    return grid


def note_cols(n: NoteResult, span: tuple[float, float], width: int) -> tuple[int, int]:
    """First and last column of a note in a ``width``-cell lane."""
    t0, t1 = span
    a = int((n.ref_start - t0) / (t1 - t0) * width)
    b = int((n.ref_end - t0) / (t1 - t0) * width) - 1
    a = min(width - 1, max(0, a))
    return a, min(width - 1, max(a, b))


def pitch_lines(r: CompareResult, width: int, height: int, selected: int | None = None) -> list[Text]:
    """The pitch lane: ``height`` rows of contours, then a row of note edges and cents.

    ``width`` counts the gutter; the selected note's span is underlined.
    """
    w, h = max(1, width - GUTTER), max(1, height)
    span = time_span(r)
    lo, hi = pitch_range(r)
    ref = _dots(r.ref_contour, r, span, lo, hi, w, h)
    take = _dots(r.take_contour, r, span, lo, hi, w, h)
    sel = note_cols(r.notes[selected], span, w) if selected is not None and 0 <= selected < len(r.notes) else None
    lines = []
    for row in range(h):
        line = Text(no_wrap=True)
        top = hi - row * (hi - lo) / h
        label = note_name(top - 0.5) if row in (0, h - 1) or (h > 4 and row == h // 2) else ""
        line.append(label.ljust(GUTTER)[:GUTTER], style=DIM)
        for col in range(w):
            a, b = ref[row][col], take[row][col]
            style = BOTH if a and b else REF if a else TAKE if b else ""
            if sel is not None and sel[0] <= col <= sel[1]:
                style = f"{style} on grey23".strip()
            line.append(chr(BRAILLE_BASE | a | b), style=style)
        lines.append(line)
    lines.append(_label_row(r, span, w, "cents", lambda n: (fmt_cents(n.cents)[:-2], cents_style(n.cents)), sel))
    return lines


def timing_line(r: CompareResult, width: int, selected: int | None = None) -> Text:
    """The timing lane: each note's onset offset at its place (``+40`` late, ``-12`` early)."""
    w = max(1, width - GUTTER)
    span = time_span(r)
    sel = note_cols(r.notes[selected], span, w) if selected is not None and 0 <= selected < len(r.notes) else None
    return _label_row(r, span, w, "ms", lambda n: (f"{n.onset_ms:+.0f}", timing_style(n.onset_ms)), sel)


def _label_row(r, span, w, gutter: str, label, sel: tuple[int, int] | None) -> Text:
    """One row: ``▏`` where each note starts, its label after it where there is room."""
    cells: list[tuple[str, str]] = [(" ", "")] * w
    starts = [note_cols(n, span, w)[0] for n in r.notes]
    for a in starts:
        cells[a] = ("▏", EDGE)
    # A label goes after its note's edge only where it fits whole (a cut label would misread).
    for n, a in zip(r.notes, starts, strict=True):
        body, style = label(n)
        free = a + 1
        end = free + len(body)
        if end <= w and all(c == " " for c, _ in cells[free:end]):
            for k, ch in enumerate(body):
                cells[free + k] = (ch, style)
    line = Text(no_wrap=True)
    line.append(gutter.ljust(GUTTER)[:GUTTER], style=DIM)
    for col, (ch, style) in enumerate(cells):
        if sel is not None and sel[0] <= col <= sel[1]:
            style = f"{style} on grey23".strip()
        line.append(ch, style=style)
    return line


def ruler_line(r: CompareResult, width: int) -> Text:
    """Song times under the lanes (``0:12  0:14 …``)."""
    w = max(1, width - GUTTER)
    t0, t1 = time_span(r)
    dur = t1 - t0
    step = next((s for s in (0.5, 1, 2, 5, 10, 15, 30, 60, 120) if s / dur * w >= 9), 300)
    cells = [" "] * w
    t = math.ceil(t0 / step) * step
    while t <= t1:
        col = int((t - t0) / dur * w)
        label = format_time(t, 1 if step < 1 else 0)
        if col + len(label) <= w and all(c == " " for c in cells[max(0, col - 1) : col + len(label)]):
            cells[col : col + len(label)] = list(label)
        t += step
    line = Text(no_wrap=True)
    line.append(" " * GUTTER)
    line.append("".join(cells), style=DIM)
    return line


def note_row(i: int, n: NoteResult, worst: Sequence[int]) -> tuple[Text, ...]:
    """The note list's cells: number, time, note, cents, timing, a mark for the worst three."""
    mark = f"worst {list(worst).index(i) + 1}" if i in worst[:3] else ""
    return (
        Text(str(i + 1), style=DIM),
        Text(f"{format_time(n.ref_start)}–{format_time(n.ref_end)}"),
        Text(note_name(n.ref_midi), style="bold"),
        Text(fmt_cents(n.cents), style=cents_style(n.cents), justify="right"),
        Text(fmt_ms(n.onset_ms), style=timing_style(n.onset_ms), justify="right"),
        Text(mark, style=SHARP if mark else DIM),
    )
