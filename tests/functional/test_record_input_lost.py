"""The input device lost mid-take, through real PulseAudio servers: the take up to then is kept, playback goes on.

On one server, PulseAudio moves a stream whose source is unloaded to
another source (here the output's monitor), as it moves a dropped USB
headset's stream to the built-in microphone: the app cannot tell. A
microphone with nothing to fall back to is a second server whose only sink
is ``mic``: its monitor is the input (an ALSA PCM ``stemtui_mic`` in
``~/.asoundrc`` names that server), and unloading that sink ends the input
stream under the recorder, as a USB microphone unplugged from a bare ALSA
system does; suspending it stops the input's callbacks with the stream still
open, as a hung device does.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from stemtui.core.takes.takestore import TakeStore
from tests.functional.test_record_audio import cli_env, demo_id
from tests.pulse_harness import PulseServer, dominant_frequency

pytestmark = pytest.mark.audio
SR = 44100
MIC = "stemtui_mic"


@pytest.fixture
def mic(pulse, tmp_path):
    """A second server with a sink ``mic`` (its monitor: the ALSA input ``stemtui_mic``); a 660 Hz tone plays into it.

    Yields ``(server, env)``: the env reaches both servers (output: the
    ``pulse`` fixture's, input: ``stemtui_mic``).
    """
    home = tmp_path / "home"
    home.mkdir()
    server = PulseServer(sink_name="mic")
    server.start()
    try:
        (home / ".asoundrc").write_text(
            f'pcm.{MIC} {{\n  type pulse\n  server "unix:{server.socket_path}"\n  device "mic.monitor"\n'
            f'  hint {{ description "stemtui test microphone" }}\n}}\n'
        )
        tone = (0.3 * np.sin(2 * np.pi * 660.0 * np.arange(40 * SR) / SR)).astype(np.float32)
        signal_file = tmp_path / "tone.raw"
        np.repeat(tone[:, None], 2, axis=1).tofile(signal_file)
        player = subprocess.Popen(
            ["pacat", "-d", "mic", "--format=float32le", f"--rate={SR}", "--channels=2", str(signal_file)],
            env=server.env,
        )
        try:
            yield server, cli_env(pulse, tmp_path, HOME=str(home))
        finally:
            player.terminate()
            player.wait(5)
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("unload", r"the input stream stopped by itself"),
        ("suspend", r"no audio from it for [\d.]+ s"),
    ],
)
def test_record_keeps_the_take_and_says_so_when_the_input_goes_away(mic, tmp_path, how, why):
    server, env = mic
    song_id = demo_id(tmp_path)
    part = tmp_path / "data" / "takes" / song_id / "1.part.f32"
    cmd = [sys.executable, "-m", "stemtui", "record", "demo", "--device", "pulse", "--input", MIC, "--duration", "30"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (part.exists() and part.stat().st_size >= 2 * SR * 2 * 4):
            assert time.monotonic() < deadline and proc.poll() is None, "no 2 s of take reached the disk"
            time.sleep(0.05)
        written = part.stat().st_size // 8
        if how == "unload":
            server.unload_sink()  # the microphone is gone
        else:
            server.pactl("suspend-sink", "mic", "1")  # it stops sending
        lost_at = time.monotonic()
        out, err = proc.communicate(timeout=20)
        ended_after = time.monotonic() - lost_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 1, err
    assert out.strip() == "1", out
    lines = err.strip().splitlines()
    assert re.fullmatch(
        rf"stemtui: {MIC}: input lost \({why}\); take 1 keeps the [\d.]+ s before it",
        lines[-1],
    ), err
    assert "Traceback" not in err and ended_after < 20  # it ended at the loss, not at --duration
    take = TakeStore(tmp_path / "data").get(song_id, "1")
    # What came before the loss, and no more (the rest of the 30 s was never recorded).
    assert written - SR // 2 <= take.frames < written + 3 * SR, (written, take.frames)
    audio = TakeStore(tmp_path / "data").read(take)[SR // 2 :]
    assert abs(dominant_frequency(audio, SR) - 660.0) < 2.0  # it is the microphone's tone
    assert not list(part.parent.glob("*.part.*"))


# The Recorder as the app drives it: the engine plays on after the loss.
SCRIPT = textwrap.dedent(
    """
    import sys, time
    from stemtui.core.audio.engine import Engine
    from stemtui.core.takes.capture import resolve_input
    from stemtui.core.takes.latency import calibration_song
    from stemtui.core.takes.recorder import MemorySink, Recorder

    engine = Engine(device="pulse")
    song, _ = calibration_song(44100, seconds=30.0)
    mixer = engine.load(song)
    rec = Recorder(engine, MemorySink(), resolve_input(sys.argv[1]), min_start_s=0.0)
    rec.start()
    mixer.play()
    while rec.recorded_s < 2.0:
        time.sleep(0.05)
    print("recording", flush=True)
    assert rec.done.wait(15), "the loss was not noticed"
    print("lost:", rec.input_lost, flush=True)
    p0 = mixer.position
    time.sleep(1.5)
    print("played on:", (mixer.position - p0) / 44100, "stream lost:", engine.stream_lost, flush=True)
    start_s, data = rec.stop()
    print("kept:", data.shape[0] / 44100, flush=True)
    engine.close()
    """
)


def test_the_recorder_reports_the_loss_and_the_engine_plays_on(mic):
    server, env = mic
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, MIC], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "recording", line + proc.stderr.read()
        server.unload_sink()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    assert f"lost: {MIC}: input lost (the input stream stopped by itself)" in out, out
    played = re.search(r"played on: ([\d.]+) stream lost: None", out)
    assert played and float(played.group(1)) > 1.0, out  # the song went on (1.5 s of wall time)
    kept = re.search(r"kept: ([\d.]+)", out)
    assert kept and 2.0 <= float(kept.group(1)) < 5.0, out
