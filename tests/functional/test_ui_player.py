"""The player driven by keys through Textual's Pilot, on the real engine's null stream.

Every assertion reads the mixer the keys drove: mutes, solos, gains, loop
points, playhead. Nothing of the engine is mocked.
"""

from __future__ import annotations

import asyncio

import pytest
from textual.command import CommandPalette

from stemtui.core.audio.mixer import db_to_gain
from stemtui.ui.screens.dialogs import LoopInputScreen
from stemtui.ui.screens.help import HelpScreen
from stemtui.ui.screens.library_screen import LibraryScreen
from stemtui.ui.screens.player import PlayerScreen
from tests.functional.test_ui_support import make_app, open_demo, settle, wait_for

SIZE = (100, 30)


def run(app, scenario):
    """Run ``scenario(pilot)`` inside the app, headless."""

    async def main():
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await scenario(pilot)

    asyncio.run(main())


def test_opening_the_demo_plays_at_once_with_the_vocals_first(demo_store, null_engine):
    app = make_app(demo_store, null_engine)

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        assert m.song.names == ["vocals", "drums", "bass", "chords"]
        assert m.playing
        assert player.table.selected == 0
        await wait_for(pilot, lambda: m.position > m.sample_rate // 10, what="the playhead to move")
        assert player.info.state == "playing"

    run(app, scenario)


def test_mix_keys_mute_solo_select_volume_and_reset(demo_store, null_engine):
    app = make_app(demo_store, null_engine, autoplay=False)  # paused: faster Pilot

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        # 1-9 mute stem n, shift+1-9 (or the symbols) solo it.
        await pilot.press("1")
        assert m.mute.tolist() == [True, False, False, False]
        assert not m.audible(0) and m.audible(1)
        assert player.table.row(0).muted
        await pilot.press("3", "1")
        assert m.mute.tolist() == [False, False, True, False]
        await pilot.press("exclamation_mark")  # shift+1 on a US layout
        assert m.solo.tolist() == [True, False, False, False]
        await pilot.press("shift+2")  # terminals that report the shift itself
        assert m.solo.tolist() == [True, True, False, False]
        assert m.audible(0) and m.audible(1) and not m.audible(3)
        assert player.table.row(3).meter.note == "solo off"
        await pilot.press("9")  # no 9th stem: nothing happens
        assert m.mute.tolist() == [False, False, True, False]
        # 0 resets the whole mix.
        await pilot.press("0")
        assert not m.mute.any() and not m.solo.any()
        assert m.gains.tolist() == [1.0] * 4
        # Arrows select; m, s, +, - act on the selected stem.
        await pilot.press("down", "down")
        assert player.table.selected == 2
        await pilot.press("m")
        assert m.mute.tolist() == [False, False, True, False]
        await pilot.press("minus", "minus", "minus")
        assert m.volume[2] == pytest.approx(db_to_gain(-3.0))
        await pilot.press("plus", "equals_sign")
        assert m.volume[2] == pytest.approx(db_to_gain(-1.0))
        assert m.gains[2] == 0.0  # still muted
        await pilot.press("m")
        assert m.gains[2] == pytest.approx(db_to_gain(-1.0))
        await pilot.press("up", "s")
        assert m.solo.tolist() == [False, True, False, False]
        await pilot.press("up", "up")  # wraps around to the last stem
        assert player.table.selected == 3
        await pilot.press("0")
        assert m.volume.tolist() == [1.0] * 4
        assert not m.mute.any() and not m.solo.any()
        assert m.gains.tolist() == [1.0] * 4

    run(app, scenario)


def test_space_pauses_and_resumes(demo_store, null_engine):
    app = make_app(demo_store, null_engine)

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        await pilot.press("space")
        assert not m.playing
        await pilot.pause(0.05)
        held = m.position
        await pilot.pause(0.15)
        assert m.position == held
        assert player.info.state == "paused"
        await pilot.press("space")
        assert m.playing
        await wait_for(pilot, lambda: m.position > held, what="playback to resume")

    run(app, scenario)


def test_arrows_seek_and_home_jumps(demo_store, null_engine):
    app = make_app(demo_store, null_engine, autoplay=False)  # paused: faster Pilot

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        sr = m.sample_rate
        await pilot.press("home")
        await settle(pilot, player)
        assert m.position == 0
        # Quick presses build on each other even before the audio thread moved.
        await pilot.press("right", "right", "shift+left")
        await settle(pilot, player)
        assert m.position == 9 * sr
        await pilot.press("left", "shift+right")
        await settle(pilot, player)
        assert m.position == 5 * sr
        await pilot.press("left", "left")  # clamps at the start
        await settle(pilot, player)
        assert m.position == 0
        assert player.info.position == 0.0
        # home: the top of the song, or the loop start once there is a loop.
        await pilot.press("right", "right", "home")
        await settle(pilot, player)
        assert m.position == 0
        player.apply_loop_text("0:03-0:06")
        await pilot.press("right", "home")
        await settle(pilot, player)
        assert m.position == 3 * sr

    run(app, scenario)


def test_brackets_set_the_loop_at_the_playhead_and_l_toggles_it(demo_store, null_engine):
    app = make_app(demo_store, null_engine, autoplay=False)  # paused: faster Pilot

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        sr = m.sample_rate
        # Loop keys without a loop explain themselves.
        await pilot.press("l")
        assert app.messages[-1][0] == "warning" and "set a loop first" in app.messages[-1][1]
        await pilot.press("greater_than_sign")
        assert "not set yet" in app.messages[-1][1]
        assert m.loop == (0, 0, False)
        await pilot.press("home", "right")
        await settle(pilot, player)
        await pilot.press("left_square_bracket")
        assert m.loop == (0, 0, False)  # one edge: no loop yet
        assert player.loop.a == 5 * sr
        assert player.timeline.loop_a == 5.0
        await pilot.press("right", "right")
        await settle(pilot, player)
        await pilot.press("right_square_bracket")
        assert m.loop == (5 * sr, 15 * sr, True)
        await settle(pilot, player)
        assert m.position == 5 * sr  # the playhead sat on B: it jumps into the loop
        await pilot.press("l")
        assert m.loop == (5 * sr, 15 * sr, False)
        assert not player.status.loop_on
        await pilot.press("l")
        assert m.loop == (5 * sr, 15 * sr, True)
        assert player.info.loop_on and player.status.loop_on

    run(app, scenario)


def test_nudges_move_the_active_edge_by_ten_ms(demo_store, null_engine):
    app = make_app(demo_store, null_engine, autoplay=False)  # paused: faster Pilot

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        sr = m.sample_rate
        ten_ms = round(0.010 * sr)
        await pilot.press("colon")
        await wait_for(pilot, lambda: isinstance(app.screen, LoopInputScreen), what="the loop prompt")
        app.screen.query_one("#loop-input").value = "0:02-0:04"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is player, what="the prompt to close")
        assert m.loop == (2 * sr, 4 * sr, True)
        await pilot.press("greater_than_sign", "greater_than_sign")  # B is active after a typed loop
        assert m.loop == (2 * sr, 4 * sr + 2 * ten_ms, True)
        await pilot.press("tab", "less_than_sign")
        assert m.loop == (2 * sr - ten_ms, 4 * sr + 2 * ten_ms, True)
        assert player.info.active_edge == "a"
        await pilot.press("l", "greater_than_sign")  # a loop that is off keeps being off
        assert m.loop == (2 * sr, 4 * sr + 2 * ten_ms, False)
        await pilot.press("backspace")
        assert m.loop == (0, 0, False)
        assert player.loop.a is None and player.timeline.loop_b is None

    run(app, scenario)


