"""Recording and comparing takes in the player, through Pilot, with the device-free engine.

The null engine's input "records" a test signal (a tone) paced like the
null output; the real recorder writes it into the real take store, the
song is opened again with the take as a row, and the real comparison job
runs in its worker process. ``esc`` while recording leaves nothing behind.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from stemtui.core.library.catalog import demo_id
from stemtui.core.takes.takestore import TakeStore
from stemtui.settings import Settings
from stemtui.ui.screens.compare_screen import CompareScreen
from stemtui.ui.screens.take_dialogs import ReferenceScreen
from tests.functional.test_ui_support import make_app, open_demo, settle, wait_for

SIZE = (100, 32)
TONE_HZ = 660.0


def run(app, scenario):
    async def main():
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await scenario(pilot)

    asyncio.run(main())


@pytest.fixture
def settings(demo_store):
    return Settings.under(demo_store.root.parent, cache_dir=demo_store.root)


def tone(sr: int, seconds: float = 20.0) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)


def test_r_records_a_take_that_becomes_a_row_at_its_song_time(demo_store, null_engine, settings):
    pytest.importorskip("stemtui.core.takes.recorder")
    app = make_app(demo_store, null_engine, settings, autoplay=False)
    store = TakeStore(settings.data_dir)

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        sr = m.sample_rate
        player.takes.null_feed = tone(sr)
        await pilot.press("1", "right")  # vocals muted (the reference), the playhead at 0:05
        await settle(pilot, player)
        assert m.position == 5 * sr
        bar = player.query_one("#rec")
        assert not bar.has_class("-active")  # hidden while idle
        await pilot.press("R")
        await wait_for(pilot, lambda: player.takes.state == "recording", what="the recording")
        assert bar.has_class("-active")
        await wait_for(pilot, lambda: bar.elapsed >= 1.5, timeout=10, what="1.5 s recorded")
        assert "● REC" in str(bar.query_one("#rec-label").render())
        assert bar.level_db > -12.0  # the tone's peak is -6 dBFS
        assert m.playing
        await pilot.press("space")  # stops the take (and the backing)
        assert player.takes.state == "idle"
        await wait_for(pilot, lambda: len(player.table.names) == 5, timeout=10, what="the take's row")
        await wait_for(pilot, lambda: player.mixer is not m and player.mixer.stem_count == 5, what="the new song")
        m2 = player.mixer
        await settle(pilot, player)
        (take,) = store.takes(demo_id())
        assert take.reference == "vocals"
        assert take.start_s == pytest.approx(5.0, abs=0.05)
        assert take.duration_s >= 1.5
        assert player.table.row(4).label.startswith("take 1 · 0:05–")
        # The mix and playhead were kept across the reopen; the take plays at its song time.
        assert m2.mute.tolist() == [True, False, False, False, False]
        assert not m2.playing and m2.position >= 6 * sr
        row = m2.song.data[4]
        a = round(take.start_s * sr)
        assert not row[: a - sr // 10].any()
        body = row[a + sr // 10 : a + sr, 0]
        spectrum = np.abs(np.fft.rfft(body))
        assert abs(np.argmax(spectrum) * sr / len(body) - TONE_HZ) < 5.0
        # Its row mutes and solos like a stem's.
        await pilot.press("5")
        assert m2.mute[4] and m2.gains[4] == 0.0
        await pilot.press("5", "percent_sign")
        assert m2.solo.tolist() == [False] * 4 + [True] and m2.gains[:4].tolist() == [0.0] * 4

    run(app, scenario)


def test_esc_discards_the_take_being_recorded(demo_store, null_engine, settings):
    pytest.importorskip("stemtui.core.takes.recorder")
    app = make_app(demo_store, null_engine, settings, autoplay=False)
    store = TakeStore(settings.data_dir)

    async def scenario(pilot):
        player = await open_demo(pilot)
        player.takes.null_feed = tone(player.mixer.sample_rate)
        await pilot.press("R")
        await wait_for(pilot, lambda: player.takes.state == "recording", what="the recording")
        await wait_for(pilot, lambda: player.takes.recording.elapsed_s >= 1.2, timeout=10, what="1.2 s recorded")
        await pilot.press("escape")
        assert app.screen is player  # esc discarded the take; it did not leave the player
        assert player.takes.state == "idle" and not player.mixer.playing
        assert app.messages[-1][1] == "take discarded"
        await pilot.pause(0.3)
        assert store.takes(demo_id()) == []
        folder = store.folder(demo_id())
        assert not folder.exists() or not [p for p in folder.iterdir() if p.name.startswith(("1.", "1-"))]
        assert len(player.table.names) == 4
        await pilot.press("escape")  # and now esc leaves
        await wait_for(pilot, lambda: app.screen is not player, what="the library")

    run(app, scenario)


def test_compare_key_runs_the_analysis_and_opens_the_view(demo_store, null_engine, settings, tmp_path):
    import soundfile as sf

    entry = demo_store.get(demo_id())
    song = demo_store.open(entry, block=True)
    sr = song.sample_rate
    # The take: the vocals themselves from 0:04 to 0:12, imported at their own song time.
    part = song.stem("vocals")[4 * sr : 12 * sr].mean(axis=1)
    wav = tmp_path / "sung.wav"
    sf.write(str(wav), part, sr, subtype="FLOAT")
    store = TakeStore(settings.data_dir)
    take = store.import_file(entry.id, wav, 4.0, sr, entry.frames, name="sung")
    app = make_app(demo_store, null_engine, settings, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        await wait_for(pilot, lambda: len(player.table.names) == 5, what="the take's row")
        await pilot.press("C")  # on a stem's row: a hint, nothing else
        assert "select a take's row" in app.messages[-1][1]
        await pilot.press("up", "C")
        await wait_for(pilot, lambda: isinstance(app.screen, ReferenceScreen), what="the reference picker")
        picker = app.screen
        assert picker.stems == ["vocals", "drums", "bass", "chords"]
        await pilot.press("enter")  # the highlighted stem: vocals
        bar = player.query_one("#rec")
        await wait_for(pilot, lambda: bar.note.startswith("comparing"), what="the progress notice")
        assert bar.has_class("-active")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), timeout=90, what="the comparison")
        assert bar.note == ""
        view = app.screen
        r = view.result
        assert r.take_id == take.id and r.reference == "vocals"
        assert r.notes, "the vocals' notes are found"
        assert r.median_abs_cents < 10 and abs(r.offset_ms) < 15  # the take is the reference itself
        await wait_for(pilot, lambda: view.ready, what="the note list")
        await pilot.press("enter")  # loops the first note
        await wait_for(pilot, lambda: app.screen is player, what="the player")
        start, end, enabled = player.mixer.loop
        assert enabled and start <= round(r.notes[0].ref_start * sr) < end

    run(app, scenario)


def test_the_count_in_plays_first_and_is_not_in_the_take(demo_store, null_engine, settings):
    from stemtui.core.analysis.beats import BeatGrid

    pytest.importorskip("stemtui.core.takes.recorder")

    app = make_app(demo_store, null_engine, settings, autoplay=False)
    store = TakeStore(settings.data_dir)

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        sr = m.sample_rate
        player.takes.null_feed = tone(sr)
        # As tap tempo would set it. 60 BPM: the count-in (4 s) outlasts a
        # key press on a busy machine (Pilot waits for the app to go idle).
        m.metronome.set_grid(BeatGrid(60.0, source="tap"))
        await pilot.press("c")  # count-in 4: four beats at 60 BPM, 4 s
        assert m.metronome.count_in == 4
        await pilot.press("right")
        await settle(pilot, player)
        await pilot.press("R")
        await wait_for(pilot, lambda: m.counting_in, what="the count-in")
        assert player.takes.state == "counting"
        bar = player.query_one("#rec")
        await pilot.pause(0.1)
        assert "count-in" in str(bar.query_one("#rec-label").render())
        assert m.position == 5 * sr  # the song waits for the count-in
        await wait_for(pilot, lambda: player.takes.state == "recording", timeout=10, what="the recording")
        await wait_for(pilot, lambda: bar.elapsed >= 1.0, timeout=10, what="1 s recorded")
        await pilot.press("R")  # R stops too
        await wait_for(pilot, lambda: len(player.table.names) == 5, timeout=10, what="the take's row")
        (take,) = store.takes(demo_id())
        # The take starts where the song did, after the count-in: the count-in's input was trimmed.
        assert take.start_s == pytest.approx(5.0, abs=0.05)

    run(app, scenario)
