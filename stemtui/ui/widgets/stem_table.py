"""The player's stem table: one row per stem with key, name, mute, solo, volume, level.

The table shows state; it never touches the mixer. Clicks become messages
(``StemTable.MuteToggled`` ...) that the player screen turns into mixer
calls, exactly like the keys do. A take (a stem named ``take:ID``) shows
its label instead (``take 1 · 0:12–0:31``); :meth:`StemTable.set_stems`
rebuilds the rows when a take comes or goes. A stem muted or soloed over a
range only shows it after its volume (``◐ 0:30–0:45``; :meth:`StemTable.show_ranges`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label

from stemtui.core.takes.takemix import is_take_row
from stemtui.ui.fmt import fall
from stemtui.ui.widgets.meter import LevelMeter, VolumeBar

#: The widest the name column gets (a take's label is the longest).
NAME_MAX = 20


class ToggleCell(Label):
    """A mute (``M``) or solo (``S``) cell; lit when on, a dim dot when off."""

    on: reactive[bool] = reactive(False)
    """Whether the flag is set."""

    def __init__(self, letter: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.letter = letter

    def render(self) -> str:
        return f" {self.letter} " if self.on else " · "

    def watch_on(self, on: bool) -> None:
        self.set_class(on, "-on")


class StemRow(Horizontal):
    """One stem: its number key, name, mute/solo cells, volume bar and meter."""

    muted: reactive[bool] = reactive(False)
    """The stem is muted."""
    soloed: reactive[bool] = reactive(False)
    """The stem is soloed."""
    audible: reactive[bool] = reactive(True)
    """The stem is heard, given every mute and solo."""
    selected: reactive[bool] = reactive(False)
    """The row has the cursor (``m``, ``s``, ``+``/``-`` act on it)."""
    ranges: reactive[str] = reactive("")
    """The stem's mute/solo ranges (``◐ 0:30–0:45 +1``), or empty: then the cell takes no room."""

    def __init__(self, index: int, name: str, name_width: int, label: str = "") -> None:
        super().__init__(id=f"stem-{index}", classes="stem-row -take" if is_take_row(name) else "stem-row")
        self.index = index
        self.stem_name = name
        #: What the name cell shows (a take's name and span), or the stem's name.
        self.label = label or name
        self.name_width = name_width
        self.mute_cell = ToggleCell("M", classes="toggle mute")
        self.solo_cell = ToggleCell("S", classes="toggle solo")
        self.volume_bar = VolumeBar(classes="volume")
        self.range_cell = Label("", classes="ranges", markup=False)
        self.range_cell.display = False
        self.meter = LevelMeter(classes="level")

    def compose(self) -> ComposeResult:
        key = str(self.index + 1) if self.index < 9 else " "
        yield Label(f" {key}", classes="key")
        name = Label(self.label, classes="name", markup=False)
        name.styles.width = self.name_width
        yield name
        yield self.mute_cell
        yield self.solo_cell
        yield self.volume_bar
        yield self.range_cell
        yield self.meter

    def watch_muted(self, muted: bool) -> None:
        self.mute_cell.on = muted
        self.set_class(muted, "-muted")
        self._update_note()

    def watch_soloed(self, soloed: bool) -> None:
        self.solo_cell.on = soloed
        self.set_class(soloed, "-soloed")

    def watch_audible(self, audible: bool) -> None:
        self.set_class(not audible, "-silent")
        self._update_note()

    def watch_selected(self, selected: bool) -> None:
        self.set_class(selected, "-selected")

    def watch_ranges(self, text: str) -> None:
        self.range_cell.update(text)
        self.range_cell.display = bool(text)

    def _update_note(self) -> None:
        self.meter.note = "muted" if self.muted else ("solo off" if not self.audible else "")


