"""`stemtui record` through a real PulseAudio server: loopback alignment, a played-in signal, kill -9, no input.

The ALSA ``pulse`` device records from the source named by ``PULSE_SOURCE``;
the harness sets it to its sink's monitor, so by default what the recorder
plays comes back as its input (a loopback). A second null sink, whose monitor
is the input, takes a known signal played with ``pacat``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from stemtui.core.library.catalog import ensure_demo
from stemtui.core.library.store import Store
from stemtui.core.takes.takestore import TakeStore
from tests.pulse_harness import best_lag, dominant_frequency

pytestmark = pytest.mark.audio
SR = 44100


def cli_env(pulse, tmp_path, **extra: str) -> dict[str, str]:
    return {
        **pulse.env,
        "STEMTUI_CACHE_DIR": str(tmp_path / "cache"),
        "STEMTUI_DATA_DIR": str(tmp_path / "data"),
        "STEMTUI_LOG_DIR": str(tmp_path / "log"),
        **extra,
    }


def stemtui(env, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stemtui", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def demo_id(tmp_path) -> str:
    return ensure_demo(Store(tmp_path / "cache")).id


def underruns(stderr: str) -> int:
    m = re.search(r"underruns (\d+)", stderr)
    assert m, stderr
    return int(m.group(1))


def overflows(stderr: str) -> int:
    m = re.search(r"input overflows (\d+)", stderr)
    assert m, stderr
    return int(m.group(1))


def lags_ms(audio: np.ndarray, mix: np.ndarray, start_s: float, max_lag: int = SR // 10) -> list[float]:
    """Per second of the take, how late (ms) it holds the mix against where ``start_s`` places it.

    The take's frame k was heard at song time start_s + k / SR. PortAudio's
    stream start gives ~100-180 zero frames: the first 0.2 s are left out.
    A second that spans an output underrun (the audio shifts inside it)
    matches less well: it is left out, and at most a quarter may be.
    """
    s0 = round(start_s * SR)
    lags, poor = [], []
    for a in range(int(0.2 * SR), audio.shape[0] - SR + 1, SR):
        lag, ncc = best_lag(audio[a : a + SR], mix[s0 + a : s0 + a + SR], max_lag=max_lag)
        if ncc > 0.95:
            lags.append(round(lag / SR * 1000, 2))
        else:
            poor.append(f"{a / SR:.1f} s: ncc {ncc:.3f}")
    assert len(poor) <= len(lags) // 3, f"the take is not the mix: {poor}"
    return lags


def test_loopback_take_lines_up_with_the_exported_mix(pulse, tmp_path):
    env = cli_env(pulse, tmp_path)
    song_id = demo_id(tmp_path)
    r = stemtui(env, "record", "demo", "--device", "pulse", "--input", "pulse", "--duration", "8", "--mute", "vocals")
    assert r.returncode == 0, r.stderr
    take_id = r.stdout.strip()
    assert re.fullmatch(r"\d+", take_id), r.stdout
    assert overflows(r.stderr) == 0
    take = TakeStore(tmp_path / "data").get(song_id, take_id)
    assert take.reference == "vocals"
    if underruns(r.stderr) == 0:
        assert abs(take.frames - 8 * SR) <= 512, take.frames
    else:  # placed by what held longest, the head may precede song time 0: trimmed (see the test below)
        assert 6 * SR <= take.frames <= 8 * SR + 512, take.frames
    audio = TakeStore(tmp_path / "data").read(take)

    out = tmp_path / "mix.wav"
    # The same mix: the take itself (now a row of the song) left out.
    e = stemtui(env, "export", "demo", "--mute", "vocals", "--mute", f"take:{take_id}", "-o", str(out))
    assert e.returncode == 0, e.stderr
    mix, sr = sf.read(out, dtype="float32")
    assert sr == SR
    lags = lags_ms(audio, mix, take.start_s)
    # An output underrun (a loaded machine) delays what is heard from then on,
    # and a linear take follows what was heard: the take is placed by what
    # held longest, and without an underrun the whole take lines up.
    assert abs(float(np.median(lags))) <= 5.0, f"the take is off: {lags} ms per second"
    if underruns(r.stderr) == 0:
        assert max(abs(x) for x in lags) <= 5.0, f"the take drifts: {lags} ms"


@pytest.fixture
def mic(pulse):
    """A second null sink, ``mic``; its monitor is the recorder's input."""
    index = pulse.pactl("load-module", "module-null-sink", "sink_name=mic", f"rate={SR}").strip()
    try:
        yield "mic"
    finally:
        pulse.pactl("unload-module", index, check=False)


