"""Tests for beat grids, beat estimation and tap tempo (stemtui.core.analysis.beats).

Estimation runs on drums synthesized here with a known tempo and first-beat
time. The first librosa call in a fresh environment JIT-compiles for ~30 s,
so every in-process estimate is made once, in one module fixture.
Measured at writing: BPM within 0.02 and phase within 3 ms on every case.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pytest

from stemtui.core.analysis.beatjob import EstimateJob, estimate_grid_in_subprocess
from stemtui.core.analysis.beats import (
    BeatGrid,
    TapTempo,
    estimate_grid,
    fold_bpm,
    grid_audio,
)
from stemtui.core.audio.song import Song, SongMeta
from stemtui.core.library import demo

SR = 44100
# (bpm, first beat in s, noise level): kick/snare/hat at common tempi.
CASES = [(92.0, 0.31, 0.0), (120.0, 0.12, 0.05), (140.0, 0.05, 0.1), (75.0, 0.4, 0.02)]


def synth_drums(bpm: float, first: float, seconds: float = 20.0, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Kick on 1 and 3, snare on 2 and 4, hats on eighths: ``(frames, 2)`` float32."""
    rng = np.random.default_rng(seed)
    n, period = int(seconds * SR), 60.0 / bpm
    t = np.arange(int(0.4 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 * t + 4.0 * (1 - np.exp(-t / 0.03)))) * np.exp(-t / 0.15)
    snare = 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.05)
    snare += 0.5 * rng.standard_normal(t.size) * np.exp(-t / 0.08)
    hat = 0.25 * np.diff(rng.standard_normal(t.size + 1)) * np.exp(-t / 0.02)
    out = np.zeros(n)

    def add(sound: np.ndarray, at: float, gain: float = 1.0) -> None:
        i = round(at * SR)
        if i < n:
            out[i : i + sound.size] += gain * sound[: n - i]

    k = 0
    while first + k * period < seconds:
        beat = first + k * period
        add(kick if k % 2 == 0 else snare, beat)
        add(hat, beat)
        add(hat, beat + period / 2, 0.6)
        k += 1
    out += noise * rng.standard_normal(n)
    out *= 0.5 / np.max(np.abs(out))
    return np.repeat(out[:, None], 2, axis=1).astype(np.float32)


def phase_error(grid: BeatGrid, first: float) -> float:
    """Seconds from the true beat ``first`` to the nearest grid beat."""
    p = grid.period
    return (grid.offset - first + p / 2) % p - p / 2


@pytest.fixture(scope="module")
def estimates() -> dict:
    """Every in-process estimate, made once (shares librosa's JIT warm-up)."""
    rng = np.random.default_rng(7)
    stems = demo.synthesize(SR)
    t = np.arange(10 * SR) / SR
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    return {
        "cases": [estimate_grid(synth_drums(b, f, noise=nz, seed=i), SR) for i, (b, f, nz) in enumerate(CASES)],
        "demo_drums": estimate_grid(stems["drums"], SR, "drums"),
        "demo_mix": estimate_grid(sum(stems.values()), SR, "mix"),
        "mono": estimate_grid(synth_drums(120.0, 0.2)[:, 0], SR, "mix"),
        "silence": estimate_grid(np.zeros((10 * SR, 2), np.float32), SR),
        "noise": estimate_grid((0.2 * rng.standard_normal((10 * SR, 2))).astype(np.float32), SR),
        "tone": estimate_grid(np.repeat(tone[:, None], 2, axis=1).astype(np.float32), SR),
    }


# -- estimation --------------------------------------------------------------
@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{b:g}bpm" for b, _, _ in CASES])
def test_estimate_tempo_and_phase(estimates, case):
    bpm, first, _ = CASES[case]
    grid = estimates["cases"][case]
    assert grid is not None and grid.source == "drums"
    assert grid.bpm == pytest.approx(bpm, abs=0.5)
    assert abs(phase_error(grid, first)) < 0.02


