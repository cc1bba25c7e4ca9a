"""Snapshot tests of the library, the separation screen and the player at 80×24 and 120×40.

Deterministic content: the demo song dated by the fixture, HOME set so its
folder reads ``~/cache/…``, the player paused at the loop start with a stem
muted and one turned down (paused meters are empty), the separation screen
fed a fixed progress report instead of a live job. Regenerate after a
deliberate change with ``pytest tests/functional/test_ui_snapshots.py
--snapshot-update`` and look at the SVGs in __snapshots__/ before committing.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.functional.test_ui_support import make_app, open_demo, settle, wait_for

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def fixed_demo_map():
    """A song map of the demo as the analyses would find it (fixed: no job runs, nothing churns)."""
    from stemtui.core.analysis.beats import BeatGrid
    from stemtui.core.analysis.songmap import BassNote, SongMap, Span

    bar = 2.4  # 100 BPM, 4 beats
    chords = [("A:min", 33), ("F:maj", 29), ("C:maj", 36), ("G:maj", 31)] * 3
    spans = tuple(Span(i * bar, (i + 1) * bar, c) for i, (c, _) in enumerate(chords))
    notes = tuple(
        BassNote(i * bar + k * 0.6, i * bar + k * 0.6 + 0.5, m + (12 if k == 3 else 0))
        for i, (_, m) in enumerate(chords)
        for k in range(4)
    )
    sections = (Span(0.0, 9.6, "A"), Span(9.6, 19.2, "B"), Span(19.2, 30.0, "A"))
    return SongMap(100.0, "A:min", sections, spans, notes, (), 30.0, BeatGrid(100.0, 0.0, 4, "drums"))


@pytest.fixture
def snap_store(demo_store, monkeypatch):
    from stemtui.core.analysis.mapcache import SongMapCache
    from stemtui.core.library.catalog import demo_id

    monkeypatch.setenv("HOME", str(demo_store.root.parent))
    SongMapCache(demo_store.root.parent / "data").save(demo_id(), fixed_demo_map())
    return demo_store


@pytest.mark.parametrize("size", SIZES)
def test_library_snapshot(snap_compare, snap_store, null_engine, size):
    app = make_app(snap_store, null_engine)

    async def ready(pilot):
        await wait_for(pilot, lambda: app.library is not None and app.library.highlighted() is not None, what="rows")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_player_snapshot(snap_compare, snap_store, null_engine, size):
    app = make_app(snap_store, null_engine, autoplay=False)

    async def practise(pilot):
        player = await open_demo(pilot)
        await pilot.press("colon")
        await wait_for(pilot, lambda: app.screen is not player, what="the loop prompt")
        app.screen.query_one("#loop-input").value = "0:08-0:16"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is player, what="the player")
        await pilot.press("1", "down", "minus", "minus", "minus", "home")
        await settle(pilot, player)
        await pilot.pause(0.15)  # a poll or two: the clock and timeline show 0:08.0
        assert player.info.position == 8.0

    assert snap_compare(app, terminal_size=size, run_before=practise)


@pytest.mark.parametrize("size", SIZES)
def test_player_song_map_snapshot(snap_compare, snap_store, null_engine, size):
    """The song map lane with the bass selected: sections, chords, the bar's bass notes (the tab where it fits)."""
    app = make_app(snap_store, null_engine, autoplay=False)

    async def on_bass(pilot):
        player = await open_demo(pilot)
        while player.table.names[player.table.selected] != "bass":
            await pilot.press("down")
        await pilot.press("f")  # the second section (B), at 0:09.6
        await settle(pilot, player)
        await pilot.pause(0.15)
        lane = player.query_one("#map-lane")
        assert player.info.position == 9.6 and lane.section_name == "B1"
        assert len(lane.tab) == (4 if size[1] > 30 else 0) and bool(lane.bass) == (size[1] <= 30)

    assert snap_compare(app, terminal_size=size, run_before=on_bass)


def fixed_separation(home):
    """A separation run frozen at 38 %, as a live job would report it (no job, no worker)."""
    from stemtui.core.audio.song import Song, SongMeta
    from stemtui.core.separation.splitter import Progress, SeparationOptions
    from stemtui.ui.seprun import SeparationRun

    run = SeparationRun(home / "Music" / "Autumn Leaves (live).flac", SeparationOptions(model="htdemucs"))
    run.title, run.artist, run.phase = "Autumn Leaves", "The Quartet", "separating"
    run.progress = Progress(0.38, 84.0, 221.0, 31.5, 52.0, "htdemucs", "cpu", "bf16", 70 * 44100)
    # The progressive song: only its stem names and rate show (play now is offered).
    names = ["drums", "bass", "other", "vocals"]
    run.song = Song(names, np.zeros((4, 1, 2), np.float32), 44100, SongMeta(run.title), available=0)
    return run


@pytest.mark.parametrize("size", SIZES)
def test_separation_snapshot(snap_compare, snap_store, null_engine, size):
    from stemtui.ui.screens.separation_screen import SeparationScreen

    app = make_app(snap_store, null_engine)
    run = fixed_separation(snap_store.root.parent)

    async def separating(pilot):
        await wait_for(pilot, lambda: app.library is not None and app.library.highlighted() is not None, what="rows")
        await app.push_screen(SeparationScreen(run))
        await wait_for(pilot, lambda: isinstance(app.screen, SeparationScreen), what="the separation screen")
        assert app.screen.panel.progress is run.progress and app.screen.panel.can_play

    assert snap_compare(app, terminal_size=size, run_before=separating)


@pytest.mark.parametrize("size", SIZES)
def test_compare_snapshot(snap_compare, snap_store, null_engine, size):
    from stemtui.ui.screens.compare_screen import CompareScreen
    from tests.functional.test_ui_compare import make_result

    app = make_app(snap_store, null_engine, autoplay=False)

    async def compared(pilot):
        player = await open_demo(pilot)
        player.takes.show_comparison(make_result())
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.ready, what="the view")
        await pilot.press("down")  # the sharp, late note: shaded in the lanes

    assert snap_compare(app, terminal_size=size, run_before=compared)


@pytest.mark.parametrize("size", SIZES)
def test_player_with_a_take_snapshot(snap_compare, snap_store, null_engine, size, tmp_path):
    import soundfile as sf

    from stemtui.core.library.catalog import demo_id
    from stemtui.core.takes.takestore import TakeStore
    from stemtui.settings import Settings

    settings = Settings.under(snap_store.root.parent, cache_dir=snap_store.root)
    entry = snap_store.get(demo_id())
    wav = tmp_path / "take.wav"
    sf.write(str(wav), np.zeros(entry.sample_rate * 6, np.float32), entry.sample_rate)
    TakeStore(settings.data_dir).import_file(entry.id, wav, 12.0, entry.sample_rate, entry.frames)
    app = make_app(snap_store, null_engine, settings, autoplay=False)

    async def with_take(pilot):
        player = await open_demo(pilot)
        await wait_for(pilot, lambda: len(player.table.names) == 5, what="the take's row")
        await pilot.press("1", "up", "minus", "minus")  # vocals muted, the take selected and turned down
        await settle(pilot, player)
        await pilot.pause(0.15)

    assert snap_compare(app, terminal_size=size, run_before=with_take)
