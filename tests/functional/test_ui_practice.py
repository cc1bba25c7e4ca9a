"""Saved practice state in the real app: restored on open, saved on leaving, named loops.

Pilot drives the real app on a copy of the demo store and the engine's null
stream; the state files are real files under the test's STEMTUI_DATA_DIR.
"""

from __future__ import annotations

import json

import pytest

from stemtui.core.audio.mixer import db_to_gain
from stemtui.core.library.catalog import demo_id
from stemtui.ui.screens.library_screen import LibraryScreen
from stemtui.ui.screens.loops import LoopListScreen, LoopNameScreen
from tests.functional.test_ui_player import run
from tests.functional.test_ui_support import make_app, open_demo, settle, wait_for

SIZE = (100, 30)


async def type_loop(pilot, player, text: str) -> None:
    await pilot.press("colon")
    await wait_for(pilot, lambda: pilot.app.screen is not player, what="the loop prompt")
    pilot.app.screen.query_one("#loop-input").value = text
    await pilot.press("enter")
    await wait_for(pilot, lambda: pilot.app.screen is player, what="the player")


async def save_loop_as(pilot, player, name: str) -> None:
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, LoopNameScreen), what="the name prompt")
    pilot.app.screen.query_one("#loop-name").value = name
    await pilot.press("enter")
    await wait_for(pilot, lambda: pilot.app.screen is player, what="the player")


async def reopen(pilot, player):
    """Leave the player with q, then open the demo again from the library."""
    await pilot.press("q")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, LibraryScreen), what="the library")
    again = await open_demo(pilot)
    assert again is not player
    await settle(pilot, again)
    return again


def test_mix_loops_and_position_come_back_and_saved_loops_recall(demo_store, null_engine):
    app = make_app(demo_store, null_engine, autoplay=False)  # paused: the playhead stays put

    async def scenario(pilot):
        player = await open_demo(pilot)
        sr = player.mixer.sample_rate
        await pilot.press("1", "down", "minus", "minus")  # vocals muted, drums -2 dB
        await type_loop(pilot, player, "0:04-0:08")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LoopNameScreen), what="the name prompt")
        assert app.screen.query_one("#loop-name").value == "loop 1"  # the name offered
        app.screen.query_one("#loop-name").value = "verse"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is player, what="the player")
        assert player.loop.name == "verse" and "verse 0:04.000–0:08.000" in player.transport.border_subtitle
        await type_loop(pilot, player, "0:10-0:14")
        assert player.loop.name is None and player.transport.border_subtitle == ""
        await save_loop_as(pilot, player, "  chorus ")
        await pilot.press("l", "right")  # loop off, then the playhead 5 s on: 0:15
        await settle(pilot, player)
        assert player.mixer.position == 15 * sr

        player = await reopen(pilot, player)
        m = player.mixer
        assert not any("practice state" in msg for _, msg in app.messages)
        assert m.mute.tolist() == [True, False, False, False]
        assert m.volume[1] == pytest.approx(db_to_gain(-2.0))
        assert m.loop == (10 * sr, 14 * sr, False)
        assert player.loop.name == "chorus" and "chorus" in player.transport.border_subtitle
        assert [(lp.name, lp.start, lp.end) for lp in player.practice.loops] == [
            ("verse", 4.0, 8.0),
            ("chorus", 10.0, 14.0),
        ]
        assert m.position == 15 * sr
        assert player.info.position == 15.0

        # ' recalls the saved loop after the current one (wrapping), turns it on, and goes there.
        await pilot.press("apostrophe")
        await settle(pilot, player)
        assert m.loop == (4 * sr, 8 * sr, True) and player.loop.name == "verse"
        assert m.position == 4 * sr
        assert app.messages[-1][1].startswith("verse 0:04.000–0:08.000 on")
        await pilot.press("apostrophe")
        assert m.loop == (10 * sr, 14 * sr, True) and player.loop.name == "chorus"
        # Moving an edge makes it a new, unnamed loop.
        await pilot.press("greater_than_sign")
        assert player.loop.name is None

        # L lists them: d deletes the highlighted one, enter recalls.
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LoopListScreen), what="the loop list")
        options = app.screen.query_one("#loop-list")
        assert options.option_count == 2 and options.highlighted == 0
        await pilot.press("d")
        assert options.option_count == 1
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is player, what="the player")
        assert m.loop == (10 * sr, 14 * sr, True) and player.loop.name == "chorus"
        assert [lp.name for lp in player.practice.loops] == ["chorus"]

        player = await reopen(pilot, player)
        assert [lp.name for lp in player.practice.loops] == ["chorus"]
        assert player.mixer.loop == (10 * sr, 14 * sr, True)

    run(app, scenario)


