"""One-line bars: a stem's level meter and its volume fader.

Both repaint only when what they draw changes (a meter moving within one
cell costs nothing), which keeps the 20 Hz refresh cheap over SSH.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from stemtui.ui.fmt import (
    fmt_db,
    gain_at_fraction,
    meter_cells,
    meter_zone_edges,
    volume_fraction,
)


class LevelMeter(Widget):
    """A horizontal peak meter: green, then yellow from -12 dBFS, red from -3 dBFS.

    A muted stem shows the word ``muted``; one silenced by another stem's
    solo shows ``solo off``, so the state reads without colour too.
    """

    COMPONENT_CLASSES = {"meter--green", "meter--yellow", "meter--red", "meter--empty", "meter--note"}

    level_db: reactive[float] = reactive(float("-inf"), repaint=False)
    """Displayed level in dBFS (``-inf``: silent). Repaints only when a cell changes."""

    note: reactive[str] = reactive("")
    """Text shown instead of the bar (``muted``, ``solo off``), or empty."""

    def watch_level_db(self, old: float, new: float) -> None:
        width = self.content_size.width
        if meter_cells(old, width) != meter_cells(new, width):
            self.refresh()

    def render(self) -> Text:
        width = self.content_size.width
        if self.note:
            return Text(self.note.ljust(width)[:width], style=self.get_component_rich_style("meter--note"))
        lit = meter_cells(self.level_db, width)
        yellow, red = meter_zone_edges(width)
        text = Text()
        for start, end, cls in (
            (0, yellow, "meter--green"),
            (yellow, red, "meter--yellow"),
            (red, width, "meter--red"),
        ):
            n = max(0, min(lit, end) - start)
            if n:
                text.append("▮" * n, self.get_component_rich_style(cls))
        text.append("·" * (width - lit), self.get_component_rich_style("meter--empty"))
        return text


class VolumeBar(Widget):
    """A stem's volume as a bar on a dB scale, with its value (``-6 dB``).

    Clicking on the bar sets the volume there.
    """

    COMPONENT_CLASSES = {"volume--fill", "volume--empty", "volume--text", "volume--boost"}

    gain: reactive[float] = reactive(1.0)
    """The stem's volume as a linear factor (0–2)."""

    @dataclass
    class Clicked(Message):
        """The bar was clicked at a fraction of its length."""

        bar: VolumeBar
        gain: float

        @property
        def control(self) -> VolumeBar:
            return self.bar

    TEXT_WIDTH = 8

    def render(self) -> Text:
        width = self.content_size.width
        bar_w = max(0, width - self.TEXT_WIDTH)
        filled = round(volume_fraction(self.gain) * bar_w)
        unity = round(volume_fraction(1.0) * bar_w)
        text = Text()
        fill = self.get_component_rich_style("volume--fill")
        boost = self.get_component_rich_style("volume--boost")
        for i in range(filled):
            text.append("█", boost if i >= unity else fill)
        text.append("░" * (bar_w - filled), self.get_component_rich_style("volume--empty"))
        text.append(fmt_db(self.gain).rjust(self.TEXT_WIDTH), self.get_component_rich_style("volume--text"))
        return text

    def on_click(self, event: events.Click) -> None:
        bar_w = max(1, self.content_size.width - self.TEXT_WIDTH)
        if event.x < bar_w:
            event.stop()
            frac = (event.x + 1) / bar_w if event.x > 0 else 0.0
            self.post_message(self.Clicked(self, gain_at_fraction(frac)))
