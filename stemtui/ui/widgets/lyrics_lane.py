"""The lyrics lane under the transport: the line sung now, highlighted, and the next one.

At most :attr:`LyricsLane.rows` rows (2 or 3: :data:`MAX_ROWS` where the
screen has room for it). The current line wraps onto the next rows when it
is longer than the lane, and scrolls through its rows as the song moves
through the line when even those are too few; the next line gets the rows
left. ``…`` marks text left out (the next line is shown whole once it is the
current one), so nothing is ever cut silently. In tap mode a first row
says how far the timing got and which keys do what; the line to stamp next
is the highlighted one. The widget only draws its reactives;
:class:`~stemtui.ui.lyrics_actions.LyricsControl` sets them.
"""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

#: The lane's height at most.
MAX_ROWS = 3


def lane_rows(
    header: str, current: str, nxt: str, width: int, most: int = MAX_ROWS, progress: float = 0.0
) -> list[tuple[str, str]]:
    """The rows to draw, ``(text, kind)`` with kind ``header``, ``current`` or ``next``; never more than ``most``.

    Lines wrap at ``width - 1``, keeping a cell for ``…``. A current line
    with more rows than there is room for scrolls: the rows shown move on as
    ``progress`` (how far into the line the song is, 0–1) grows, ``…``
    marking rows before or after. The next line takes the rows left, ``…``
    where it goes on.
    """
    width = max(4, width)
    rows: list[tuple[str, str]] = []
    if header:
        rows.append((header if len(header) <= width else header[: width - 1] + "…", "header"))
    rows += [(r, "current") for r in _window(current, max(1, most - len(rows)), width, progress) or [""]]
    if nxt and most > len(rows):
        rows += [(r, "next") for r in _window(nxt, most - len(rows), width, 0.0)]
    return rows


def _window(text: str, room: int, width: int, progress: float) -> list[str]:
    """The rows of ``text`` wrapped that show at ``progress``, at most ``room``, ``…`` where text is left out."""
    rows = textwrap.wrap(text, width - 1, break_long_words=True)
    if len(rows) <= room:
        return rows
    k = min(len(rows) - room, int(max(0.0, min(1.0, progress)) * (len(rows) - room + 1)))
    shown = rows[k : k + room]
    if k + room < len(rows):
        shown[-1] += "…"
    if k > 0:
        shown[0] = ("…" + shown[0])[:width]
    return shown


class LyricsLane(Widget):
    """The lyrics now and next (set by the player's :class:`LyricsControl`); hidden when the song has none."""

    COMPONENT_CLASSES = {"lyrics-lane--current", "lyrics-lane--sung", "lyrics-lane--next", "lyrics-lane--header"}
    DEFAULT_CSS = """
    LyricsLane { height: auto; display: none; }
    LyricsLane.-shown { display: block; }
    LyricsLane > .lyrics-lane--current { color: $accent; text-style: bold; }
    LyricsLane > .lyrics-lane--sung { color: $warning; text-style: bold; }
    LyricsLane > .lyrics-lane--next { color: $text-muted; }
    LyricsLane > .lyrics-lane--header { color: $warning; }
    """

    current: reactive[str] = reactive("", layout=True)
    """The line sung now (in tap mode: the line the next stamp times)."""
    next_line: reactive[str] = reactive("", layout=True)
    """The line after it."""
    header: reactive[str] = reactive("", layout=True)
    """Tap mode's first row (empty: not in tap mode)."""
    progress: reactive[float] = reactive(0.0)
    """How far into the current line the song is (0–1): where a line too long for the lane has scrolled to."""
    rows: reactive[int] = reactive(MAX_ROWS, layout=True)
    """The most rows the lane may take (the player gives it 2 where the screen is short)."""
    sung: reactive[int] = reactive(0)
    """How many characters of :attr:`current` are sung already (enhanced LRC's word times)."""

    def get_content_height(self, container, viewport, width: int) -> int:  # noqa: ARG002 -- Textual's signature
        return len(lane_rows(self.header, self.current, self.next_line, width, self.rows, self.progress))

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        styles = {kind: self.get_component_rich_style(f"lyrics-lane--{kind}") for kind in ("current", "next", "header")}
        sung_style = self.get_component_rich_style("lyrics-lane--sung")
        rows = lane_rows(self.header, self.current, self.next_line, self.size.width, self.rows, self.progress)
        pos = 0
        for i, (row, kind) in enumerate(rows):
            if i:
                out.append("\n")
            if kind != "current" or self.sung <= 0:
                out.append(row, styles[kind])
                continue
            core = row.strip("…")
            at = self.current.find(core, pos)
            pos = max(pos, at + len(core))
            k = max(0, min(len(row), self.sung - at + (len(row) - len(row.lstrip("…"))))) if at >= 0 else 0
            out.append(row[:k], sung_style)
            out.append(row[k:], styles[kind])
        return out