def test_estimate_demo_song_drums(estimates):
    for key in ("demo_drums", "demo_mix"):
        grid = estimates[key]
        assert grid is not None
        assert grid.bpm == pytest.approx(demo.DEMO_BPM, abs=1.0)
        # The demo's first downbeat is at 0:00: beat 0 must be there (not at -1).
        assert grid.offset < 0.02
    assert estimates["demo_mix"].source == "mix"


def test_estimate_accepts_mono_input(estimates):
    grid = estimates["mono"]
    assert grid is not None and grid.bpm == pytest.approx(120.0, abs=0.5) and grid.source == "mix"


@pytest.mark.parametrize("key", ["silence", "noise", "tone"])
def test_no_clear_beat_gives_none(estimates, key):
    assert estimates[key] is None


def test_estimate_at_another_sample_rate():
    audio = synth_drums(120.0, 0.25, seconds=12.0)
    import soxr

    grid = estimate_grid(soxr.resample(audio, SR, 48000), 48000)
    assert grid is not None and grid.bpm == pytest.approx(120.0, abs=0.5)
    assert abs(phase_error(grid, 0.25)) < 0.02


def test_grid_audio_prefers_drums():
    stems = {"bass": np.full((100, 2), 0.1, np.float32), "drums": np.full((100, 2), 0.2, np.float32)}
    song = Song.from_stems(stems, SR, SongMeta("t"))
    audio, source = grid_audio(song)
    assert source == "drums" and np.all(audio == np.float32(0.2))
    del stems["drums"]
    stems["vocals"] = np.full((100, 2), 0.3, np.float32)
    audio, source = grid_audio(Song.from_stems(stems, SR, SongMeta("t")))
    assert source == "mix" and audio.shape == (100, 2)
    assert np.allclose(audio, 0.4)


