"""The library: every song in the store, sortable and filterable as you type.

The screen reads the store and asks for confirmation before deleting; what
happens to a chosen song or path (open the player, import, separate) is the
app's business: it posts :class:`LibraryScreen.SongChosen`,
:class:`LibraryScreen.PathChosen` and :class:`LibraryScreen.ReseparateChosen`.

Separations still running show as rows in state ``separating NN%`` on top:
this app's (from :meth:`~stemtui.ui.separating.Separations.rows`) and
other stemtui processes' (:func:`stemtui.core.separation.job.in_progress`, polled
once a second).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive, var
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Static

from stemtui.core.library.store import Entry, Store
from stemtui.ui.fmt import fmt_size
from stemtui.ui.keymap import LIBRARY_KEYS, bindings
from stemtui.ui.paths import is_single_audio_file
from stemtui.ui.rows import (
    COLUMNS,
    SEPARATING,
    SORT_CYCLE,
    cell,
    column_widths,
    details_text,
    matches,
)
from stemtui.ui.screens.dialogs import AddPathScreen, ConfirmScreen, ModelScreen
from stemtui.ui.widgets.titlebar import TitleBar

if TYPE_CHECKING:
    from stemtui.ui.separating import Separations

log = logging.getLogger("stemtui.ui")

#: How often other processes' separations are looked for, in seconds.
OTHERS_POLL_S = 1.0


class SongTable(DataTable):
    """The song list: a row-cursor DataTable whose ``enter`` shows as "open" in the footer."""

    BINDINGS = [Binding("enter", "select_cursor", "open", show=True)]


class LibraryScreen(Screen):
    """The song list with a filter box and a detail line for the highlighted song.

    Args:
        store: The song store it lists (and deletes from).
        separations: The app's separations (their rows show on top).
        start_dir: Where the add dialog's tree starts.
    """

    BINDINGS = bindings(LIBRARY_KEYS)

    sort_column: reactive[str] = reactive("date")
    """Column the list is sorted by."""
    sort_reverse: reactive[bool] = reactive(True)
    """Sort descending (the newest first for dates)."""
    filter_text: reactive[str] = reactive("")
    """What the filter box holds; rows must match every word."""
    busy: reactive[str] = reactive("")
    """A note in the title bar while something runs (``preparing the demo…``)."""
    entries: var[list[Entry]] = var(list)
    """The store's songs, as last read."""
    separating: var[list[Entry]] = var(list)
    """Rows of separations still running (this app's first, then other processes')."""
    others: var[list[Entry]] = var(list)
    """Other stemtui processes' separations, as last polled."""
    shown_columns: var[tuple[tuple[str, int], ...]] = var(())
    """The ``(column, width)`` pairs the table shows now."""

    @dataclass
    class SongChosen(Message):
        """The musician picked a song to open."""

        entry: Entry

    @dataclass
    class PathChosen(Message):
        """The musician picked a path to add (folder, .stem.mp4 or audio file)."""

        path: Path

    @dataclass
    class ReseparateChosen(Message):
        """Separate a song's source file again, with ``model`` (and ``two_stems``)."""

        entry: Entry
        model: str
        two_stems: str | None

    def __init__(self, store: Store, separations: Separations, start_dir: Path) -> None:
        super().__init__(id="library")
        self.store = store
        self.separations = separations
        self.start_dir = start_dir

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
        self.set_interval(OTHERS_POLL_S, self._poll_others)

    # -- data ---------------------------------------------------------------------
    def reload(self, select: str | None = None) -> None:
        """Re-read the store and redraw, keeping (or moving to) a selected id."""
        self.entries = self.store.entries()
        self.separating = self._separation_rows()
        self._populate(select)

    def _separation_rows(self) -> list[Entry]:
        own = self.separations.rows()
        run = self.separations.run  # its folder is in the store's tmp/ too, even as it ends
        taken = {e.id for e in self.entries + own} | ({run.song_id} if run is not None else set())
        return own + [e for e in self.others if e.id not in taken]

    def refresh_separations(self) -> None:
        """Show the running separations' percentages (called as they progress)."""
        if not self.is_mounted:
            return
        rows = self._separation_rows()
        if [e.id for e in rows] != [e.id for e in self.separating]:
            self.separating = rows
            self._populate()
            return
        self.separating = rows
        table = self.query_one("#songs", DataTable)
        shown = {key.value for key in table.rows}
        for e in rows:
            if e.id in shown:
                for key, width in self.shown_columns:
                    table.update_cell(e.id, key, cell(e, key, width))
        self._update_title()
        self._update_details()

    def _poll_others(self) -> None:
        """Look for separations running in other stemtui processes."""
        from stemtui.core.separation.job import in_progress

        try:
            others = in_progress(self.store)
        except OSError:
            log.exception("reading separations in progress")
            return
        gone = {e.id for e in self.others} - {e.id for e in others}
        self.others = others
        if gone:
            self.reload()  # finished (now in the store) or cancelled
        elif others or self.separating:
            self.refresh_separations()

    def _visible(self) -> list[Entry]:
        running = [e for e in self.separating if matches(e, self.filter_text)]
        rows = [e for e in self.entries if matches(e, self.filter_text)]
        key = COLUMNS[self.sort_column][1]
        return running + sorted(rows, key=key, reverse=self.sort_reverse)

    def _columns(self) -> tuple[tuple[str, int], ...]:
        return column_widths(self.size.width, bool(self.separating))

    def _populate(self, select: str | None = None) -> None:
        table = self.query_one("#songs", DataTable)
        if select is None and table.row_count:
            select = self.highlighted_id()
        cols = self._columns()
        table.clear(columns=cols != self.shown_columns)
        if cols != self.shown_columns:
            for key, width in cols:
                table.add_column(self._header(key), key=key, width=width)
            self.shown_columns = cols
        else:
            for key, _ in cols:
                table.columns[key].label = self._header(key)
        for e in self._visible():
            table.add_row(*(cell(e, key, width) for key, width in cols), key=e.id)
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
        return next((e for e in self.separating + self.entries if e.id == sid), None)

    def _update_title(self) -> None:
        shown = self.query_one("#songs", DataTable).row_count
        count = f"{len(self.entries)} song{'s' if len(self.entries) != 1 else ''}"
        if self.separating:
            count += f" · {len(self.separating)} separating"
        if self.filter_text:
            count = f"{shown} of {count} match “{self.filter_text}”"
        bar = self.query_one("#library-title", TitleBar)
        bar.title = "library"
        bar.detail = count
        order = (
            "newest first"
            if self.sort_column == "date" and self.sort_reverse
            else (f"by {COLUMNS[self.sort_column][0].lower()} {'▼' if self.sort_reverse else '▲'}")
        )
        bar.note = self.busy or order

    def _update_details(self) -> None:
        e = self.highlighted()
        if e is None:
            if self.busy:
                hint = f"{self.busy[:1].upper()}{self.busy[1:]}"
            elif self.entries or self.separating:
                hint = "No song matches the filter."
            else:
                hint = "The library is empty: press a to add a folder of stems or an audio file to separate."
            text = Text(hint, style="italic")
        else:
            text = details_text(e, own=self.separations.run_for(e) is not None)
        self.query_one("#details", Static).update(text)

    def watch_busy(self) -> None:
        if self.is_mounted:
            self._update_title()
            self._update_details()

    def on_resize(self) -> None:
        if self._columns() != self.shown_columns:
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
        if e.state == SEPARATING:
            self.post_message(self.SongChosen(e))
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

        self.app.push_screen(AddPathScreen(self.start_dir), chosen)

    def action_reseparate(self) -> None:
        """Separate the highlighted song's source file again, with a model picked in a dialog."""
        e = self.highlighted()
        if e is None:
            return
        if e.state == SEPARATING:
            self.notify(f"{e.title}: still separating", severity="warning")
            return
        source = Path(e.source).expanduser() if e.model and e.source else None
        if source is None or (source.exists() and not is_single_audio_file(source)):
            what = "the demo song" if e.source.startswith("demo") else "it was imported as stems"
            self.notify(f"{e.title}: there is no mix to separate again ({what})", severity="warning", timeout=6)
            return
        if not source.exists():
            self.notify(f"{e.title}: the source file no longer exists: {source}", severity="error", timeout=8)
            return

        def chosen(answer: tuple[str, str | None] | None) -> None:
            if answer:
                self.post_message(self.ReseparateChosen(e, *answer))

        self.app.push_screen(ModelScreen(e.title, e.model, (e.options or {}).get("two_stems")), chosen)

    def action_delete(self) -> None:
        e = self.highlighted()
        if e is None:
            return
        if e.state == SEPARATING:
            self.notify(f"{e.title}: still separating (enter, then esc cancels it)", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.store.remove(e)
            except OSError as exc:
                self.notify(f"{e.title}: could not delete ({exc})", severity="error")
                return
            self.notify(f"deleted {e.title}")
            self.reload()

        size = f"{fmt_size(e.size_bytes)} of stems" if e.size_bytes else "its files"
        self.app.push_screen(ConfirmScreen(f"Delete “{e.title}”?", f"This removes {size} from\n{e.path}"), answered)

    def action_quit(self) -> None:
        self.app.exit()
