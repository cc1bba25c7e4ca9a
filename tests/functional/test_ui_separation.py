"""Separating through the UI: real Pilot, real demucs code in the real worker process.

The model is demucs's ``demucs_unittest`` (random weights, no download).
HF_HUB_OFFLINE is set and HF_HOME points at an empty folder, so nothing
is fetched and a named model that is not there fails the way it does
offline.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
import soundfile as sf
from textual.widgets import DataTable, Input

from stemtui.core.separation.splitter import SeparationOptions
from stemtui.ui.screens.dialogs import ModelScreen
from stemtui.ui.screens.help import HelpScreen
from stemtui.ui.screens.library_screen import LibraryScreen
from stemtui.ui.screens.player import PlayerScreen
from stemtui.ui.screens.separation_screen import SeparationScreen
from tests.functional.test_ui_support import make_app, wait_for
from tests.tiny_models import test_audio

pytest.importorskip("torch")

SR = 44100
SIZE = (100, 30)
UNITTEST_STEMS = ["vocals", "drums", "bass", "other"]


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, an empty HuggingFace cache (the separation worker reads these)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def write_song(path, seconds: float, seed: int = 0):
    """A WAV of noise and tones to separate."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), test_audio(seconds, SR, seed=seed), SR)
    return path


def unittest_options(segment: float) -> SeparationOptions:
    """``demucs_unittest`` cut in short segments, so progress comes in many steps."""
    return SeparationOptions(model="demucs_unittest", segment=segment, precision="fp32")


def run(app, scenario, size=SIZE):
    async def main():
        async with app.run_test(size=size, notifications=True) as pilot:
            await wait_for(pilot, lambda: app.library is not None and app.library.is_mounted, what="the library")
            await scenario(pilot)

    asyncio.run(main())


def separating_rows(lib: LibraryScreen) -> list[str]:
    """The state cells of the library rows that are separating."""
    table = lib.query_one("#songs", DataTable)
    cells = [str(table.get_row_at(i)[-1]) for i in range(table.row_count)]
    return [c for c in cells if c.startswith(("separating", "sep.", "loading"))]


def no_traceback(app) -> None:
    assert not any("Traceback" in m for _, m in app.messages), app.messages


def test_separating_a_file_shows_progress_then_opens_the_player(tmp_store, null_engine, tmp_path, settings):
    """`stemtui FILE`: the separation screen, 100 %, then the player on the stored stems; `r` separates again."""
    wav = write_song(tmp_path / "music" / "Tune.wav", 10.0)
    app = make_app(tmp_store, null_engine, settings.replace(model="demucs_unittest"), path=wav, autoplay=False)

    async def scenario(pilot):
        await wait_for(pilot, lambda: isinstance(app.screen, SeparationScreen), what="the separation screen")
        sep = app.screen
        panel, run_ = sep.panel, sep.run
        assert run_.options.model == "demucs_unittest"
        seen = []

        def progressed():
            if app.screen is sep and panel.progress is not None:
                seen.append((panel.progress.fraction, sep.query_one("#sep-bar").percentage))
            return isinstance(app.screen, PlayerScreen)

        await wait_for(pilot, progressed, timeout=60, what="the player")
        fractions = [f for f, _ in seen]
        assert fractions and fractions == sorted(fractions)
        assert fractions[-1] == 1.0 and seen[-1][1] == 1.0  # the bar reached 100 %
        assert panel.progress.device == "cpu" and panel.progress.audio_total_s == pytest.approx(10.0)
        player = app.screen
        await wait_for(pilot, lambda: player.mixer is not None, what="the mixer")
        assert player.mixer.song.names == UNITTEST_STEMS
        [entry] = tmp_store.entries()
        assert entry.ok and entry.model == "demucs_unittest" and entry.stems == UNITTEST_STEMS
        assert entry.source == str(wav.resolve()) and entry.title == "Tune"
        assert player.entry.id == entry.id
        assert list(tmp_store.tmp_dir.iterdir()) == []
        assert any(m.startswith("stored: Tune") for _, m in app.messages), app.messages

        # `r` in the library: the same file again, two stems this time.
        await pilot.press("q")
        lib = app.library
        await wait_for(pilot, lambda: app.screen is lib and lib.highlighted_id() == entry.id, what="the library")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelScreen), what="the model dialog")
        app.screen.query_one("#model-name", Input).value = "demucs_unittest"
        app.screen.query_one("#two-stems").value = True
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(tmp_store.entries()) == 2, timeout=60, what="the second separation")
        await wait_for(
            pilot, lambda: isinstance(app.screen, PlayerScreen) and app.screen.mixer is not None, what="the player"
        )
        assert app.screen.mixer.song.names == ["vocals", "instrumental"]
        again = next(e for e in tmp_store.entries() if e.id != entry.id)
        assert again.options["two_stems"] == "vocals" and again.model == "demucs_unittest"

        # The same file and options again: the cache answers, the player opens.
        await pilot.press("q")
        app.request_separation(wav)
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, PlayerScreen) and app.screen.entry.id == entry.id,
            what="the cached song",
        )
        assert app.messages[-1][1].startswith("already separated: Tune") and len(tmp_store.entries()) == 2
        no_traceback(app)

    run(app, scenario)


