"""The player's practice keys through Pilot: tempo, transpose, tap, click, count-in, export.

The real app, the real engine's null stream, real tempo workers and a real
``stemtui export`` child process for `e`.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import soundfile as sf

from stemtui.ui.screens.export_screen import ExportScreen
from tests.functional.test_ui_practice import reopen, run
from tests.functional.test_ui_support import make_app, open_demo, wait_for

#: Spectrogram frame and hop, in frames (46 ms windows: a stretcher's phase changes average out).
N_FFT, HOP = 2048, 512


def _power_spectrogram(x: np.ndarray) -> np.ndarray:
    """``(frames, bins)`` power of the mono mix of ``x``."""
    mono = x.mean(axis=1) if x.ndim == 2 else x
    count = (len(mono) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(count)[:, None]
    return np.abs(np.fft.rfft(mono[idx] * np.hanning(N_FFT).astype(np.float32), axis=1)) ** 2


def stem_weights_stretched(audio: np.ndarray, stems: np.ndarray, names: list[str], tempo: float) -> dict[str, float]:
    """Each stem's weight in ``audio`` (a render at ``tempo``), by least squares on power spectrograms.

    A time-stretched render is not sample-exact, but its spectrogram at time
    t is that of the song at ``t * tempo``, and the powers of unrelated stems
    add: 1.0 = the stem is there at unity gain, 0.0 = it is absent. A render
    at another tempo fits nothing.
    """
    target = _power_spectrogram(audio)
    song_frames = np.clip(np.round(np.arange(len(target)) * tempo).astype(int), 0, None)
    cols = []
    for stem in stems:
        p = _power_spectrogram(stem)
        cols.append(p[np.minimum(song_frames, len(p) - 1)].ravel())
    w, *_ = np.linalg.lstsq(np.stack(cols, axis=1), target.ravel(), rcond=None)
    return {n: float(x) for n, x in zip(names, w, strict=True)}


def test_tempo_transpose_tap_click_count_in_are_kept(demo_store, null_engine):
    app = make_app(demo_store, null_engine)

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        for _ in range(3):
            await pilot.press("comma")
        await pilot.press("right_curly_bracket")
        assert round(m.tempo, 2) == 0.85 and m.semitones == 1
        # Heard: the audio thread switches to a stretched run (well under 5 s here).
        await wait_for(
            pilot,
            lambda: m.current_source is not m.song_source and m.current_source.tempo == 0.85,
            timeout=10,
            what="the stretched audio",
        )
        assert "85%" in player.status.practice and "+1 st" in player.status.practice
        times = []
        for _ in range(4):
            times.append(time.monotonic())
            await pilot.press("t")
            await asyncio.sleep(0.5)
        grid = m.metronome.grid
        assert grid is not None and grid.source == "tap"
        # Taps T s apart at 85 % are 60/T BPM heard, 60/(0.85 T) in song time.
        # (T is what Pilot really managed, a little over the 0.5 s asked.)
        interval = float(np.median(np.diff(times)))
        assert abs(grid.bpm - 60 / (0.85 * interval)) < 0.1 * grid.bpm
        await pilot.press("k")
        await pilot.press("c")
        assert m.metronome.click and m.metronome.count_in == 4
        assert m.click is not None and m.count_in is not None
        assert "click" in player.status.practice and "count-in 4" in player.status.practice
        again = await reopen(pilot, player)
        m2 = again.mixer
        assert round(m2.tempo, 2) == 0.85 and m2.semitones == 1
        assert m2.metronome.click and m2.metronome.count_in == 4
        assert abs(m2.metronome.grid.bpm - grid.bpm) < 1e-6
        await pilot.press("q")

    run(app, scenario)


def test_export_key_writes_the_backing_track(demo_store, null_engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app(demo_store, null_engine)

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        await pilot.press("1")  # mute the vocals
        await pilot.press("full_stop", "full_stop")  # 110 %
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen), what="the export dialog")
        path_input = app.screen.query_one("#export-path")
        assert "no vocals" in path_input.value and "110%" in path_input.value
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is player, timeout=120, what="the export")
        files = list(tmp_path.glob("*.wav"))
        assert [f.name for f in files] == ["Demo - Night Drive (no vocals, 110%).wav"]
        audio, sr = sf.read(files[0], dtype="float32")
        assert sr == m.song.sample_rate
        assert abs(len(audio) - m.song.frames / 1.1) <= 0.010 * sr
        # In the audio: the vocals are absent, the rest there at unity, at 110 %.
        w = stem_weights_stretched(audio, m.song.data, m.song.names, 1.1)
        assert abs(w.pop("vocals")) < 0.05, w
        assert all(0.85 < x < 1.15 for x in w.values()), w
        await pilot.press("q")

    run(app, scenario)
