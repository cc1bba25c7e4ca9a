"""The library: every song in the store, sortable and filterable as you type.

The screen reads the store and asks for confirmation before deleting; what
happens to a chosen song or path (open the player, import, separate) is the
app's business: it posts :class:`LibraryScreen.SongChosen` and
:class:`LibraryScreen.PathChosen`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Static

from stemtui.core.store import Entry
from stemtui.ui.fmt import fmt_date, fmt_length, fmt_size
from stemtui.ui.keymap import LIBRARY_KEYS, bindings
from stemtui.ui.screens.dialogs import AddPathScreen, ConfirmScreen
from stemtui.ui.widgets.titlebar import TitleBar


def model_name(e: Entry) -> str:
    """The model column: the separation model, ``demo`` or ``imported``."""
    if e.model:
        return e.model
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


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells with an ellipsis."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def state_text(entry: Entry, width: int = 28) -> Text:
    """The state cell: green ``complete``, red ``damaged: reason``, yellow ``old``.

    Narrow cells show the state alone; the reason is in the details below.
    """
    if entry.ok:
        return Text("complete", style="green")
    label = f"{entry.state}: {entry.reason}" if entry.reason and width >= 16 else entry.state
    return Text(clip(label, width), style="bold red" if entry.state == "damaged" else "yellow")


def tilde(path: Path) -> str:
    """A path with the home folder written as ``~``."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def matches(entry: Entry, needle: str) -> bool:
    """Whether a filter text matches a song (title, artist, model, stems, state; any case)."""
    if not needle:
        return True
    hay = " ".join([entry.title, entry.artist, entry.model or "imported", " ".join(entry.stems), entry.state, entry.id]).lower()
    return all(word in hay for word in needle.lower().split())


class SongTable(DataTable):
    """The song list: a row-cursor DataTable whose ``enter`` shows as "open" in the footer."""

    BINDINGS = [Binding("enter", "select_cursor", "open", show=True)]


