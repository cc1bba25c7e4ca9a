"""The speed trainer on the CLI: the exported session, bad specs, and a live session on PulseAudio.

The song's "keys" stem is a 440 Hz sine with a 2 kHz marker burst at the
loop start (1.0 s), so each pass's start is found in the audio.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.functional.test_cli import assert_one_line_error, run
from tests.unit.test_trainer import burst_onsets, peak_hz, quiet_runs_ms

SR = 44100
LOOP = ["--loop", "0:01-0:02.5"]


@pytest.fixture
def marker_folder(tmp_path):
    folder = tmp_path / "Marker Song"
    folder.mkdir()
    t = np.arange(SR * 5) / SR
    keys = 0.5 * np.sin(2 * np.pi * 440 * t)
    burst = (t >= 1.0) & (t < 1.04)
    keys[burst] += 0.4 * np.sin(2 * np.pi * 2000 * t[burst])
    sf.write(folder / "keys.wav", keys, SR, subtype="FLOAT")
    sf.write(folder / "bass.wav", 0.2 * np.sin(2 * np.pi * 110 * t), SR, subtype="FLOAT")
    return folder


@pytest.fixture
def cache(tmp_path, marker_folder):
    cache = tmp_path / "cache"
    r = run(["import", str(marker_folder)], cache)
    assert r.returncode == 0, r.stderr
    return cache


def test_export_four_passes_at_70_80_90_100(tmp_path, cache):
    out = tmp_path / "session.wav"
    r = run(
        ["export", "marker", "--solo", "keys", *LOOP, "--trainer", "70:10:1:100", "--passes", "4", "-o", str(out)],
        cache,
    )
    assert r.returncode == 0, r.stderr
    assert "4 passes" in r.stderr
    y, sr = sf.read(out, dtype="float32")
    y = y[:, 0]
    assert sr == SR
    want = [1.5 * SR / t for t in (0.7, 0.8, 0.9, 1.0)]
    on = burst_onsets(y)
    assert len(on) == 4, on
    bounds = [0, *on[1:].tolist(), len(y)]
    for k, (g, w) in enumerate(zip(np.diff(bounds), want, strict=True)):
        assert abs(g - w) / SR * 1000 <= 10, (k, g, w)
        a, b = bounds[k] + int(0.1 * SR), bounds[k + 1] - int(0.02 * SR)
        assert abs(peak_hz(y[a:b]) - 440.0) <= 2.0, k
    assert quiet_runs_ms(y[256:]) <= 5.0


def test_export_names_the_session_when_no_file_is_given(tmp_path, cache):
    out = tmp_path / "out"
    out.mkdir()
    r = run(["export", "marker", *LOOP, "--trainer", "0.8:0.1:1", "-o", str(out)], cache)
    assert r.returncode == 0, r.stderr
    [f] = list(out.iterdir())
    assert "trainer 80-10-1-100" in f.name and f.suffix == ".wav"


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (["--trainer", "70:5"], ["--trainer 70:5", "expected START:STEP:EVERY"]),
        (["--trainer", "90:5:2:80"], ["--trainer 90:5:2:80", "START 90 % is above END 80 %"]),
        (["--trainer", "70:0:2:100"], ["STEP must be above 0"]),
        (["--trainer", "70:5:0:100"], ["EVERY must be"]),
        (["--trainer", "30:5:2:100"], ["START 30 % is outside the allowed 50–150 %"]),
        (["--trainer", "70:5:2:100", "--passes", "0"], ["--passes 0", "at least 1"]),
        (["--trainer", "70:5:2:100", "--passes", "x"], ["--passes x"]),
        (["--passes", "3"], ["--passes 3", "needs --trainer"]),
        (["--trainer", "70:5:2:100", "--tempo", "0.8"], ["--tempo 0.8", "the trainer sets the tempo"]),
    ],
)
def test_bad_trainer_input_is_one_line_exit_2_nothing_written(tmp_path, cache, flags, needles):
    out = tmp_path / "x.wav"
    for cmd in ("export", "play"):
        extra = ["-o", str(out)] if cmd == "export" else ["--device", "null"]
        r = run([cmd, "marker", *LOOP, *flags, *extra], cache)
        assert_one_line_error(r, *needles)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".x.wav")]


@pytest.mark.parametrize("cmd", ["play", "export"])
def test_trainer_without_a_loop_is_refused(tmp_path, cache, cmd):
    out = tmp_path / "x.wav"
    extra = ["-o", str(out)] if cmd == "export" else ["--device", "null"]
    r = run([cmd, "marker", "--trainer", "70:5:2:100", *extra], cache)
    assert_one_line_error(r, "--trainer 70:5:2:100", "needs a loop")
    assert not out.exists()


def test_play_on_the_null_stream_says_the_passes_played(cache):
    r = run(["play", "marker", *LOOP, "--device", "null", "--trainer", "80:20:1:100", "--passes", "2"], cache)
    assert r.returncode == 0, r.stderr
    assert "trainer: 2 of 2 passes played (last at 100 %), 0 late" in r.stderr


@pytest.mark.audio
def test_live_session_on_the_pulse_sink_has_no_gap_at_the_wraps(pulse, cache):
    env = {**pulse.env, "STEMTUI_CACHE_DIR": str(cache)}
    flags = ["--solo", "keys", *LOOP, "--trainer", "70:10:1:100", "--passes", "4"]
    with pulse.record() as rec:
        r = subprocess.run(
            [sys.executable, "-m", "stemtui", "play", "marker", "--device", "pulse", *flags],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert r.returncode == 0, r.stderr
    m = re.search(r"· underruns (\d+) ·", r.stderr)
    assert m and int(m.group(1)) == 0, r.stderr
    assert "4 of 4 passes played" in r.stderr, r.stderr
    y = rec.data[:, 0]
    on = burst_onsets(y)
    # The song plays at 100 % from A until pass 1's run is ready, then the
    # passes: the four pass starts and the start of pass 5 (cut by the stop).
    assert len(on) >= 5, on
    on = on[-5:]
    want = [1.5 * SR / t for t in (0.7, 0.8, 0.9, 1.0)]
    for k, (g, w) in enumerate(zip(np.diff(on), want, strict=True)):
        assert abs(g - w) / SR * 1000 <= 10, (k, g, w)
    assert quiet_runs_ms(y[on[0] : on[-1]]) <= 5.0  # no gap longer than 5 ms at the wraps