def test_esc_cancels_and_leaves_nothing(tmp_store, null_engine, tmp_path):
    wav = write_song(tmp_path / "Long one.wav", 40.0, seed=1)
    app = make_app(tmp_store, null_engine, separation_options=unittest_options(4.0))

    async def scenario(pilot):
        run_ = app.request_separation(wav)
        await wait_for(pilot, lambda: isinstance(app.screen, SeparationScreen), what="the separation screen")
        await wait_for(
            pilot,
            lambda: run_.progress is not None and run_.progress.fraction > 0,
            timeout=30,
            what="the first segment",
        )
        assert run_.progress.fraction < 1.0
        assert separating_rows(app.library) == [f"separating {run_.percent}%"]
        task = run_.job.task
        await pilot.press("escape")
        assert app.screen is app.library
        await wait_for(pilot, lambda: run_.phase == "cancelled", timeout=10, what="the cancel")
        assert any("separation cancelled, nothing stored" in m for _, m in app.messages), app.messages
        assert task._proc.poll() is not None  # the worker process is gone
        assert tmp_store.entries() == []
        assert list(tmp_store.tmp_dir.iterdir()) == []
        assert separating_rows(app.library) == []
        no_traceback(app)

    run(app, scenario)


def test_missing_weights_offline_become_a_one_line_notification(tmp_store, null_engine, tmp_path, settings):
    wav = write_song(tmp_path / "song.wav", 3.0)
    app = make_app(tmp_store, null_engine, settings.replace(model="htdemucs"), path=wav)

    async def scenario(pilot):
        await wait_for(pilot, lambda: any(s == "error" for s, _ in app.messages), timeout=60, what="the error")
        [message] = [m for s, m in app.messages if s == "error"]
        assert "--model-repo" in message and "htdemucs" in message and "\n" not in message
        no_traceback(app)
        await wait_for(pilot, lambda: app.screen is app.library, what="back in the library")
        assert tmp_store.entries() == [] and list(tmp_store.tmp_dir.iterdir()) == []
        await pilot.press("question_mark")  # still usable
        assert isinstance(app.screen, HelpScreen)

    run(app, scenario)


def test_a_bad_file_becomes_a_notification(tmp_store, null_engine, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    app = make_app(tmp_store, null_engine, separation_options=unittest_options(4.0))

    async def scenario(pilot):
        app.request_separation(bad)
        await wait_for(pilot, lambda: any(s == "error" for s, _ in app.messages), timeout=20, what="the error")
        [message] = [m for s, m in app.messages if s == "error"]
        assert "notes.wav" in message and "\n" not in message
        no_traceback(app)
        await wait_for(pilot, lambda: app.screen is app.library, what="back in the library")
        assert list(tmp_store.tmp_dir.iterdir()) == []

    run(app, scenario)


def test_play_now_opens_the_player_while_the_song_grows(tmp_store, null_engine, tmp_path):
    """Play now, leave the player (the library shows separating NN%), come back, and hear it to the end."""
    wav = write_song(tmp_path / "Growing.wav", 60.0, seed=2)
    app = make_app(tmp_store, null_engine, separation_options=unittest_options(4.0))

    async def scenario(pilot):
        run_ = app.request_separation(wav)
        await wait_for(pilot, lambda: run_.playable, timeout=30, what="the first chunk")
        await pilot.press("p")
        await wait_for(
            pilot, lambda: isinstance(app.screen, PlayerScreen) and app.screen.mixer is not None, what="the player"
        )
        player, song = app.screen, run_.song
        assert player.mixer.song is song and song.names == [
            "vocals",
            "drums",
            "bass",
            "other",
        ]  # the store's order, as after
        first = song.available
        assert 0 < first < song.frames and run_.active
        assert player.mixer.playing
        await wait_for(pilot, lambda: song.available > first, timeout=20, what="the song to grow")
        await pilot.pause(0.1)
        assert player.status.separating.startswith("separating ")
        assert player.timeline.available is not None and player.timeline.available < song.duration

        # Leaving the player keeps the separation going; the library shows it.
        await pilot.press("q")
        lib = app.library
        assert app.screen is lib and run_.active
        assert separating_rows(lib) and separating_rows(lib)[0].startswith("separating ")
        assert lib.highlighted() is not None
        await pilot.press("up", "enter")  # the separating row (on top): back to its screen
        await wait_for(pilot, lambda: isinstance(app.screen, SeparationScreen), what="the separation screen")
        await pilot.press("p")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, PlayerScreen) and app.screen.mixer is not None,
            what="the player again",
        )
        player = app.screen
        await wait_for(pilot, lambda: run_.phase == "done", timeout=60, what="the end of the separation")
        assert app.screen is player and player.mixer.playing and player.mixer.song is song
        assert song.complete.is_set()
        await pilot.pause(0.15)
        assert player.status.separating == "" and player.timeline.available is None
        [entry] = tmp_store.entries()
        assert entry.ok and entry.title == "Growing"
        assert any(m.startswith("stored: Growing") for _, m in app.messages)
        assert separating_rows(lib) == [] and lib.entries[0].id == entry.id
        no_traceback(app)

    run(app, scenario)