def test_typed_loop_sets_it_and_bad_text_is_a_notification(demo_store, null_engine):
    app = make_app(demo_store, null_engine, autoplay=False)  # paused: faster Pilot

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        sr = m.sample_rate
        await pilot.press("colon")
        await wait_for(pilot, lambda: isinstance(app.screen, LoopInputScreen), what="the loop prompt")
        app.screen.query_one("#loop-input").value = "0:05-0:02"
        await pilot.press("enter")
        assert isinstance(app.screen, LoopInputScreen)  # stays open to fix it
        assert app.messages[-1][0] == "error" and "end must come after" in app.messages[-1][1]
        app.screen.query_one("#loop-input").value = ""
        await pilot.press(*"0:04.250-0:09", "enter")  # typed key by key
        await wait_for(pilot, lambda: app.screen is player, what="the prompt to close")
        assert m.loop == (round(4.25 * sr), 9 * sr, True)
        await settle(pilot, player)
        assert m.position == round(4.25 * sr)  # the playhead entered the loop
        # `:` again shows the loop to edit; esc leaves it as it is.
        await pilot.press("colon")
        await wait_for(pilot, lambda: isinstance(app.screen, LoopInputScreen), what="the loop prompt")
        assert app.screen.query_one("#loop-input").value == "0:04.250-0:09.000"
        await pilot.press("escape")
        assert m.loop == (round(4.25 * sr), 9 * sr, True)
        # A loop past the end of the song is clamped to it.
        await pilot.press("colon")
        await wait_for(pilot, lambda: isinstance(app.screen, LoopInputScreen), what="the loop prompt")
        app.screen.query_one("#loop-input").value = "0:20-9:00"
        await pilot.press("enter")
        assert m.loop == (20 * sr, m.song.frames, True)

    run(app, scenario)


def test_clicks_toggle_mute_and_solo_and_select(demo_store, null_engine):
    app = make_app(demo_store, null_engine, autoplay=False)  # paused: faster Pilot

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        await pilot.click("#stem-1 .mute")
        assert m.mute.tolist() == [False, True, False, False]
        assert player.table.selected == 1
        await pilot.click("#stem-2 .solo")
        assert m.solo.tolist() == [False, False, True, False]
        await pilot.click("#stem-3 .name")
        assert player.table.selected == 3

    run(app, scenario)


def test_q_goes_back_to_the_library_and_pauses(demo_store, null_engine):
    app = make_app(demo_store, null_engine)

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, LibraryScreen), what="the library")
        assert not m.playing
        # Opening again loads a fresh mixer and plays.
        player2 = await open_demo(pilot)
        assert player2.mixer is not m and player2.mixer.playing
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LibraryScreen), what="the library")

    run(app, scenario)


def test_question_mark_opens_the_help_listing_every_key(demo_store, null_engine):
    app = make_app(demo_store, null_engine, autoplay=False)  # paused: faster Pilot

    async def scenario(pilot):
        await open_demo(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayerScreen), what="the player")
        # The command palette is kept (ctrl+p) and offers the player's commands.
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the command palette")
        titles = [c.title for c in app.get_system_commands(app.screen_stack[-2])]
        assert "Reset the mix" in titles and "Keys" in titles
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayerScreen), what="the player")

    run(app, scenario)


def test_a_song_given_at_launch_opens_in_the_player(demo_store, null_engine):
    entry = demo_store.resolve("night")
    app = make_app(demo_store, null_engine, entry=entry, autoplay=False)

    async def scenario(pilot):
        await wait_for(
            pilot, lambda: isinstance(app.screen, PlayerScreen) and app.screen.mixer is not None, what="the player"
        )
        assert app.screen.entry.id == entry.id
        assert not app.screen.mixer.playing  # autoplay off
        assert app.screen.status.device == "null (no sound)"
        assert app.screen.status.sample_rate == 44100

    run(app, scenario)