class StemTable(Widget, can_focus=True):
    """The table of stems. Owns no audio state: :meth:`sync` mirrors a mixer."""

    selected: reactive[int] = reactive(0)
    """Index of the highlighted stem."""

    @dataclass
    class MuteToggled(Message):
        """The M cell of a stem was clicked."""

        table: StemTable
        stem: int

        @property
        def control(self) -> StemTable:
            return self.table

    @dataclass
    class SoloToggled(Message):
        """The S cell of a stem was clicked."""

        table: StemTable
        stem: int

        @property
        def control(self) -> StemTable:
            return self.table

    @dataclass
    class VolumeSet(Message):
        """A stem's volume bar was clicked at a new gain."""

        table: StemTable
        stem: int
        gain: float

        @property
        def control(self) -> StemTable:
            return self.table

    @dataclass
    class Selected(Message):
        """A stem row was clicked."""

        table: StemTable
        stem: int

        @property
        def control(self) -> StemTable:
            return self.table

    def __init__(self, names: list[str], labels: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.names = list(names)
        #: What a stem's name cell shows instead of its name (takes), by name.
        self.labels = dict(labels or {})
        self._levels = np.full(len(names), float("-inf"))
        self._rows: list[StemRow] = []
        self._mix: tuple[np.ndarray, np.ndarray, np.ndarray, list[bool]] | None = None
        self._marks: list[str] = []

    def compose(self) -> ComposeResult:
        shown = [self.labels.get(n, n) for n in self.names]
        width = min(max([8, *(len(n) + 2 for n in shown)]), NAME_MAX if self.labels else 16)
        with Horizontal(classes="stem-header"):
            yield Label(" #", classes="key")
            head = Label("stem", classes="name")
            head.styles.width = width
            yield head
            yield Label(" M ", classes="toggle")
            yield Label(" S ", classes="toggle")
            yield Label("volume", classes="volume")
            yield Label("level", classes="level")
        for i, name in enumerate(self.names):
            yield StemRow(i, name, width, self.labels.get(name, ""))

    def on_mount(self) -> None:
        self._rows = list(self.query(StemRow))
        self.watch_selected(self.selected)

    async def set_stems(self, names: list[str], labels: dict[str, str]) -> None:
        """Show these stems (a take was added, renamed or deleted); the last mix shown stays."""
        if list(names) == self.names and dict(labels) == self.labels:
            return
        self.names, self.labels = list(names), dict(labels)
        self._levels = np.full(len(names), float("-inf"))
        await self.recompose()
        self._rows = list(self.query(StemRow))
        self.selected = min(self.selected, len(self.names) - 1)
        self.watch_selected(self.selected)
        if self._mix is not None and len(self._mix[0]) == len(self.names):
            self.sync(*self._mix)
        self.show_ranges(self._marks)

    def watch_selected(self, selected: int) -> None:
        for row in self._rows:
            row.selected = row.index == selected

    def row(self, stem: int) -> StemRow:
        """The row widget of one stem."""
        return self._rows[stem]

    def sync(self, mute: np.ndarray, solo: np.ndarray, volume: np.ndarray, audible: list[bool]) -> None:
        """Show a mixer's flags and volumes (cheap: unchanged values repaint nothing)."""
        self._mix = (mute, solo, volume, audible)
        for row in self._rows:
            if row.index >= len(mute):
                continue
            i = row.index
            row.muted = bool(mute[i])
            row.soloed = bool(solo[i])
            row.audible = bool(audible[i])
            row.volume_bar.gain = float(volume[i])

    def show_ranges(self, marks: list[str]) -> None:
        """Show each stem's mute/solo ranges (one text per stem, ``""`` for none)."""
        self._marks = list(marks)
        for row in self._rows:
            row.ranges = marks[row.index] if row.index < len(marks) else ""

    def show_levels(self, peaks_db: np.ndarray | None, dt: float) -> None:
        """Feed new peaks (dBFS per stem), or ``None`` to drop every meter to zero."""
        for row in self._rows:
            i = row.index
            if peaks_db is None or i >= len(peaks_db):
                self._levels[i] = float("-inf")
            else:
                self._levels[i] = fall(self._levels[i], float(peaks_db[i]), dt)
            row.meter.level_db = float(self._levels[i])

    # -- mouse ------------------------------------------------------------------------
    def on_click(self, event: events.Click) -> None:
        widget = event.widget
        row = None
        node = widget
        while node is not None and node is not self:
            if isinstance(node, StemRow):
                row = node
                break
            node = node.parent
        if row is None:
            return
        event.stop()
        if isinstance(widget, ToggleCell):
            cls = self.MuteToggled if widget.has_class("mute") else self.SoloToggled
            self.post_message(cls(self, row.index))
        self.post_message(self.Selected(self, row.index))

    @on(VolumeBar.Clicked)
    def _volume_clicked(self, event: VolumeBar.Clicked) -> None:
        event.stop()
        row = event.bar.parent
        if isinstance(row, StemRow):
            self.post_message(self.VolumeSet(self, row.index, event.gain))
            self.post_message(self.Selected(self, row.index))
