"""Practice flags on the CLI: tempo/transpose exports and playback, backing-track names."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.functional.test_cli import assert_one_line_error, run
from tests.pulse_harness import dominant_frequency

SR = 44100


@pytest.fixture
def sine_folder(tmp_path):
    """Two stems: a 440 Hz sine ("keys") and a 660 Hz one ("vocals"), 4 s."""
    folder = tmp_path / "Sine Song"
    folder.mkdir()
    t = np.arange(SR * 4) / SR
    sf.write(folder / "keys.wav", 0.3 * np.sin(2 * np.pi * 440 * t), SR, subtype="FLOAT")
    sf.write(folder / "vocals.wav", 0.3 * np.sin(2 * np.pi * 660 * t), SR, subtype="FLOAT")
    return folder


def test_export_at_080_has_the_expected_length_and_pitch(tmp_path, sine_folder):
    cache = tmp_path / "cache"
    assert run(["import", str(sine_folder)], cache).returncode == 0
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    r = run(["export", "sine song", "--mute", "vocals", "--tempo", "0.8", "-o", str(out_dir)], cache)
    assert r.returncode == 0, r.stderr
    files = list(out_dir.iterdir())
    # The name says what was muted, and the tempo.
    assert [f.name for f in files] == ["Sine Song (no vocals, 80%).wav"]
    y, sr = sf.read(files[0], dtype="float32")
    assert sr == SR
    assert abs(len(y) - 4 * SR / 0.8) <= 0.010 * SR
    assert abs(dominant_frequency(y[SR : 4 * SR], SR) - 440.0) < 2.0


def test_export_transposed_loop_region(tmp_path, sine_folder):
    cache = tmp_path / "cache"
    run(["import", str(sine_folder)], cache)
    out = tmp_path / "up.flac"
    r = run(
        ["export", "sine song", "--solo", "keys", "--transpose", "12", "--loop", "0:01-0:03", "-o", str(out)], cache
    )
    assert r.returncode == 0, r.stderr
    y, _ = sf.read(out, dtype="float32")
    assert abs(len(y) - 2 * SR) <= 0.010 * SR  # the loop region, once
    assert abs(dominant_frequency(y[SR // 4 : -SR // 4], SR) - 880.0) < 4.0


@pytest.mark.parametrize(
    "flags,needle",
    [
        (["--tempo", "0.3"], "--tempo 0.3"),
        (["--tempo", "fast"], "--tempo fast"),
        (["--transpose", "13"], "--transpose 13"),
        (["--transpose", "0.5"], "--transpose 0.5"),
    ],
)
def test_bad_practice_flags_are_one_line_errors(tmp_path, sine_folder, flags, needle):
    cache = tmp_path / "cache"
    run(["import", str(sine_folder)], cache)
    out = tmp_path / "x.wav"
    r = run(["export", "sine song", *flags, "-o", str(out)], cache)
    assert_one_line_error(r, needle)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".x.wav")]


def dip_times(y: np.ndarray, sr: int) -> np.ndarray:
    """Centres, in seconds, of the dips in a recording's 10-ms envelope (below a third of its median)."""
    hop = sr // 100
    env = np.abs(y).max(axis=1)[: len(y) // hop * hop].reshape(-1, hop).max(axis=1)
    loud = np.nonzero(env > 0.05)[0]
    env = env[loud[0] : loud[-1] + 1]
    low = env < np.median(env) / 3
    edges = np.diff(np.concatenate([[0], low.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    return (loud[0] + (starts + ends) / 2) / 100


@pytest.mark.audio
def test_play_at_075_keeps_pitch_and_stretches_time_on_the_sink(pulse, tmp_path):
    """`stemtui play --tempo 0.75` through PulseAudio: still 440 Hz, each song second lasts 4/3 s, no underruns.

    The sine has a 0.1-s gap at each whole second of song time: in the
    recording, the gaps' spacing is the length scale (1.0 s at 100 %).
    """
    folder = tmp_path / "Gapped Sine"
    folder.mkdir()
    t = np.arange(SR * 10) / SR
    x = 0.3 * np.sin(2 * np.pi * 440 * t) * ((t % 1.0) >= 0.1)
    sf.write(folder / "keys.wav", x, SR, subtype="FLOAT")
    sf.write(folder / "vocals.wav", 0.3 * np.sin(2 * np.pi * 660 * t), SR, subtype="FLOAT")
    cache = tmp_path / "cache"
    assert run(["import", str(folder)], cache).returncode == 0
    env = {**pulse.env, "STEMTUI_CACHE_DIR": str(cache)}
    with pulse.record() as rec:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "stemtui",
                "play",
                "gapped sine",
                "--mute",
                "vocals",
                "--tempo",
                "0.75",
                "--device",
                "pulse",
                "--duration",
                "8",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert r.returncode == 0, r.stderr
    assert "underruns 0" in r.stderr, r.stderr
    y = rec.data
    loud = np.nonzero(np.abs(y).max(axis=1) > 0.1)[0]
    assert len(loud) > 4 * SR, "less than 4 s of sound recorded"
    # The stretched part (the switch is < 1 s in): the gaps are 1/0.75 s apart.
    dips = dip_times(y, SR)
    late = dips[dips > loud[0] / SR + 2.0]
    assert len(late) >= 3, dips
    spacing = np.diff(late)
    assert np.all(np.abs(spacing - 1 / 0.75) < 0.05), spacing
    # And the pitch is kept: between two gaps, 440 Hz.
    a, b = int((late[0] + 0.15) * SR), int((late[1] - 0.15) * SR)
    assert abs(dominant_frequency(y[a:b], SR) - 440.0) < 3.0
