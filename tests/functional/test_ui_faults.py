"""Faults in the player are told in one line and playback goes on (Pilot, real engine and workers).

An exception in the audio callback (a song whose samples raise when read,
tests/fault_inject.py) and a stretch worker killed with SIGKILL while it
renders each become one notification; the playhead keeps moving (the song
at 100 % while a new stretch worker renders, then the asked tempo again).
"""

from __future__ import annotations

import asyncio

from stemtui.core.library.store import Entry
from stemtui.ui.fault_notices import REPEAT_S
from tests.fault_inject import SR, sine_song
from tests.functional.test_ui_player import run
from tests.functional.test_ui_support import make_app, open_demo, wait_for
from tests.unit.test_tempo_faults import kill_stretch_workers


def _told(app, severity: str, needle: str) -> list[str]:
    return [m for s, m in app.messages if s == severity and needle in m]


def test_an_audio_callback_fault_is_one_notification_and_playback_goes_on(tmp_store, null_engine, tmp_path):
    song, data = sine_song(20.0)
    entry = Entry(
        id="faultysine",
        path=tmp_path,
        title="faulty sine",
        duration=20.0,
        sample_rate=SR,
        frames=song.frames,
        stems=["sine"],
    )
    app = make_app(tmp_store, null_engine)

    async def scenario(pilot):
        await wait_for(pilot, lambda: app.library is not None, timeout=30, what="the library")
        player = app.player_for(entry, song=song)
        await app.push_screen(player)
        await wait_for(
            pilot, lambda: player.mixer is not None and player.mixer.position > SR // 4, timeout=30, what="playback"
        )
        data.arm(3)
        await wait_for(pilot, lambda: null_engine.callback_errors == 3, timeout=30, what="three failed blocks")
        await wait_for(pilot, lambda: _told(app, "error", "audio callback failed"), timeout=30, what="the notification")
        first = _told(app, "error", "audio callback failed")[0]
        assert "InjectedFault" in first and "\n" not in first, first
        pos = player.mixer.position
        await wait_for(
            pilot, lambda: player.mixer.position > pos + SR // 2, timeout=30, what="playback after the fault"
        )
        # Told when the faults start, and at most once more (after REPEAT_S) for
        # those that came after; then nothing while no new fault comes.
        await asyncio.sleep(REPEAT_S + 0.5)
        told = _told(app, "error", "audio callback failed")
        await asyncio.sleep(1.0)
        assert _told(app, "error", "audio callback failed") == told and len(told) <= 2, told
        assert all("\n" not in t for t in told)

    run(app, scenario)


def test_a_killed_stretch_worker_is_one_notification_and_the_tempo_comes_back(demo_store, null_engine):
    from stemtui.core.tempo.stretchworker import StretchRun

    app = make_app(demo_store, null_engine)

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        await pilot.press("comma")  # 95 %: stretch workers start rendering
        assert round(m.tempo, 2) == 0.95
        await asyncio.sleep(0.2)
        assert kill_stretch_workers() >= 1
        await wait_for(pilot, lambda: _told(app, "warning", "stretch worker"), timeout=30, what="the notification")
        [line] = _told(app, "warning", "stretch worker")
        assert "\n" not in line and "playing at 100 % while it restarts" in line, line
        assert round(m.tempo, 2) == 0.95  # the asked tempo is kept
        pos = m.position
        await wait_for(pilot, lambda: m.position > pos + m.sample_rate // 2, timeout=30, what="playback after the kill")
        # A new run at 95 % plays again.
        await wait_for(
            pilot,
            lambda: isinstance(m.current_source, StretchRun) and round(m.current_source.tempo, 2) == 0.95,
            timeout=30,
            what="the stretched run after the restart",
        )
        assert m.current_source.error is None
        await asyncio.sleep(0.3)
        assert len(_told(app, "warning", "stretch worker")) == 1, "told again without new deaths"

    run(app, scenario)