def test_the_state_is_saved_when_the_app_exits_in_the_player(demo_store, null_engine, practice_store):
    app = make_app(demo_store, null_engine, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        await pilot.press("3", "right", "right")  # bass muted, at 0:10
        await settle(pilot, player)

    run(app, scenario)  # leaving run_test exits the app with the player open
    state, message = practice_store.load(demo_id(), ["vocals", "drums", "bass", "chords"])
    assert message is None
    assert state.stems["bass"].mute and not state.stems["vocals"].mute
    assert state.position == 10.0

    # A new app on the same store opens there, and (autoplay) plays on from there.
    app2 = make_app(demo_store, null_engine)

    async def again(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        assert m.mute.tolist() == [False, False, True, False]
        assert m.playing
        await wait_for(pilot, lambda: m.position > 10 * m.sample_rate, what="playback from 0:10")

    run(app2, again)


def test_changes_are_saved_after_a_pause_without_leaving(demo_store, null_engine, practice_store):
    app = make_app(demo_store, null_engine, autoplay=False)
    path = practice_store.path(demo_id())

    def saved_mute() -> list[bool]:
        if not path.exists():
            return []
        stems = json.loads(path.read_text())["mix"]["stems"]
        return [stems[n]["mute"] for n in ("vocals", "drums", "bass", "chords")]

    async def scenario(pilot):
        player = await open_demo(pilot)
        player.practice.DELAY = 0.05  # the debounce, shortened for the test
        assert not path.exists()  # opening alone writes nothing
        await pilot.press("2")
        await wait_for(pilot, lambda: saved_mute() == [False, True, False, False], what="the debounced save")
        await pilot.press("2", "4")
        await wait_for(pilot, lambda: saved_mute() == [False, False, False, True], what="the next save")
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp files left

    run(app, scenario)


def test_a_corrupt_state_file_opens_with_defaults_and_says_so(demo_store, null_engine, practice_store):
    path = practice_store.path(demo_id())
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"schema": 1, "mix": \x00\x01 garbage')
    app = make_app(demo_store, null_engine, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        await wait_for(pilot, lambda: any("practice state" in msg for _, msg in app.messages), what="the message")
        severity, message = next((s, msg) for s, msg in app.messages if "practice state" in msg)
        assert severity == "warning" and "not valid JSON" in message and "defaults" in message
        assert not m.mute.any() and m.loop == (0, 0, False) and m.position == 0
        assert player.practice.loops == []
        await pilot.press("1")  # and the player works as usual
        assert m.mute.tolist() == [True, False, False, False]

    run(app, scenario)
    assert path.with_name(path.name + ".bad").exists()
    assert practice_store.load(demo_id(), ["vocals", "drums", "bass", "chords"])[0].stems["vocals"].mute


def test_a_stem_that_is_gone_is_skipped_and_the_rest_restored(demo_store, null_engine, practice_store):
    from stemtui.core.library.practice import PracticeState, StemMix

    practice_store.save(
        demo_id(), PracticeState(stems={"guitar": StemMix(0.5, True, False), "drums": StemMix(1.0, True, False)})
    )
    app = make_app(demo_store, null_engine, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        assert player.mixer.mute.tolist() == [False, True, False, False]
        assert any("'guitar' no longer exists" in msg for _, msg in app.messages)

    run(app, scenario)


def test_saved_loop_keys_explain_themselves_without_loops(demo_store, null_engine):
    app = make_app(demo_store, null_engine, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        await pilot.press("n")
        assert app.screen is player and "set a loop first" in app.messages[-1][1]
        await pilot.press("apostrophe")
        assert "none yet" in app.messages[-1][1]
        await pilot.press("L")
        assert app.screen is player and "none yet" in app.messages[-1][1]
        # An empty name keeps the prompt open; esc leaves without saving.
        await type_loop(pilot, player, "0:02-0:03")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LoopNameScreen), what="the name prompt")
        app.screen.query_one("#loop-name").value = "   "
        await pilot.press("enter")
        assert isinstance(app.screen, LoopNameScreen) and "type a name" in app.messages[-1][1]
        await pilot.press("escape")
        assert app.screen is player and player.practice.loops == []

    run(app, scenario)
