"""The comparison view: a take against its reference stem, note by note.

Lanes on top (pitch contours with cents per note, onset offsets per note,
a time ruler), the summary in words, and the note list. ``enter`` on a note
dismisses the screen with that :class:`NoteResult`: the player seeks there
and loops it. ``esc`` closes with ``None``. The drawing is
:mod:`stemtui.ui.compare_draw`'s; this module only lays it out.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Static

from stemtui.core.analysis.comparison import CompareResult, NoteResult
from stemtui.ui.compare_draw import (
    BOTH,
    REF,
    TAKE,
    note_row,
    pitch_lines,
    ruler_line,
    summary_text,
    timing_line,
)
from stemtui.ui.widgets.titlebar import TitleBar


class PitchLane(Widget):
    """The reference's and the take's pitch contours, and each note's cents off."""

    selected: reactive[int | None] = reactive(None)
    """Index of the note the list's cursor is on (its span is shaded), or ``None``."""

    def __init__(self, result: CompareResult, **kwargs) -> None:
        super().__init__(**kwargs)
        self.result = result

    def render(self) -> Text:
        size = self.content_size
        lines = pitch_lines(self.result, size.width, max(1, size.height - 1), self.selected)
        return Text("\n").join(lines)


class TimingLane(Widget):
    """Each note's onset offset (ms, positive late) at its place, over a time ruler."""

    selected: reactive[int | None] = reactive(None)
    """Index of the note the list's cursor is on, or ``None``."""

    def __init__(self, result: CompareResult, **kwargs) -> None:
        super().__init__(**kwargs)
        self.result = result

    def render(self) -> Text:
        width = self.content_size.width
        return Text("\n").join([timing_line(self.result, width, self.selected), ruler_line(self.result, width)])


def legend() -> Text:
    """``⣉⣉ reference  ⣉⣉ your take  ⣉⣉ both`` in the lanes' colours."""
    text = Text(" ")
    text.append("⣉⣉ ", style=REF)
    text.append("reference  ", style="dim")
    text.append("⣉⣉ ", style=TAKE)
    text.append("your take  ", style="dim")
    text.append("⣉⣉ ", style=BOTH)
    text.append("both (within a dot)", style="dim")
    return text


class CompareScreen(Screen[NoteResult | None]):
    """Draws one :class:`CompareResult`; dismisses with the note picked (``enter``) or ``None`` (``esc``)."""

    BINDINGS = [
        Binding("escape,q", "close", "close", key_display="esc"),
        Binding("enter", "pick", "loop this note", show=True, key_display="enter"),
    ]

    def __init__(self, result: CompareResult, title: str = "") -> None:
        super().__init__(id="compare")
        self.result = result
        self.song_title = title
        self.pitch = PitchLane(result, id="pitch-lane")
        self.timing = TimingLane(result, id="timing-lane")
        #: Whether the note list is filled (tests wait for it).
        self.ready = False

    def compose(self) -> ComposeResult:
        r = self.result
        yield TitleBar(id="compare-title")
        with Vertical(id="pitch-panel", classes="panel") as panel:
            panel.border_title = "pitch"
            panel.border_subtitle = "cents off per note"
            yield Static(legend(), id="legend")
            yield self.pitch
        with Vertical(id="timing-panel", classes="panel") as panel:
            panel.border_title = "timing"
            panel.border_subtitle = "ms, + late / - early"
            yield self.timing
        yield Static(summary_text(r), id="compare-summary")
        table: DataTable = DataTable(id="notes", cursor_type="row", zebra_stripes=True)
        table.border_title = "notes · enter loops one"
        yield table
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        bar = self.query_one(TitleBar)
        bar.title = "compare"
        bar.detail = f"take {self.result.take_id} against {self.result.reference}"
        bar.note = self.song_title
        table = self.query_one("#notes", DataTable)
        table.add_columns("#", "time", "note", "cents", "timing", "")
        for i, n in enumerate(self.result.notes):
            table.add_row(*note_row(i, n, self.result.worst), key=str(i))
        table.focus()
        if self.result.notes:
            self._show_selected(0)
        self.ready = True

    def _show_selected(self, index: int | None) -> None:
        self.pitch.selected = index
        self.timing.selected = index

    @on(DataTable.RowHighlighted, "#notes")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_selected(event.cursor_row)

    @on(DataTable.RowSelected, "#notes")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self._pick(event.cursor_row)

    def action_pick(self) -> None:
        self._pick(self.query_one("#notes", DataTable).cursor_row)

    def _pick(self, row: int) -> None:
        if 0 <= row < len(self.result.notes):
            self.dismiss(self.result.notes[row])

    def action_close(self) -> None:
        self.dismiss(None)