def test_take_records_a_signal_played_into_the_input(pulse, mic, tmp_path):
    env = cli_env(pulse, tmp_path, PULSE_SOURCE=f"{mic}.monitor")
    song_id = demo_id(tmp_path)
    t = np.arange(20 * SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 660.0 * t)).astype(np.float32)
    signal_file = tmp_path / "tone.raw"
    np.repeat(tone[:, None], 2, axis=1).tofile(signal_file)
    player = subprocess.Popen(
        [
            "pacat",
            "-d",
            mic,
            "--format=float32le",
            f"--rate={SR}",
            "--channels=2",
            "--latency-msec=20",
            str(signal_file),
        ],
        env=pulse.env,
    )
    try:
        r = stemtui(env, "record", "demo", "--device", "pulse", "--input", "pulse", "--duration", "5")
    finally:
        player.terminate()
        player.wait(5)
    assert r.returncode == 0, r.stderr
    assert overflows(r.stderr) == 0
    store = TakeStore(tmp_path / "data")
    take = store.get(song_id, r.stdout.strip())
    audio = store.read(take)[int(0.5 * SR) :]
    assert np.sqrt(np.mean(audio**2)) > 0.1, "the take is (nearly) silent"
    assert abs(dominant_frequency(audio, SR) - 660.0) < 2.0
    # Only the tone: the demo played into the other sink is not in it.
    residual = audio[:, 0] - np.mean(audio[:, 0])
    spectrum = np.abs(np.fft.rfft(residual * np.hanning(len(residual))))
    freqs = np.fft.rfftfreq(len(residual), 1 / SR)
    assert spectrum[np.abs(freqs - 660) > 20].max() < 0.01 * spectrum.max()


def test_kill_9_mid_take_leaves_the_store_intact_and_the_take_recoverable(pulse, tmp_path):
    env = cli_env(pulse, tmp_path)
    song_id = demo_id(tmp_path)
    folder = tmp_path / "data" / "takes" / song_id
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stemtui",
            "record",
            "demo",
            "--device",
            "pulse",
            "--input",
            "pulse",
            "--duration",
            "30",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        part = folder / "1.part.f32"
        while time.monotonic() < deadline:
            if part.exists() and part.stat().st_size >= 3 * SR * 2 * 4:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"no 3 s of take reached the disk: {proc.stderr.read1().decode() if proc.poll() else ''}")
        time.sleep(0.3)
        written = part.stat().st_size // 8  # frames the recorder had synced by now, at least
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    assert (folder / "1.part.json").exists()
    # The song is untouched and the library lists it.
    info = stemtui(env, "info", "demo")
    assert info.returncode == 0, info.stderr
    # The next recording recovers the killed take first, then records its own.
    r = stemtui(env, "record", "demo", "--device", "null", "--input", "null", "--duration", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "2"
    assert not list(folder.glob("*.part.*"))
    store = TakeStore(tmp_path / "data")
    recovered = store.get(song_id, "1")
    assert recovered.frames >= written - SR  # at most ~1 s lost
    audio = store.read(recovered)
    assert audio.shape == (recovered.frames, 2)
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0.01  # it is the mix that played


def test_missing_input_device_is_one_line_and_playback_still_works(pulse, tmp_path):
    song_id = demo_id(tmp_path)
    # An input name PortAudio does not have: bad input, exit 2.
    env = cli_env(pulse, tmp_path)
    r = stemtui(env, "record", "demo", "--device", "pulse", "--input", "no-such-mic", "--duration", "2")
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "stemtui: --input no-such-mic: no input device by that name (see `stemtui devices`)"
    ]
    # The pulse device exists, but its source does not: the input cannot open, exit 1.
    env = cli_env(pulse, tmp_path, PULSE_SOURCE="no_such_source")
    r = stemtui(env, "record", "demo", "--device", "pulse", "--input", "pulse", "--duration", "2")
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stemtui: pulse: cannot open input"), r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ""
    assert TakeStore(tmp_path / "data").takes(song_id) == []
    folder = tmp_path / "data" / "takes" / song_id
    assert not folder.exists() or not list(folder.glob("*.part.*"))
    # Playback does not need the input.
    with pulse.record() as rec:
        p = stemtui(env, "play", "demo", "--device", "pulse", "--duration", "3")
    assert p.returncode == 0, p.stderr
    assert np.abs(rec.data).max() > 0.05


