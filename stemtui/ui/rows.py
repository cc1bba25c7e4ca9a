"""What the library's rows show: columns, cells, filter matching (no Textual here).

A row is an :class:`~stemtui.core.library.store.Entry`: a song in the store, or a
separation still running (state ``separating``, its percentage as the
reason), from this app or from another stemtui process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text

from stemtui.core.library.store import Entry
from stemtui.ui.fmt import fmt_date, fmt_length, fmt_size

#: The state of a row whose separation is still running.
SEPARATING = "separating"


def model_name(e: Entry) -> str:
    """The model column: the separation model, ``demo`` or ``imported``."""
    if e.model:
        return e.model
    if e.state == SEPARATING:
        return ""
    return "demo" if e.source.startswith("demo") else "imported"


#: column key -> (header, sort key, fixed width for right-aligned numbers or 0)
COLUMNS: dict[str, tuple[str, Callable[[Entry], object], int]] = {
    "title": ("Title", lambda e: e.title.lower(), 0),
    "artist": ("Artist", lambda e: e.artist.lower(), 0),
    "length": ("Length", lambda e: e.duration, 7),
    "stems": ("Stems", lambda e: len(e.stems), 5),
    "model": ("Model", lambda e: model_name(e).lower(), 0),
    "size": ("Size", lambda e: e.size_bytes, 9),
    "date": ("Date", lambda e: e.created, 0),
    "state": ("State", lambda e: (e.state != "complete", e.state, e.reason), 0),
}
#: Columns shown below :data:`WIDE` cells of width.
COMPACT_COLUMNS = ("title", "artist", "length", "stems", "size", "state")
WIDE = 100
#: The order ``s`` cycles through.
SORT_CYCLE = ("date", "title", "artist", "length", "size", "state")
#: Width of the state column on narrow screens; wider while a separation shows.
STATE_NARROW, STATE_SEPARATING, STATE_WIDE = 9, 14, 30


def column_widths(width: int, separating: bool) -> tuple[tuple[str, int], ...]:
    """The library's ``(column, width)`` pairs at ``width`` cells: numbers get fixed widths, text shares the rest."""
    wide = width >= WIDE
    keys = tuple(COLUMNS) if wide else COMPACT_COLUMNS
    fixed = {k: COLUMNS[k][2] for k in keys if COLUMNS[k][2]}
    if wide:
        fixed.update(model=10, date=10)
    # The table's border and scrollbar, and one cell of padding each side per column.
    budget = max(30, width - 4 - 2 * len(keys) - sum(fixed.values()))
    # The reason of a damaged entry fits only on very wide screens; it is
    # always in the details line under the table.
    state = STATE_WIDE if budget >= 90 else STATE_SEPARATING if separating else STATE_NARROW
    artist = min(18, max(6, (budget - state) // 3))
    widths = {**fixed, "state": state, "artist": artist, "title": budget - state - artist}
    return tuple((k, widths[k]) for k in keys)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells with an ellipsis."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def state_text(entry: Entry, width: int = 28) -> Text:
    """The state cell: green ``complete``, cyan ``separating 42%``, red ``damaged: reason``, yellow ``old``.

    Narrow cells show the state alone; the reason is in the details below.
    """
    if entry.ok:
        return Text("complete", style="green")
    if entry.state == SEPARATING:
        label = separating_label(entry)
        short = f"sep. {entry.reason}" if entry.reason.endswith("%") else label
        return Text(clip(label if width >= len(label) else short, width), style="bold cyan")
    label = f"{entry.state}: {entry.reason}" if entry.reason and width >= 16 else entry.state
    return Text(clip(label, width), style="bold red" if entry.state == "damaged" else "yellow")


def tilde(path: Path | str) -> str:
    """A path with the home folder written as ``~``."""
    try:
        return "~/" + str(Path(path).relative_to(Path.home()))
    except ValueError:
        return str(path)


def matches(entry: Entry, needle: str) -> bool:
    """Whether a filter text matches a song (title, artist, model, stems, state; any case)."""
    if not needle:
        return True
    hay = " ".join(
        [entry.title, entry.artist, entry.model or "imported", " ".join(entry.stems), entry.state, entry.id]
    ).lower()
    return all(word in hay for word in needle.lower().split())


def cell(e: Entry, key: str, width: int) -> Text:
    """One cell of a row, cut to ``width``; numbers right-aligned, broken rows dim."""
    dim = "" if e.ok else "dim"
    if key == "title":
        return Text(clip(e.title, width), style="bold" if e.ok or e.state == SEPARATING else "dim")
    if key == "artist":
        return Text(clip(e.artist, width), style=dim)
    if key == "length":
        return Text((fmt_length(e.duration) if e.duration else "").rjust(width), style=dim)
    if key == "stems":
        return Text((str(len(e.stems)) if e.stems else "").rjust(width), style=dim)
    if key == "model":
        return Text(clip(model_name(e), width), style=dim)
    if key == "size":
        return Text((fmt_size(e.size_bytes) if e.size_bytes else "").rjust(width), style=dim)
    if key == "date":
        return Text(fmt_date(e.created), style=dim)
    return state_text(e, width)


def separating_label(e: Entry) -> str:
    """``separating 42%``, or what a separation does before its first report (``loading htdemucs``)."""
    percent = e.reason.endswith("%")
    return f"{SEPARATING} {e.reason}" if percent else e.reason or SEPARATING


def details_text(e: Entry, own: bool = False) -> Text:
    """The three lines under the table for the highlighted song.

    Args:
        e: The song.
        own: For a separating row: whether this app runs it (enter shows it).
    """
    text = Text()
    text.append(e.title, style="bold")
    if e.artist:
        text.append(f" — {e.artist}")
    if e.state == SEPARATING:
        text.append(f"\n{separating_label(e)}" + (f" with {e.model}" if e.model else ""), style="bold cyan")
        hint = "enter: progress and play now" if own else "in another stemtui"
        text.append(f"\n{tilde(e.source) if e.source else ''}  ({hint})", style="dim")
    elif e.ok:
        text.append(f"\n{' · '.join(e.stems)}", style="cyan")
        text.append(
            f"   {fmt_length(e.duration)} · {e.sample_rate / 1000:g} kHz · {fmt_size(e.size_bytes)} · {model_name(e)}"
        )
        text.append(f"\n{tilde(e.path)}", style="dim")
    else:
        text.append(f"\n{e.state}: {e.reason}", style="bold red" if e.state == "damaged" else "yellow")
        text.append("\npress d to delete it", style="dim")
    return text
