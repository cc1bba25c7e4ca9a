"""The PulseAudio test harness itself works end to end.

Audio tests play from a subprocess started with ``env=pulse.env``: PortAudio
finds the ALSA ``pulse`` device only if the server is reachable when
sounddevice is imported.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from tests.pulse_harness import (
    PulseServer,
    best_correlation,
    best_lag,
    dominant_frequency,
    pid_alive,
)

SR = 44100

# Plays a .npy file (frames, 2) float32 through PortAudio's ALSA "pulse" device.
PLAYER = """
import sys
import numpy as np
import sounddevice as sd
x = np.load(sys.argv[1])
pos = 0
def callback(out, frames, time, status):
    global pos
    chunk = x[pos:pos + frames]
    out[:len(chunk)] = chunk
    out[len(chunk):] = 0
    pos += frames
    if pos >= len(x):
        raise sd.CallbackStop
with sd.OutputStream(device="pulse", samplerate=44100, channels=2, dtype="float32",
                     callback=callback) as stream:
    while stream.active:
        sd.sleep(20)
"""


def play(pulse: PulseServer, audio: np.ndarray, tmp_path) -> None:
    path = tmp_path / "play.npy"
    np.save(path, np.ascontiguousarray(audio, dtype=np.float32))
    r = subprocess.run(
        [sys.executable, "-c", PLAYER, str(path)], env=pulse.env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr


def sine(freq: float, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x, x], axis=1)


# --------------------------------------------------------------------------
# analysis helpers (no audio device)
# --------------------------------------------------------------------------


def test_dominant_frequency_is_sub_bin_accurate():
    assert dominant_frequency(sine(440.0, 1.0), SR) == pytest.approx(440.0, abs=0.1)
    assert dominant_frequency(sine(1234.5, 0.5)[:, 0], SR) == pytest.approx(1234.5, abs=0.5)


def test_best_lag_finds_offsets_in_both_directions():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((SR, 2))
    # Recording starts 0.3 s of silence early and keeps 0.2 s of silence after.
    rec = np.concatenate([np.zeros((13230, 2)), 0.5 * ref, np.zeros((8820, 2))])
    assert best_lag(rec, ref) == (13230, pytest.approx(1.0))
    # Recording misses the first 0.4 s of the reference (negative lag).
    lag, ncc = best_lag(ref[17640:], ref)
    assert lag == -17640 and ncc == pytest.approx(1.0)
    # Unrelated noise, and swapped channels, correlate poorly.
    assert best_correlation(rng.standard_normal((SR, 2)), ref) < 0.1
    assert best_correlation(ref[:, ::-1], ref) < 0.1
    # Mono against stereo: both are mixed to mono.
    assert best_correlation(ref.mean(axis=1), ref) == pytest.approx(1.0)


# --------------------------------------------------------------------------
# end to end through PulseAudio
# --------------------------------------------------------------------------


@pytest.mark.audio
def test_sine_played_through_pulse_is_recorded(pulse, tmp_path):
    ref = sine(440.0, 3.0)
    with pulse.record() as rec:
        play(pulse, ref, tmp_path)
        time.sleep(0.2)
    audio = rec.data
    assert audio.ndim == 2 and audio.shape[1] == 2 and audio.dtype == np.float32
    assert len(audio) > 2.5 * SR, f"recorded only {len(audio) / SR:.2f} s"
    assert dominant_frequency(audio, SR) == pytest.approx(440.0, abs=3.0)
    assert best_correlation(audio, ref) > 0.9
    assert np.abs(audio).max() == pytest.approx(0.5, abs=0.01)


@pytest.mark.audio
def test_noise_is_recorded_bit_exact_after_alignment(pulse, tmp_path):
    # White noise correlates only at the true lag, so this checks the alignment
    # and that the float32 path through PulseAudio is transparent.
    ref = (0.3 * np.random.default_rng(1).standard_normal((2 * SR, 2))).astype(np.float32)
    with pulse.record() as rec:
        play(pulse, ref, tmp_path)
        time.sleep(0.2)
    lag, ncc = best_lag(rec.data, ref)
    assert ncc > 0.95
    assert lag >= 0, "the recording missed the start of the stream"
    got = rec.data[lag : lag + len(ref)]
    # The body is sample-exact.  PortAudio's ALSA->pulse path turns the first
    # ~100-180 frames of a stream into zeros and drops the last ~35 ms when the
    # stream stops, so leave out the first 50 ms and the last 100 ms.
    body = slice(SR // 20, len(ref) - SR // 10)
    np.testing.assert_array_equal(got[body], ref[body])


@pytest.mark.audio
def test_recording_is_a_wall_clock_timeline(pulse):
    # With the keepalive, silence is recorded too, from start() on.
    t0 = time.monotonic()
    with pulse.record() as rec:
        time.sleep(1.0)
    wall = time.monotonic() - t0
    assert len(rec.data) / SR == pytest.approx(wall, abs=0.15)
    assert not rec.data.any()
    assert pulse.sink_inputs() == []


@pytest.mark.audio
def test_record_with_duration_is_trimmed(pulse):
    with pulse.record(seconds=0.5) as rec:
        pass
    assert rec.data.shape == (SR // 2, 2)


@pytest.mark.audio
def test_server_stop_kills_the_daemon(pulse):
    # A second server beside the session one (the fixture also checks that
    # the tools exist); the two must not clash.
    server = PulseServer(sink_name="stemtui_stopcheck", keepalive=False)
    server.start()
    pid = server.pid
    tmpdir = server.tmpdir
    try:
        assert pid_alive(pid)
        assert "stemtui_stopcheck" in server.pactl("list", "short", "sinks")
        env = server.env
    finally:
        server.stop()
    assert not pid_alive(pid)
    assert not tmpdir.exists()
    r = subprocess.run(["pactl", "info"], env=env, capture_output=True, timeout=10)
    assert r.returncode != 0
    server.stop()  # idempotent
    assert "stemtui_test" in pulse.pactl("list", "short", "sinks")