def test_calibrate_measures_the_loopback_and_record_applies_it(pulse, tmp_path):
    env = cli_env(pulse, tmp_path)
    r = stemtui(env, "calibrate", "--device", "pulse", "--input", "pulse")
    assert r.returncode == 0, r.stderr
    correction_ms = float(r.stdout.strip())
    # PortAudio's stream times already hold the latencies: a loopback needs almost no correction.
    assert abs(correction_ms) < 5.0, r.stdout
    doc = json.loads((tmp_path / "data" / "calibration.json").read_text())
    assert doc["version"] == 1
    assert doc["pairs"]["pulse -> pulse"]["offset_ms"] == pytest.approx(correction_ms, abs=0.05)
    # A stored correction is applied: a (wrong) +250 ms one places the take 250 ms late.
    doc["pairs"]["pulse -> pulse"]["offset_ms"] = 250.0
    (tmp_path / "data" / "calibration.json").write_text(json.dumps(doc))
    song_id = demo_id(tmp_path)
    r = stemtui(env, "record", "demo", "--device", "pulse", "--input", "pulse", "--from", "2", "--duration", "3")
    assert r.returncode == 0, r.stderr
    store = TakeStore(tmp_path / "data")
    take = store.get(song_id, r.stdout.strip())
    assert take.start_s == pytest.approx(2.0, abs=0.15)  # trimmed to --from, then placed by the clocks
    out = tmp_path / "mix.wav"
    assert stemtui(env, "export", "demo", "--mute", f"take:{take.id}", "-o", str(out)).returncode == 0
    mix, _ = sf.read(out, dtype="float32")
    lags = lags_ms(store.read(take), mix, take.start_s, max_lag=SR // 2)
    assert abs(float(np.median(lags)) - 250.0) <= 5.0, f"take placed {lags} ms late, expected 250"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 0), (signal.SIGTERM, 128 + signal.SIGTERM)])
def test_sigint_or_sigterm_mid_take_keeps_the_take(pulse, tmp_path, sig, code):
    env = cli_env(pulse, tmp_path)
    song_id = demo_id(tmp_path)
    part = tmp_path / "data" / "takes" / song_id / "1.part.f32"
    cmd = [sys.executable, "-m", "stemtui", "record", "demo", "--device", "pulse", "--input", "pulse"]
    proc = subprocess.Popen(
        [*cmd, "--duration", "30"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not (part.exists() and part.stat().st_size >= 2 * SR * 2 * 4):
            assert time.monotonic() < deadline and proc.poll() is None, "no 2 s of take reached the disk"
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == code, err
    assert out.strip() == "1"
    take = TakeStore(tmp_path / "data").get(song_id, "1")
    assert 2 * SR <= take.frames < 20 * SR
    assert not list(part.parent.glob("*.part.*"))
    assert "Traceback" not in err


@pytest.mark.slow
def test_a_take_while_a_separation_runs_has_no_input_overflow(pulse, tmp_path):
    from stemtui.bench.busy_separation import SeparationLoop
    from stemtui.ui.separating import SEPARATION_NICE

    env = cli_env(pulse, tmp_path)
    song_id = demo_id(tmp_path)
    # `stemtui separate` in a child, niced as the player's separations are, restarted whenever it ends.
    with SeparationLoop(nice=SEPARATION_NICE) as busy:
        r = stemtui(env, "record", "demo", "--device", "pulse", "--input", "pulse", "--duration", "20")
        separating = busy.running, busy.progress, busy.failed
    assert separating[0] and separating[1] > 0 and not separating[2], f"no separation ran throughout: {separating}"
    assert r.returncode == 0, r.stderr
    assert overflows(r.stderr) == 0, r.stderr
    take = TakeStore(tmp_path / "data").get(song_id, r.stdout.strip())
    # The take is placed by the clock offsets that held longest over it. Each
    # output underrun (the load) delays what is heard from then on, so that
    # placement can put the first frames before song time 0 (by the delays
    # summed: ~0.3-0.6 s for 3-10 underruns seen here), and those are trimmed.
    assert 15 * SR <= take.frames <= 20 * SR + 512, (take.frames, take.start_s, r.stderr)