# -- subprocess --------------------------------------------------------------
def test_estimate_in_subprocess_cleans_up(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    grid = estimate_grid_in_subprocess(synth_drums(120.0, 0.1, seconds=12.0), SR, "drums", timeout=300)
    assert grid is not None and grid.bpm == pytest.approx(120.0, abs=0.5) and grid.source == "drums"
    assert abs(phase_error(grid, 0.1)) < 0.02
    assert list(tmp_path.iterdir()) == []


def test_subprocess_entry_point_reports_errors(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "stemtui.core.analysis.beatjob", str(tmp_path / "missing.npy"), "44100"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "error" in json.loads(run.stdout.strip().splitlines()[-1])


def test_estimate_job_silence_calls_back(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    called = threading.Event()
    job = EstimateJob(np.zeros((SR, 2), np.float32), SR, "mix", callback=lambda _job: called.set())
    assert job.wait(120)
    assert job.result is None and job.error is None and not job.cancelled
    assert called.wait(10)
    assert list(tmp_path.iterdir()) == []


def test_estimate_job_cancel_kills_child(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    called = threading.Event()
    job = EstimateJob(synth_drums(120.0, 0.1, seconds=120.0), SR, callback=lambda _job: called.set())
    for _ in range(6000):  # until the child runs (it then needs seconds to import librosa)
        if job._proc is not None or job.done.is_set():
            break
        time.sleep(0.01)
    job.cancel()
    assert job.wait(60)
    assert job.cancelled and job.result is None and job.error is None
    assert job._proc is not None and job._proc.returncode == -signal.SIGKILL
    assert not called.is_set()
    assert list(tmp_path.iterdir()) == []


def test_import_does_not_load_librosa():
    code = (
        "import sys, stemtui.core.analysis.beats, stemtui.core.analysis.beatjob, stemtui.core.audio.click;"
        " print(' '.join(sys.modules))"
    )
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert "stemtui.core.audio.click" in mods
    heavy = {m.split(".")[0] for m in mods} & {"librosa", "numba", "scipy", "textual"}
    assert not heavy


# -- BeatGrid ----------------------------------------------------------------
def test_grid_beats():
    g = BeatGrid(120.0, 0.1, 4, "drums")
    assert g.period == 0.5
    assert np.allclose(g.beat_times(0.0, 2.0), [0.1, 0.6, 1.1, 1.6])
    assert np.allclose(g.beat_times(0.6, 1.6), [0.6, 1.1])  # start included, end excluded
    assert g.beat_times(0.2, 0.3).size == 0
    assert g.next_beat(0.6) == pytest.approx(0.6)
    assert g.next_beat(0.61) == pytest.approx(1.1)
    assert g.beat_index(0.05) == -1 and g.beat_index(0.1) == 0 and g.beat_index(2.099) == 3
    assert g.is_downbeat(g.beat_index(2.1)) and not g.is_downbeat(g.beat_index(2.6))


def test_grid_folds_offset():
    assert BeatGrid(120.0, 1.35, source="tap").offset == pytest.approx(0.35)
    assert BeatGrid(120.0, -0.1, source="tap").offset == pytest.approx(0.4)
    assert 0.0 <= BeatGrid(120.0, -1e-18, source="tap").offset < 0.5


def test_grid_round_trips_through_json():
    g = BeatGrid(97.25, 0.123, 3, "mix")
    assert BeatGrid.from_dict(json.loads(json.dumps(g.to_dict()))) == g


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"bpm": 120.0, "offset": 0.0},
        {"bpm": "120", "offset": 0.0, "source": "tap"},
        {"bpm": True, "offset": 0.0, "source": "tap"},
        {"bpm": float("nan"), "offset": 0.0, "source": "tap"},
        {"bpm": 5.0, "offset": 0.0, "source": "tap"},
        {"bpm": 120.0, "offset": None, "source": "tap"},
        {"bpm": 120.0, "offset": 0.0, "source": "guess"},
        {"bpm": 120.0, "offset": 0.0, "source": "tap", "beats_per_bar": 0},
        {"bpm": 120.0, "offset": 0.0, "source": "tap", "beats_per_bar": 3.5},
    ],
)
def test_grid_from_bad_dict_raises(data):
    with pytest.raises(ValueError):
        BeatGrid.from_dict(data)


def test_fold_bpm():
    assert fold_bpm(45.0) == 90.0 and fold_bpm(240.0) == 120.0 and fold_bpm(140.0) == 140.0


# -- TapTempo ----------------------------------------------------------------
def test_tap_needs_three_taps():
    tt = TapTempo()
    assert tt.tap(10.0) is None and tt.tap(10.5) is None
    grid = tt.tap(11.0)
    assert grid is not None and grid.bpm == pytest.approx(120.0) and grid.source == "tap"


def test_tap_median_ignores_jitter():
    rng = np.random.default_rng(3)
    tt = TapTempo()
    grid = None
    for i in range(12):
        grid = tt.tap(100.0 + i * 0.6 + rng.uniform(-0.015, 0.015))
    assert grid is not None and grid.bpm == pytest.approx(100.0, abs=2.5)
    assert tt.count == 8


def test_tap_restarts_after_long_gap():
    tt = TapTempo()
    for t in (0.0, 0.5, 1.0):
        tt.tap(t)
    assert tt.tap(3.5) is None and tt.count == 1  # > 2 s: a new run
    tt.tap(3.8)
    assert tt.tap(4.1).bpm == pytest.approx(200.0)
    assert tt.tap(4.8) is None and tt.count == 1  # > 2x the interval: a new run


def test_tap_phase_and_rate():
    tt = TapTempo()
    grid = None
    for i in range(4):  # taps at 0.75x: 0.5 s wall apart is 0.375 s of song
        grid = tt.tap(50.0 + 0.5 * i, song_time=12.3 + 0.375 * i, rate=0.75)
    assert grid.bpm == pytest.approx(160.0)
    assert abs(grid.next_beat(13.4) - 13.425) < 1e-6  # a beat falls on the last tap
    assert TapTempo().tap(1.0) is None
