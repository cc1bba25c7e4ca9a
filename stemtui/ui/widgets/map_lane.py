"""The song map lane under the timeline: sections along the song, the chord now and next, the bass tab.

Line 1 draws the sections across the width, as the timeline draws the song
(``A─────B─────A─────B─────C───``), the one under the playhead highlighted.
Line 2 names that section and its occurrence (``B2``), the chord sounding
and the next one (``D  → Bm``) and, while the map is being made, what the
analysis is doing (``analysing… chords 40%``). With the bass selected, four
more lines show the bass tab of the current bar and its note names (only
its note names, on line 2, where the screen has no rows to spare).
The widget only draws its reactives; :class:`~stemtui.ui.map_actions.MapControl`
sets them from the song map and the playhead.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


def chord_name(label: str) -> str:
    """Harte label to a lead-sheet name: ``D:maj`` -> ``D``, ``B:min`` -> ``Bm``, ``N`` -> ``N.C.``."""
    if label in ("N", "X", ""):
        return "N.C."
    root, _, quality = label.partition(":")
    return root + {"maj": "", "min": "m"}.get(quality, quality)


def section_strip(sections: tuple[tuple[float, float, str], ...], duration: float, width: int) -> list[int]:
    """For each of ``width`` cells, the index of the section it shows (``-1`` for none)."""
    cells = [-1] * width
    if duration <= 0 or width <= 0:
        return cells
    for i, (a, b, _label) in enumerate(sections):
        c0 = min(width - 1, int(a / duration * width))
        c1 = max(c0 + 1, min(width, round(b / duration * width)))
        for c in range(c0, c1):
            cells[c] = i
    return cells


class MapLane(Widget):
    """Sections, chords and the bass tab of the song map (set by the player's :class:`MapControl`)."""

    COMPONENT_CLASSES = {
        "map-lane--current",
        "map-lane--current-letter",
        "map-lane--section",
        "map-lane--dim",
        "map-lane--chord",
    }
    DEFAULT_CSS = """
    MapLane { height: auto; }
    MapLane > .map-lane--current { color: $accent; text-style: bold; }
    MapLane > .map-lane--current-letter { color: $background; background: $accent; text-style: bold; }
    MapLane > .map-lane--section { color: $foreground 70%; }
    MapLane > .map-lane--dim { color: $text-muted; }
    MapLane > .map-lane--chord { color: $accent; text-style: bold; }
    """

    sections: reactive[tuple[tuple[float, float, str], ...]] = reactive((), layout=False)
    """``(start, end, label)`` of every section."""
    duration: reactive[float] = reactive(0.0)
    current: reactive[int] = reactive(-1)
    """Index of the section under the playhead, or -1."""
    section_name: reactive[str] = reactive("")
    """The current section and its occurrence, ``B2``."""
    chord: reactive[str] = reactive("")
    """The chord and the next one, ``D  → Bm``."""
    note: reactive[str] = reactive("")
    """What the analysis is doing, or why there is no map."""
    bass: reactive[str] = reactive("")
    """The bass notes of the bar (``bass A1 A1 C2``) where there is no room for the tab."""
    tab: reactive[tuple[str, ...]] = reactive((), layout=True)
    """The bass tab lines of the current bar (empty: not shown)."""

    def render(self) -> Text:
        width = max(1, self.size.width)
        out = Text(no_wrap=True, overflow="crop")
        cur = self.get_component_rich_style("map-lane--current")
        cur_letter = self.get_component_rich_style("map-lane--current-letter")
        plain = self.get_component_rich_style("map-lane--section")
        dim = self.get_component_rich_style("map-lane--dim")
        if self.sections:
            cells = section_strip(self.sections, self.duration, width)
            prev = -2
            for i in cells:
                if i < 0:
                    out.append(" ", dim)
                else:
                    here = i == self.current
                    if i != prev:
                        out.append(self.sections[i][2][:1], cur_letter if here else plain)
                    else:
                        out.append("━" if here else "─", cur if here else plain)
                prev = i
        else:
            out.append("·" * width, dim)
        out.append("\n")
        if self.section_name:
            out.append(f"{self.section_name:<4}", self.get_component_rich_style("map-lane--chord"))
        if self.chord:
            out.append(self.chord, self.get_component_rich_style("map-lane--chord"))
        if self.bass:
            out.append(("   " if self.chord or self.section_name else "") + self.bass)
        if self.note:
            out.append(("   " if self.chord or self.section_name else "") + self.note, dim)
        for line in self.tab:
            out.append("\n" + line)
        return out
