"""`stemtui play` through a real PulseAudio server, recorded from its null sink.

The float32 path through PortAudio's ALSA ``pulse`` device is sample-exact,
so after aligning the recording to the expected mix by cross-correlation the
muted stem's absence (and a soloed stem's presence) can be checked tightly.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from stemtui.core.library.catalog import ensure_demo
from tests.pulse_harness import best_lag

pytestmark = pytest.mark.audio
SR = 44100


def play(pulse, cache, *flags: str, seconds: float = 6.0) -> tuple[np.ndarray, str]:
    env = {**pulse.env, "STEMTUI_CACHE_DIR": str(cache)}
    with pulse.record() as rec:
        r = subprocess.run(
            [sys.executable, "-m", "stemtui", "play", "demo", "--device", "pulse", "--duration", str(seconds), *flags],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 0, r.stderr
    return rec.data, r.stderr


def demo_stems(cache) -> dict[str, np.ndarray]:
    from stemtui.core.library.store import Store

    store = Store(cache)
    song = store.open(ensure_demo(store), block=True)
    return {n: song.data[i] for i, n in enumerate(song.names)}


def stem_weights(
    recording: np.ndarray, stems: dict[str, np.ndarray], expected: np.ndarray, start: int
) -> dict[str, float]:
    """Each stem's weight in the recording, by joint least squares after alignment.

    1.0 means the stem is heard at unity gain, 0.0 that it is absent. Fitting
    all stems at once keeps the stems' slight mutual correlation (kick and
    bass share low end) from leaking into the estimate.
    """
    lag, ncc = best_lag(recording, expected, max_lag=4 * SR)
    assert ncc > 0.99, f"recording does not match the expected mix (ncc {ncc:.3f})"
    # lag > 0: the expected mix starts `lag` frames into the recording.
    r0, f0 = (lag, 0) if lag >= 0 else (0, -lag)
    n = min(len(recording) - r0, len(expected) - f0)
    # Skip PortAudio's stream edges (zeros at the start, a lost tail).
    a, b = int(0.1 * SR), n - int(0.2 * SR)
    assert b - a > 5 * SR, "less than 5 s of aligned audio"
    rec = recording[r0 + a : r0 + b].reshape(-1)
    names = sorted(stems)
    cols = np.stack([stems[k][start + f0 + a : start + f0 + b].reshape(-1) for k in names], axis=1)
    w, *_ = np.linalg.lstsq(cols.astype(np.float64), rec.astype(np.float64), rcond=None)
    residual = rec - cols @ w
    assert np.abs(residual).max() < 2e-3, "something beyond the stems is in the recording"
    return dict(zip(names, w.round(4), strict=True))


def underruns(stderr: str) -> int:
    m = re.search(r"underruns (\d+)", stderr)
    assert m, stderr
    return int(m.group(1))


def test_muted_stem_is_absent(pulse, tmp_path):
    cache = tmp_path / "cache"
    stems = demo_stems(cache)
    rec, err = play(pulse, cache, "--mute", "vocals", "--from", "0:08")
    assert underruns(err) == 0, err  # a dropout would also spoil the alignment below
    start = 8 * SR
    expected = sum(stems[n] for n in ("drums", "bass", "chords"))[start : start + 7 * SR]
    w = stem_weights(rec, stems, expected, start)
    assert abs(w["vocals"]) < 0.005, w
    for n in ("drums", "bass", "chords"):
        assert w[n] == pytest.approx(1.0, abs=0.005), w
    assert underruns(err) == 0


def test_soloed_stem_is_present_alone(pulse, tmp_path):
    cache = tmp_path / "cache"
    stems = demo_stems(cache)
    rec, err = play(pulse, cache, "--solo", "bass", "--from", "0:04")
    assert underruns(err) == 0, err
    start = 4 * SR
    w = stem_weights(rec, stems, stems["bass"][start : start + 7 * SR], start)
    assert w["bass"] == pytest.approx(1.0, abs=0.005), w
    for n in ("vocals", "drums", "chords"):
        assert abs(w[n]) < 0.005, w
    assert underruns(err) == 0


def test_the_loop_wraps_in_the_recording_without_underruns(pulse, tmp_path):
    """Over ≥ 5 s with loop wraps every 1.5 s: the loop region plays again and again, no underrun."""
    cache = tmp_path / "cache"
    stems = demo_stems(cache)
    rec, err = play(pulse, cache, "--loop", "0:10-0:11.5", "--volume", "drums=-6dB", seconds=6.5)
    assert underruns(err) == 0
    assert re.search(r"stopped at 0:1\d", err), err  # it played inside the loop
    a, b = 10 * SR, int(11.5 * SR)
    gains = {"drums": 10 ** (-6 / 20)}
    region = sum(stems[n][a:b] * gains.get(n, 1.0) for n in stems)
    # The middle of the region (away from the wrap's crossfade), found once per
    # pass: at least three passes, one loop length apart, each sample-exact.
    piece = region[SR // 4 : SR // 4 + SR]
    passes, start = [], 0
    while start + len(piece) <= len(rec):
        lag, ncc = best_lag(rec[start:], piece, min_overlap=len(piece))
        if ncc < 0.99:
            break
        passes.append(start + lag)
        start += lag + len(piece)
    assert len(passes) >= 3, passes
    periods = np.diff(passes)
    assert np.all(np.abs(periods - (b - a)) <= 64), periods  # one loop length apart: it wrapped
    # And what comes after the loop's end in the song was never played.
    after = sum(stems[n][b + SR // 4 : b + SR // 4 + SR] * gains.get(n, 1.0) for n in stems)
    assert best_lag(rec, after, min_overlap=len(after))[1] < 0.5


def test_devices_lists_pulse_and_play_by_index(pulse, tmp_path):
    env = {**pulse.env, "STEMTUI_CACHE_DIR": str(tmp_path / "cache")}
    r = subprocess.run(
        [sys.executable, "-m", "stemtui", "devices"], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if " pulse " in ln + " ")
    index = line.lstrip("* ").split()[0]
    r = subprocess.run(
        [sys.executable, "-m", "stemtui", "play", "demo", "--device", index, "--duration", "0.5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "on pulse" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "stemtui", "play", "demo", "--device", "no-such-card"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "no-such-card" in r.stderr and "Traceback" not in r.stderr