def test_library_shows_separations_of_other_processes(demo_store, null_engine):
    """Another stemtui separating (its progress file in the store's tmp/) shows until its process ends."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    folder = demo_store.tmp_dir / f"0123456789abcdef.{other.pid}.cafe0000"
    folder.mkdir()
    (folder / "progress.json").write_text(json.dumps({"title": "Other Song", "fraction": 0.42, "pid": other.pid}))
    app = make_app(demo_store, null_engine)

    async def scenario(pilot):
        lib = app.library
        await wait_for(pilot, lambda: separating_rows(lib) == ["separating 42%"], timeout=5, what="the other row")
        assert "1 separating" in lib.query_one("#library-title").detail
        await pilot.press("up", "enter")
        assert app.screen is lib and "another stemtui" in app.messages[-1][1]
        other.kill()
        other.wait()
        await wait_for(pilot, lambda: separating_rows(lib) == [], timeout=5, what="the row to go")
        assert len(lib.entries) == 1

    try:
        run(app, scenario)
    finally:
        other.kill()
        other.wait()


def test_reseparate_needs_a_source_file(demo_store, null_engine, tmp_path):
    app = make_app(demo_store, null_engine)

    async def scenario(pilot):
        lib = app.library
        await wait_for(pilot, lambda: lib.highlighted() is not None, what="the demo row")
        await pilot.press("r")
        assert "no mix to separate again" in app.messages[-1][1]
        # An entry whose source file was deleted since.
        entry = lib.highlighted()
        manifest = entry.path / "manifest.json"
        data = json.loads(manifest.read_text())
        data.update(source=str(tmp_path / "gone.wav"), model="htdemucs")
        manifest.write_text(json.dumps(data))
        lib.reload()
        await pilot.press("r")
        assert "no longer exists" in app.messages[-1][1] and "gone.wav" in app.messages[-1][1]
        assert app.screen is lib

    run(app, scenario)


def test_quitting_while_separating_stops_the_worker_and_cleans_up(tmp_store, null_engine, tmp_path):
    wav = write_song(tmp_path / "Long one.wav", 40.0, seed=3)
    app = make_app(tmp_store, null_engine, separation_options=unittest_options(4.0))
    seen = {}

    async def scenario(pilot):
        run_ = app.request_separation(wav)
        await wait_for(
            pilot, lambda: run_.job is not None and run_.job.task is not None, timeout=20, what="the worker process"
        )
        seen["task"] = run_.job.task
        await pilot.press("ctrl+q")  # the model may still be loading: song() is waiting

    run(app, scenario)
    assert seen["task"]._proc.poll() is not None
    assert tmp_store.entries() == [] and list(tmp_store.tmp_dir.iterdir()) == []


def test_a_killed_worker_is_one_notification_and_r_retries(tmp_store, null_engine, tmp_path):
    import os
    import signal

    wav = write_song(tmp_path / "Killed.wav", 30.0, seed=5)
    app = make_app(tmp_store, null_engine, separation_options=unittest_options(4.0))

    async def scenario(pilot):
        run_ = app.request_separation(wav)
        await wait_for(
            pilot,
            lambda: run_.progress is not None and run_.progress.fraction > 0,
            timeout=60,
            what="the first segment",
        )
        os.kill(run_.job.task.pid, signal.SIGKILL)
        await wait_for(pilot, lambda: run_.phase == "failed", timeout=20, what="the death")
        died = [m for _, m in app.messages if "worker died" in m]
        assert died == ["Killed.wav: the separation worker died (killed by SIGKILL); nothing stored; press r to retry"]
        assert isinstance(app.screen, SeparationScreen) and app.screen.run is run_
        assert tmp_store.entries() == [] and list(tmp_store.tmp_dir.iterdir()) == []
        no_traceback(app)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.separations.run is not run_, what="the retry")
        again = app.separations.run
        assert again.path == run_.path and again.options == run_.options
        await wait_for(pilot, lambda: again.phase == "done", timeout=120, what="the retried separation")
        assert [e.title for e in tmp_store.entries()] == ["Killed"]
        # ... and its player opens (the test ends only once it has: not mid-mount).
        await wait_for(
            pilot, lambda: isinstance(app.screen, PlayerScreen) and app.screen.mixer is not None, what="the player"
        )

    run(app, scenario)
