"""The recording indicator beside the transport: ``● REC 0:05.2`` and the input's level.

Hidden while idle; while the count-in plays it reads ``◌ count-in``. The
level is the input's peak, on the same meter as the stems'.
"""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widget import Widget

from stemtui.core.timefmt import format_time
from stemtui.ui.widgets.meter import LevelMeter

#: What the take control is doing: nothing, playing the count-in, recording.
RecState = Literal["idle", "counting", "recording"]


class RecLabel(Widget):
    """``● REC 0:05.2`` (red), ``◌ count-in`` (yellow), or what runs in the background."""

    COMPONENT_CLASSES = {"rec--dot", "rec--counting"}

    state: reactive[RecState] = reactive("idle")
    """Idle, counting in or recording."""
    elapsed: reactive[float] = reactive(0.0, repaint=False)
    """Seconds recorded so far; repaints when the tenth changes."""
    note: reactive[str] = reactive("")
    """While idle: what runs in the background (``comparing 42% …``)."""

    def watch_elapsed(self, old: float, new: float) -> None:
        if format_time(old) != format_time(new):
            self.refresh()

    def render(self) -> Text:
        if self.state == "recording":
            return Text(f"● REC {format_time(self.elapsed)} ", style=self.get_component_rich_style("rec--dot"))
        if self.state == "counting":
            return Text("◌ count-in ", style=self.get_component_rich_style("rec--counting"))
        return Text(self.note, style=self.get_component_rich_style("rec--counting"))


class RecordIndicator(Horizontal):
    """The red ``● REC`` and an input level meter; shown only while counting in or recording."""

    DEFAULT_CSS = """
    RecordIndicator RecLabel { width: 16; height: 1; }
    RecordIndicator LevelMeter { width: 1fr; height: 1; }
    """

    state: reactive[RecState] = reactive("idle", init=False)
    """Idle (hidden), counting in, or recording."""
    elapsed: reactive[float] = reactive(0.0, init=False)
    """Seconds recorded so far."""
    level_db: reactive[float] = reactive(float("-inf"), init=False)
    """The input's level in dBFS (already falling back like a stem meter's)."""
    note: reactive[str] = reactive("", init=False)
    """While idle: what runs in the background (``comparing 42% …``), or empty."""

    def compose(self) -> ComposeResult:
        yield RecLabel(id="rec-label")
        yield LevelMeter(id="rec-level")

    def watch_state(self, state: RecState) -> None:
        self.set_class(state != "idle" or bool(self.note), "-active")
        self.query_one(RecLabel).state = state
        self.query_one(LevelMeter).display = state != "idle"
        self.query_one(RecLabel).styles.width = 16 if state != "idle" else "1fr"
        if state == "idle":
            self.level_db = float("-inf")

    def watch_note(self, note: str) -> None:
        self.query_one(RecLabel).note = note
        self.watch_state(self.state)

    def watch_elapsed(self, elapsed: float) -> None:
        self.query_one(RecLabel).elapsed = elapsed

    def watch_level_db(self, level_db: float) -> None:
        self.query_one(LevelMeter).level_db = level_db