class LibraryScreen(Screen):
    """The song list with a filter box and a detail line for the highlighted song."""

    BINDINGS = bindings(LIBRARY_KEYS)

    sort_column: reactive[str] = reactive("date")
    """Column the list is sorted by."""
    sort_reverse: reactive[bool] = reactive(True)
    """Sort descending (the newest first for dates)."""
    filter_text: reactive[str] = reactive("")
    """What the filter box holds; rows must match every word."""
    busy: reactive[str] = reactive("")
    """A note in the title bar while something runs (``preparing the demo…``)."""

    @dataclass
    class SongChosen(Message):
        """The musician picked a song to open."""

        entry: Entry

    @dataclass
    class PathChosen(Message):
        """The musician picked a path to add (folder, .stem.mp4 or audio file)."""

        path: Path

    def __init__(self) -> None:
        super().__init__(id="library")
        self.entries: list[Entry] = []
        self._shown_columns: tuple[tuple[str, int], ...] = ()

    def compose(self) -> ComposeResult:
        yield TitleBar(id="library-title")
        with Horizontal(id="filter-row"):
            yield Label(" / ", id="filter-label")
            yield Input(placeholder="filter: type a title, an artist, a stem…", id="filter", compact=True)
        yield SongTable(id="songs", cursor_type="row", zebra_stripes=True)
        yield Static(id="details", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.reload()
        self.query_one("#songs", DataTable).focus()
        self.call_after_refresh(self.app.first_paint)

    # -- data ---------------------------------------------------------------------
    def reload(self, select: str | None = None) -> None:
        """Re-read the store and redraw, keeping (or moving to) a selected id."""
        self.entries = self.app.store.entries()
        self._populate(select)

    def _visible(self) -> list[Entry]:
        rows = [e for e in self.entries if matches(e, self.filter_text)]
        key = COLUMNS[self.sort_column][1]
        return sorted(rows, key=key, reverse=self.sort_reverse)

    def _columns(self) -> tuple[tuple[str, int], ...]:
        """``(column, width)`` pairs: numbers get fixed widths, text shares the rest."""
        wide = self.size.width >= WIDE
        keys = tuple(COLUMNS) if wide else COMPACT_COLUMNS
        fixed = {k: COLUMNS[k][2] for k in keys if COLUMNS[k][2]}
        if wide:
            fixed.update(model=10, date=10)
        # The table's border and scrollbar, and one cell of padding each side per column.
        budget = max(30, self.size.width - 4 - 2 * len(keys) - sum(fixed.values()))
        # The reason of a damaged entry fits only on very wide screens; it is
        # always in the details line under the table.
        state = 30 if budget >= 90 else 9
        artist = min(18, max(6, (budget - state) // 3))
        widths = {**fixed, "state": state, "artist": artist, "title": budget - state - artist}
        return tuple((k, widths[k]) for k in keys)

    def _populate(self, select: str | None = None) -> None:
        table = self.query_one("#songs", DataTable)
        if select is None and table.row_count:
            select = self.highlighted_id()
        cols = self._columns()
        table.clear(columns=cols != self._shown_columns)
        if cols != self._shown_columns:
            for key, width in cols:
                table.add_column(self._header(key), key=key, width=width)
            self._shown_columns = cols
        else:
            for key, _ in cols:
                table.columns[key].label = self._header(key)
        for e in self._visible():
            table.add_row(*(self._cell(e, key, width) for key, width in cols), key=e.id)
        if select is not None:
            try:
                table.move_cursor(row=table.get_row_index(select), animate=False)
            except Exception:  # noqa: BLE001 - the row was filtered out or deleted
                pass
        self._update_title()
        self._update_details()

    def _header(self, key: str) -> Text:
        label, _, number = COLUMNS[key]
        if key == self.sort_column:
            label = f"{label}{'▼' if self.sort_reverse else '▲'}"
        return Text(label.rjust(number) if number else label, style="bold")

    def _cell(self, e: Entry, key: str, width: int) -> Text:
        dim = "" if e.ok else "dim"
        if key == "title":
            return Text(clip(e.title, width), style="bold" if e.ok else "dim")
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

    def highlighted_id(self) -> str | None:
        """Id of the song under the cursor."""
        table = self.query_one("#songs", DataTable)
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001
            return None

    def highlighted(self) -> Entry | None:
        """The song under the cursor."""
        sid = self.highlighted_id()
        return next((e for e in self.entries if e.id == sid), None)

    def _update_title(self) -> None:
        shown = self.query_one("#songs", DataTable).row_count
        count = f"{len(self.entries)} song{'s' if len(self.entries) != 1 else ''}"
        if self.filter_text:
            count = f"{shown} of {count} match “{self.filter_text}”"
        bar = self.query_one("#library-title", TitleBar)
        bar.title = "library"
        bar.detail = count
        order = "newest first" if self.sort_column == "date" and self.sort_reverse else (
            f"by {COLUMNS[self.sort_column][0].lower()} {'▼' if self.sort_reverse else '▲'}"
        )
        bar.note = self.busy or order

    def _update_details(self) -> None:
        e = self.highlighted()
        details = self.query_one("#details", Static)
        if e is None:
            if self.busy:
                hint = f"{self.busy[:1].upper()}{self.busy[1:]}"
            elif self.entries:
                hint = "No song matches the filter."
            else:
                hint = "The library is empty: press a to add a folder of stems."
            details.update(Text(hint, style="italic"))
            return
        text = Text()
        text.append(e.title, style="bold")
        if e.artist:
            text.append(f" — {e.artist}")
        if e.ok:
            text.append(f"\n{' · '.join(e.stems)}", style="cyan")
            text.append(f"   {fmt_length(e.duration)} · {e.sample_rate / 1000:g} kHz · {fmt_size(e.size_bytes)} · {model_name(e)}")
            text.append(f"\n{tilde(e.path)}", style="dim")
        else:
            text.append(f"\n{e.state}: {e.reason}", style="bold red" if e.state == "damaged" else "yellow")
            text.append("\npress d to delete it", style="dim")
        details.update(text)

    def watch_busy(self) -> None:
        if self.is_mounted:
            self._update_title()
            self._update_details()

    def on_resize(self) -> None:
        if self._columns() != self._shown_columns:
            self._populate()

    # -- events ---------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#songs")
    def _highlighted(self) -> None:
        self._update_details()

    @on(DataTable.RowSelected, "#songs")
    def _selected(self) -> None:
        self.action_open()

    @on(DataTable.HeaderSelected, "#songs")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column = key
            self.sort_reverse = key in ("date", "size", "length")
        self._populate()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._populate()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one("#songs", DataTable).focus()
        self.action_open()

    def on_key(self, event) -> None:
        """In the filter box: ↑/↓ move the list, esc clears then leaves."""
        field = self.query_one("#filter", Input)
        if not field.has_focus:
            return
        table = self.query_one("#songs", DataTable)
        if event.key in ("up", "down"):
            event.stop()
            table.action_cursor_up() if event.key == "up" else table.action_cursor_down()
        elif event.key == "escape":
            event.stop()
            if field.value:
                field.value = ""
            else:
                table.focus()

    # -- actions ---------------------------------------------------------------------
    def action_open(self) -> None:
        e = self.highlighted()
        if e is None:
            return
        if not e.ok:
            self.notify(f"{e.title}: {e.state} entry ({e.reason}). Press d to delete it.", severity="error", timeout=8)
            return
        self.post_message(self.SongChosen(e))

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_cycle_sort(self) -> None:
        i = SORT_CYCLE.index(self.sort_column) if self.sort_column in SORT_CYCLE else -1
        self.sort_column = SORT_CYCLE[(i + 1) % len(SORT_CYCLE)]
        self.sort_reverse = self.sort_column in ("date", "size", "length")
        self._populate()
        self.notify(f"sorted by {COLUMNS[self.sort_column][0].lower()}", timeout=2)

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._populate()

    def action_add(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.post_message(self.PathChosen(Path(path).expanduser()))

        self.app.push_screen(AddPathScreen(self.app.start_dir), chosen)

    def action_delete(self) -> None:
        e = self.highlighted()
        if e is None:
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.app.store.remove(e)
            except OSError as exc:
                self.notify(f"{e.title}: could not delete ({exc})", severity="error")
                return
            self.notify(f"deleted {e.title}")
            self.reload()

        size = f"{fmt_size(e.size_bytes)} of stems" if e.size_bytes else "its files"
        self.app.push_screen(ConfirmScreen(f"Delete “{e.title}”?", f"This removes {size} from\n{e.path}"), answered)

    def action_quit(self) -> None:
        self.app.exit()
