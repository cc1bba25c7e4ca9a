"""The library screen through Textual's Pilot: filter, sort, delete, damaged entries, import."""

from __future__ import annotations

import asyncio
import shutil

from textual.widgets import DataTable, Input

from stemtui.core.library.catalog import demo_id
from stemtui.ui.screens.dialogs import AddPathScreen, ConfirmScreen
from stemtui.ui.screens.library_screen import LibraryScreen
from stemtui.ui.screens.player import PlayerScreen
from tests.functional.test_ui_support import make_app, wait_for, write_stems

SIZE = (100, 30)


def run(app, scenario, size=SIZE):
    async def main():
        async with app.run_test(size=size, notifications=True) as pilot:
            await wait_for(pilot, lambda: app.library is not None and app.library.is_mounted, what="the library")
            await scenario(pilot, app.library)

    asyncio.run(main())


def rows(lib: LibraryScreen) -> list[str]:
    """Row keys (song ids) in display order."""
    table = lib.query_one("#songs", DataTable)
    return [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]


def damage_a_copy_of_the_demo(store, name="broken", missing="bass"):
    """A second entry, copied from the demo, with one stem file gone."""
    src = store.songs_dir / demo_id()
    dst = store.songs_dir / name
    shutil.copytree(src, dst)
    (dst / f"{missing}.flac").unlink()
    return dst


def test_library_lists_the_demo_with_its_details(demo_store, null_engine):
    app = make_app(demo_store, null_engine)

    async def scenario(_pilot, lib):
        assert rows(lib) == [demo_id()]
        table = lib.query_one("#songs", DataTable)
        cells = [str(c) for c in table.get_row_at(0)]
        assert cells[0] == "Demo: Night Drive"
        assert "0:31" in cells[2] and cells[3].strip() == "4"
        assert cells[-1] == "complete"
        details = str(lib.query_one("#details").render())
        assert "vocals · drums · bass · chords" in details

    run(app, scenario)


def test_filter_as_you_type(demo_store, null_engine, tmp_path):
    app = make_app(demo_store, null_engine)
    from stemtui.core.library.catalog import import_path

    other, _ = import_path(demo_store, write_stems(tmp_path / "Blue Train", ("bass", "drums")))

    async def scenario(pilot, lib):
        assert set(rows(lib)) == {demo_id(), other.id}
        await pilot.press("slash")
        assert lib.query_one("#filter", Input).has_focus
        await pilot.press(*"night")
        assert rows(lib) == [demo_id()]
        await pilot.press(*" zzz")
        assert rows(lib) == []
        assert "No song matches" in str(lib.query_one("#details").render())
        await pilot.press("escape")  # clears the filter
        assert lib.query_one("#filter", Input).value == ""
        assert len(rows(lib)) == 2
        await pilot.press(*"blue")
        assert rows(lib) == [other.id]
        await pilot.press("enter")  # opens the one match
        await wait_for(pilot, lambda: isinstance(app.screen, PlayerScreen), what="the player")
        assert app.screen.entry.id == other.id

    run(app, scenario)


def test_s_cycles_the_sort_column_and_headers_sort_too(demo_store, null_engine, tmp_path):
    app = make_app(demo_store, null_engine)
    from stemtui.core.library.catalog import import_path

    other, _ = import_path(demo_store, write_stems(tmp_path / "Aardvark", ("bass",)))

    async def scenario(pilot, lib):
        assert lib.sort_column == "date"
        await pilot.press("s")
        assert lib.sort_column == "title" and not lib.sort_reverse
        assert rows(lib) == [other.id, demo_id()]  # Aardvark < Demo
        await pilot.press("S")
        assert rows(lib) == [demo_id(), other.id]
        await pilot.press("s", "s")
        assert lib.sort_column == "length"
        assert rows(lib) == [demo_id(), other.id]  # longest first
        await pilot.click("#songs", offset=(4, 1))  # the Title header
        assert lib.sort_column == "title"
        assert rows(lib) == [other.id, demo_id()]
        await pilot.click("#songs", offset=(4, 1))  # again: reversed
        assert rows(lib) == [demo_id(), other.id]

    run(app, scenario)


