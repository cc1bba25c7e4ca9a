"""Drop-ins in the player through Pilot: `M` mutes the selected stem over the loop only.

The real app on a copy of the demo store and the engine's null stream; the
practice state is the real file. The audio is checked in the audio: after
the key, blocks rendered by the player's own mixer lack the stem inside the
range and only there.
"""

from __future__ import annotations

import numpy as np

from stemtui.core.audio.mixstate import Range
from stemtui.core.library.catalog import demo_id
from stemtui.core.library.practice import StemRange
from tests.functional.test_ui_player import run
from tests.functional.test_ui_practice import reopen, type_loop
from tests.functional.test_ui_support import make_app, open_demo, wait_for
from tests.unit.test_mixer import render


def test_m_mutes_the_stem_over_the_loop_shows_it_saves_it_and_it_is_heard(demo_store, null_engine, practice_store):
    app = make_app(demo_store, null_engine, autoplay=False)
    stems = ["vocals", "drums", "bass", "chords"]

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        sr = m.sample_rate
        assert m.song.names == stems
        await pilot.press("M")  # no loop yet: one line says what to do
        assert m.ranges == () and "set a loop first" in app.messages[-1][1]
        await type_loop(pilot, player, "0:06-0:09")
        await pilot.press("M")  # the selected stem: vocals
        assert m.ranges == (Range(0, 6 * sr, 9 * sr, "mute"),)
        assert "vocals: mute ◐ 0:06–0:09" in app.messages[-1][1]
        await wait_for(pilot, lambda: player.table.row(0).range_cell.display, what="the range mark")
        assert str(player.table.row(0).range_cell.render()) == "◐ 0:06–0:09"
        assert not player.table.row(1).range_cell.display
        # Another stem, solo over the same loop; pressed again, it goes.
        await pilot.press("down", "S")
        assert m.ranges[-1] == Range(1, 6 * sr, 9 * sr, "solo") and player.table.row(1).ranges == "◑ 0:06–0:09"
        await pilot.press("S")
        assert len(m.ranges) == 1 and player.table.row(1).ranges == ""

        # Saved, and restored when the song is opened again.
        player = await reopen(pilot, player)
        state, message = practice_store.load(demo_id(), stems)
        assert message is None and state.ranges == [StemRange("vocals", 6.0, 9.0, "mute")]
        m = player.mixer
        assert m.ranges == (Range(0, 6 * sr, 9 * sr, "mute"),)
        await wait_for(pilot, lambda: player.table.row(0).ranges == "◐ 0:06–0:09", what="the restored mark")

        # Heard: the player's mixer, block by block (the stream stopped: no other thread renders).
        null_engine.stop_stream()
        m.start_at(5 * sr)
        out = render(m, 2 * sr, block=512)
        d = m.song.data
        full = d[:, 5 * sr : 7 * sr].sum(axis=0)
        vocals = d[0, 5 * sr : 7 * sr]
        r = m.xfade_frames
        assert np.abs(vocals[: sr - r]).max() > 0.02 and np.abs(vocals[sr:]).max() > 0.02  # vocals to hear, and miss
        np.testing.assert_allclose(out[: sr - r], full[: sr - r], atol=1e-5)  # 0:05-0:06: all of it
        np.testing.assert_allclose(out[sr:], full[sr:] - vocals[sr:], atol=1e-5)  # 0:06-0:07: no vocals
        inside, outside = out[sr:] - (full[sr:] - vocals[sr:]), out[: sr - r] - (full[: sr - r] - vocals[: sr - r])
        assert np.sum(inside**2) < 1e-6 * np.sum(outside**2)

        await pilot.press("M")  # again on vocals: removed
        assert m.ranges == () and player.table.row(0).ranges == ""

    run(app, scenario)
    state, _ = practice_store.load(demo_id(), stems)
    assert state.ranges == []


def test_0_resets_the_mix_and_removes_the_ranges_and_it_is_saved(demo_store, null_engine, practice_store):
    app = make_app(demo_store, null_engine, autoplay=False)
    stems = ["vocals", "drums", "bass", "chords"]

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        await type_loop(pilot, player, "0:06-0:09")
        await pilot.press("M", "down", "S", "m")  # a mute range on vocals, a solo range and a mute on drums
        assert len(m.ranges) == 2 and m.mute[1]
        await pilot.press("0")
        assert m.ranges == () and not m.mute.any() and not m.solo.any()
        assert "mix reset: every stem on, at 0 dB; 2 mute/solo ranges removed" in app.messages[-1][1]
        await wait_for(pilot, lambda: player.table.row(0).ranges == "", what="the range marks to go")
        # Heard: the full mix where the ranges were.
        null_engine.stop_stream()
        sr = m.sample_rate
        m.start_at(6 * sr)
        out = render(m, sr, block=512)
        np.testing.assert_allclose(out, m.song.data[:, 6 * sr : 7 * sr].sum(axis=0), atol=1e-5)

    run(app, scenario)
    state, _ = practice_store.load(demo_id(), stems)
    assert state.ranges == []
