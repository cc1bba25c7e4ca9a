"""Takes in the player, through Pilot on the real engine's null stream and the real take store.

A take imported with the store's own ``import_file`` (as ``stemtui takes
SONG import`` does) shows as a row of the stem table; mute, solo and volume
act on it like on any stem, in the mixer's gains and in what the mix renders
(through the callback's own code); ``F2`` renames it and ``x`` deletes it.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import soundfile as sf

from stemtui.core.audio.mixer import Mixer, db_to_gain
from stemtui.core.library.catalog import demo_id
from stemtui.core.library.export import render_blocks
from stemtui.core.takes.takestore import TakeStore
from stemtui.settings import Settings
from stemtui.ui.screens.dialogs import ConfirmScreen
from stemtui.ui.screens.take_dialogs import TakeNameScreen
from tests.functional.test_ui_support import make_app, open_demo, settle, wait_for

SIZE = (100, 32)
AT_S, TAKE_S, TONE_HZ = 2.0, 1.5, 880.0


def run(app, scenario):
    async def main():
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await scenario(pilot)

    asyncio.run(main())


@pytest.fixture
def take_setup(demo_store, tmp_path):
    """The demo with one take: a 1.5-s 880 Hz tone whose t=0 is song time 2.0 s."""
    settings = Settings.under(demo_store.root.parent, cache_dir=demo_store.root)
    entry = demo_store.get(demo_id())
    sr = entry.sample_rate
    t = np.arange(round(TAKE_S * sr)) / sr
    tone = (0.5 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    wav = tmp_path / "my take.wav"
    sf.write(str(wav), tone, sr, subtype="FLOAT")
    takes = TakeStore(settings.data_dir)
    take = takes.import_file(entry.id, wav, AT_S, sr, entry.frames)
    return settings, takes, take, tone


def rendered(m: Mixer, start_s: float, end_s: float) -> np.ndarray:
    """What the live mixer's mix sounds like over a span: a fresh mixer on its song and gains, rendered."""
    off = Mixer(m.song)
    for i in range(m.stem_count):
        off.set_volume(i, float(m.volume[i]))
        off.set_mute(i, bool(m.mute[i]))
        off.set_solo(i, bool(m.solo[i]))
    sr = m.sample_rate
    return np.concatenate(list(render_blocks(off, round(start_s * sr), round(end_s * sr))))


def test_a_take_is_a_row_with_mute_solo_volume_heard_in_the_mix(demo_store, null_engine, take_setup):
    settings, _, take, tone = take_setup
    app = make_app(demo_store, null_engine, settings, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        await wait_for(pilot, lambda: len(player.table.names) == 5, what="the take's row")
        m = player.mixer
        assert m.song.names == ["vocals", "drums", "bass", "chords", f"take:{take.id}"]
        row = player.table.row(4)
        assert row.label == "take 1 · 0:02–0:04" and row.has_class("-take")
        # The take sits at its song time: silent before 2.0 s, the tone after.
        data = m.song.data[4]
        sr = m.sample_rate
        a = round(AT_S * sr)
        assert not data[:a].any()
        assert np.allclose(data[a : a + len(tone), 0], tone, atol=1e-6)
        # 5 mutes it, shift+5 solos it: in the mixer and in the table.
        await pilot.press("5")
        assert m.mute.tolist() == [False, False, False, False, True] and row.muted
        assert m.gains[4] == 0.0
        await pilot.press("5", "percent_sign")
        assert m.solo.tolist() == [False, False, False, False, True] and row.soloed
        assert m.gains.tolist()[:4] == [0.0] * 4 and m.gains[4] == 1.0
        # Soloed, the mix is the take alone, at its place.
        mix = rendered(m, AT_S - 0.5, AT_S + TAKE_S + 0.5)
        half = round(0.5 * sr)
        assert np.abs(mix[: half - 1024]).max() < 1e-4  # the backing is silent (fade margin aside)
        body = mix[half + 1024 : half + len(tone) - 1024, 0]
        assert np.allclose(body, tone[1024 : len(tone) - 1024], atol=1e-3)
        # The selected row's volume: -6 dB on the take is heard 6 dB down.
        await pilot.press("down", "down", "down", "down")
        assert player.table.selected == 4
        await pilot.press(*["minus"] * 6)
        assert m.volume[4] == pytest.approx(db_to_gain(-6.0))
        assert row.volume_bar.gain == pytest.approx(db_to_gain(-6.0))
        mix = rendered(m, AT_S, AT_S + TAKE_S)
        assert np.abs(mix[1024:-1024, 0]).max() == pytest.approx(0.5 * db_to_gain(-6.0), rel=0.02)
        # Solo off, take muted: the backing plays without it.
        await pilot.press("percent_sign", "m")
        assert m.gains[:4].tolist() == [1.0] * 4 and m.gains[4] == 0.0
        backing = rendered(m, AT_S, AT_S + TAKE_S)
        m.set_mute(4, False)
        with_take = rendered(m, AT_S, AT_S + TAKE_S)
        diff = (with_take - backing)[1024:-1024, 0]
        assert np.allclose(diff, tone[1024 : len(tone) - 1024] * db_to_gain(-6.0), atol=1e-3)

    run(app, scenario)


def test_f2_renames_and_x_deletes_a_take_the_mix_is_kept(demo_store, null_engine, take_setup):
    settings, takes, take, _ = take_setup
    app = make_app(demo_store, null_engine, settings, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        await wait_for(pilot, lambda: len(player.table.names) == 5, what="the take's row")
        # On a stem's row the take keys say what to do.
        await pilot.press("f2")
        assert "select a take's row" in app.messages[-1][1]
        await pilot.press("1", "up")  # vocals muted; the cursor wraps to the take
        assert player.table.selected == 4
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, TakeNameScreen), what="the name prompt")
        field = app.screen.query_one("#take-name")
        assert field.value == "take 1"
        field.value = "verse, try 2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is player, what="the player")
        await wait_for(pilot, lambda: player.table.row(4).label.startswith("verse, try 2"), what="the new name")
        assert takes.get(take.song_id, take.id).name == "verse, try 2"
        # x asks first; n keeps it.
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is player, what="the player")
        assert [t.id for t in takes.takes(take.song_id)] == [take.id]
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(player.table.names) == 4, what="the row to go")
        await wait_for(pilot, lambda: player.mixer.stem_count == 4, what="the song without the take")
        await settle(pilot, player)
        assert takes.takes(take.song_id) == []
        assert not take.path.exists()
        assert player.mixer.mute.tolist() == [True, False, False, False]  # the mix survived the reopen

    run(app, scenario)