def test_delete_asks_first_and_removes_the_entry(demo_store, null_engine):
    app = make_app(demo_store, null_engine)

    async def scenario(pilot, lib):
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is lib, what="the library")
        assert [e.id for e in demo_store.entries()] == [demo_id()]
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is lib, what="the library")
        assert demo_store.entries() == []
        assert rows(lib) == []
        assert "empty" in str(lib.query_one("#details").render())

    run(app, scenario)


def test_damaged_entry_is_listed_cannot_open_and_can_be_deleted(demo_store, null_engine):
    app = make_app(demo_store, null_engine)
    damage_a_copy_of_the_demo(demo_store)

    async def scenario(pilot, lib):
        assert set(rows(lib)) == {demo_id(), "broken"}
        table = lib.query_one("#songs", DataTable)
        table.move_cursor(row=table.get_row_index("broken"))
        await pilot.pause()
        assert "damaged: missing stem bass" in str(lib.query_one("#details").render())
        cells = [str(c) for c in table.get_row_at(table.get_row_index("broken"))]
        assert cells[-1] == "damaged"  # the reason is in the details line (and the column on wide screens)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is lib  # not opened
        severity, message = app.messages[-1]
        assert severity == "error" and "missing stem bass" in message
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: rows(lib) == [demo_id()], what="the damaged row to go")
        assert [e.id for e in demo_store.entries()] == [demo_id()]

    run(app, scenario)


def test_add_dialog_imports_a_folder_of_wav_stems(demo_store, null_engine, tmp_path):
    folder = write_stems(tmp_path / "My Song", ("vocals", "bass", "drums"))
    app = make_app(demo_store, null_engine, start_dir=tmp_path)

    async def scenario(pilot, lib):
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AddPathScreen), what="the add dialog")
        dialog = app.screen
        field = dialog.query_one("#path", Input)
        assert field.has_focus
        field.value = str(tmp_path) + "/M"  # (typing a long tmp path key by key is slow)
        await pilot.press("y", "tab")  # tab completes the folder
        assert field.value == str(folder) + "/"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(demo_store.entries()) == 2, timeout=10, what="the import")
        new = next(e for e in demo_store.entries() if e.id != demo_id())
        assert new.title == "My Song" and new.stems == ["vocals", "drums", "bass"]
        await wait_for(pilot, lambda: lib.highlighted_id() == new.id, what="the new row")
        assert app.screen is lib
        assert any("added My Song" in m for _, m in app.messages)

    run(app, scenario)


def test_adding_a_single_audio_file_asks_for_separation(demo_store, null_engine, tmp_path):
    write_stems(tmp_path / "one", ("mix",))
    app = make_app(demo_store, null_engine, start_dir=tmp_path)
    routed = []
    app.request_separation = lambda path: routed.append(path)

    async def scenario(pilot, _lib):
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AddPathScreen), what="the add dialog")
        app.screen.query_one("#path", Input).value = str(tmp_path / "one" / "mix.wav")
        await pilot.press("enter")
        await wait_for(pilot, lambda: routed, what="the separation request")
        assert routed == [tmp_path / "one" / "mix.wav"]
        assert len(demo_store.entries()) == 1

    run(app, scenario)


def test_add_dialog_reports_a_bad_folder_without_a_traceback(demo_store, null_engine, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no audio here")
    app = make_app(demo_store, null_engine, start_dir=tmp_path)

    async def scenario(pilot, _lib):
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AddPathScreen), what="the add dialog")
        app.screen.query_one("#path", Input).value = str(empty)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.messages and app.messages[-1][0] == "error", timeout=10, what="the error")
        assert str(empty) in app.messages[-1][1] or "empty" in app.messages[-1][1]
        await pilot.press("a", "escape")
        assert len(demo_store.entries()) == 1

    run(app, scenario)


def test_first_run_installs_the_demo(tmp_store, null_engine):
    app = make_app(tmp_store, null_engine, install_demo=True)

    async def scenario(pilot, lib):
        await wait_for(pilot, lambda: rows(lib) == [demo_id()], timeout=20, what="the demo")
        assert lib.busy == ""

    run(app, scenario)
