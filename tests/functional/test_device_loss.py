"""Losing the output device while playing, on a real PulseAudio server.

The sink is unloaded under a playing stream (``pactl unload-module``: a
headset that drops), or the sound server is stopped with SIGSTOP (callbacks
stop, the stream does not end). The engine runs in a child
(``tests/device_probe.py``, or ``stemtui play``) started with the server's
environment; each test has a private server, so the session's sink is never
touched.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import pytest

from tests.device_probe import SR, noise_audio
from tests.pulse_harness import PulseServer, best_lag

pytestmark = pytest.mark.audio

#: What PortAudio and ALSA print when a device goes: never on our stderr.
LIBRARY_NOISE = ("Expression '", "ALSA lib", "pa_linux_alsa", "PaAlsa")


@pytest.fixture
def server(pulse):  # noqa: ARG001 - `pulse` only checks the tools (and skips without them)
    srv = PulseServer(sink_name="stemtui_loss")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


class Probe:
    """``python -m tests.device_probe`` in a child; read its JSON lines one by one."""

    def __init__(self, server: PulseServer, tmp_path, *flags: str, seconds: float = 10.0) -> None:
        self.log_dir = tmp_path / "log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.device_probe",
                "--seconds",
                str(seconds),
                "--log-dir",
                str(self.log_dir),
                *list(flags),
            ],
            env=server.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict] = []
        self.events: list[tuple[float, str, str]] = []
        self.summary: dict | None = None

    def next(self) -> dict | None:
        raw = self.proc.stdout.readline()
        if not raw:
            return None
        d = json.loads(raw)
        if "summary" in d:
            self.summary = d["summary"]
            return None
        self.lines.append(d)
        self.events += [(d["t"], sev, line) for sev, line in d["events"]]
        return d

    def until(self, cond, what: str) -> dict:
        while True:
            d = self.next()
            assert d is not None, f"the probe ended before {what}: {self.proc.stderr.read()}"
            if cond(d):
                return d

    def finish(self) -> str:
        while self.next() is not None:
            pass
        err = self.proc.stderr.read()
        assert self.proc.wait(timeout=30) == 0, err
        assert self.summary is not None, err
        return err


def test_unloaded_sink_holds_the_position_and_resumes_when_it_returns(server, tmp_path):
    probe = Probe(server, tmp_path, seconds=10.0)
    probe.until(lambda d: d["pos"] > 1.5 * SR, "1.5 s of playback")
    server.unload_sink()
    lost = probe.until(lambda d: d["lost_for"] is not None, "the loss to be noticed")
    held = [probe.until(lambda _d: True, "playback while lost") for _ in range(40)]  # 2 s
    # The position is kept: it does not jump, and does not move while lost.
    assert {d["pos"] for d in held} == {lost["pos"]}, [d["pos"] for d in held]
    assert all(d["lost_for"] is not None for d in held)
    told = [(sev, line) for _, sev, line in probe.events]
    assert len(told) == 1 and told[0][0] == "error", told
    assert "audio device lost" in told[0][1] and "retrying every second" in told[0][1], told
    assert "\n" not in told[0][1]
    server.load_sink()
    with server.record() as rec:
        back = probe.until(lambda d: d["lost_for"] is None, "the device to come back")
        probe.until(lambda d: d["pos"] > back["pos"] + 2 * SR, "2 s of playback after the return")
    err = probe.finish()
    assert any("audio device back (pulse)" in line for _, _, line in probe.events), probe.events
    # The recording of the new sink has the song from the kept position on:
    # short pieces of it, each found whole (a stray underrun on a busy
    # machine may spoil one), in order.
    song = noise_audio()
    kept = lost["pos"]
    found = [best_lag(rec.data, song[a : a + SR // 10]) for a in range(kept + SR // 10, kept + SR, SR // 5)]
    good = [lag for lag, ncc in found if ncc > 0.95]
    assert len(good) >= 3 and good == sorted(good), found
    assert not any(n in err for n in LIBRARY_NOISE) and "Traceback" not in err, err
    assert "Expression '" in (probe.log_dir / "native-stderr.log").read_text()  # captured, not dropped
    (fault,) = probe.summary["faults"]
    assert "audio device lost once and regained" in fault, probe.summary


def test_a_device_that_comes_back_under_another_index_is_found_again_by_name(server, tmp_path):
    """The engine's index of the device is stale (PortAudio's list changed): the device watch
    re-reads the list and reopens ``pulse`` by its name, not whatever the old index names now."""
    probe = Probe(server, tmp_path, "--stale-index", seconds=9.0)
    probe.until(lambda d: d["pos"] > 1.0 * SR, "1 s of playback")
    server.unload_sink()
    lost = probe.until(lambda d: d["lost_for"] is not None, "the loss to be noticed")
    server.load_sink()
    with server.record() as rec:
        back = probe.until(lambda d: d["lost_for"] is None, "the device to come back")
        probe.until(lambda d: d["pos"] > back["pos"] + 2 * SR, "2 s of playback after the return")
    err = probe.finish()
    assert any("audio device back (pulse)" in line for _, _, line in probe.events), probe.events
    assert back["device"] == "pulse", back
    # And it plays into the sink again, from the kept position.
    song = noise_audio()
    kept = lost["pos"]
    found = [best_lag(rec.data, song[a : a + SR // 10]) for a in range(kept + SR // 10, kept + SR, SR // 5)]
    assert len([lag for lag, ncc in found if ncc > 0.95]) >= 3, found
    assert "Traceback" not in err, err


def test_callbacks_that_stop_are_noticed_and_the_stream_reopened(server, tmp_path):
    probe = Probe(server, tmp_path, seconds=9.0)
    probe.until(lambda d: d["pos"] > 2.5 * SR, "2.5 s of playback (past start-up)")
    os.kill(server.pid, signal.SIGSTOP)  # the stream does not end: its callbacks stop
    try:
        t_stop = time.monotonic()
        lost = probe.until(lambda d: d["lost_for"] is not None, "the stall to be noticed")
        time.sleep(max(0.0, 2.0 - (time.monotonic() - t_stop)))
    finally:
        os.kill(server.pid, signal.SIGCONT)
    back = probe.until(lambda d: d["lost_for"] is None, "the stream to be reopened")
    probe.until(lambda d: d["pos"] > back["pos"] + SR, "1 s of playback after the stall")
    err = probe.finish()
    (first, *_) = [line for _, sev, line in probe.events if sev == "error"]
    assert "no callback for 1." in first and "audio device lost" in first, probe.events
    assert back["pos"] >= lost["pos"]
    assert not any(n in err for n in LIBRARY_NOISE) and "Traceback" not in err, err


def test_the_null_output_is_offered_after_5_s_and_plays_on(server, tmp_path):
    probe = Probe(server, tmp_path, "--fallback", "null", seconds=10.0)
    probe.until(lambda d: d["pos"] > SR, "1 s of playback")
    server.unload_sink()
    lost = probe.until(lambda d: d["lost_for"] is not None, "the loss")
    offered = probe.until(lambda d: d["offered"] or d["lost_for"] is None, "the offer")
    assert offered["lost_for"] is not None and offered["lost_for"] >= 5.0, offered
    switched = probe.until(lambda d: d["lost_for"] is None, "the switch to the null output")
    assert switched["device"] == "null (no sound)"
    probe.until(lambda d: d["pos"] > switched["pos"] + SR // 2, "the null output to play")
    probe.finish()
    assert lost["pos"] <= switched["pos"]
    assert any("still gone after 5 s" in line for _, _, line in probe.events), probe.events
    assert any("audio switched to null (no sound)" in line for _, _, line in probe.events), probe.events


@pytest.mark.parametrize("fault", ["unload-sink", "server-stopped"])
def test_play_exits_1_in_one_line_when_the_device_does_not_come_back(server, tmp_path, fault):
    """The sink goes for good, or the server stops answering (SIGSTOP: PortAudio then blocks)."""
    env = {**server.env, "STEMTUI_CACHE_DIR": str(tmp_path / "cache"), "STEMTUI_LOG_DIR": str(tmp_path / "log")}
    r = subprocess.run([sys.executable, "-m", "stemtui", "demo"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "stemtui", "play", "demo", "--device", "pulse"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4)
    assert proc.poll() is None
    if fault == "unload-sink":
        server.unload_sink()
    else:
        os.kill(server.pid, signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        if fault == "server-stopped":
            os.kill(server.pid, signal.SIGCONT)
    took = time.monotonic() - t0
    # 10 s of retries, then the summary (the bound: 12 s); a stuck
    # server adds the 1-s wait for the thread PortAudio holds.
    assert took < (12 if fault == "unload-sink" else 14), (took, err)
    assert proc.returncode == 1, err
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning: ")]
    assert len(warnings) == 1 and re.search(
        r"audio device lost \(pulse: .*\) and not regained within 1[012] s", warnings[0]
    ), err
    assert not any(n in err for n in LIBRARY_NOISE) and "Traceback" not in err, err
    if fault == "unload-sink":
        assert "pa_linux_alsa" in (tmp_path / "log" / "native-stderr.log").read_text()


def test_start_up_and_steady_gaps_are_told_apart(pulse, tmp_path):  # noqa: ARG001 - skips without the tools
    # Without the harness's keepalive the idle sink stalls a new stream once, ~2 s.
    srv = PulseServer(sink_name="stemtui_cold", keepalive=False)
    srv.start()
    try:
        probe = Probe(srv, tmp_path, seconds=5.0)
        probe.finish()
        env = {**srv.env, "STEMTUI_CACHE_DIR": str(tmp_path / "cache"), "STEMTUI_LOG_DIR": str(tmp_path / "log")}
        r = subprocess.run(
            [sys.executable, "-m", "stemtui", "play", "demo", "--device", "pulse", "--duration", "3"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        srv.stop()
    # `play`'s summary tells both; --duration counts from when the audio
    # flows, so the stall does not eat into the 3 s of song.
    assert r.returncode == 0, r.stderr
    m = re.search(r"stopped at 0:(\d+\.\d).*start-up (\d+\.\d+) s, then (\d+\.\d) ms", r.stderr)
    assert m, r.stderr
    assert float(m.group(1)) >= 2.9 and float(m.group(3)) < 300, r.stderr
    s = probe.summary
    # (The stall lasts until the idle sink's next wake-up: up to 2 s, ~1.5 s here.)
    assert s["max_gap_ms"] > 200, s  # the start-up stall is in the overall figure ...
    assert s["startup_s"] > 0.2, s  # ... and measured as start-up
    assert s["steady_max_gap_ms"] < min(s["max_gap_ms"] / 3, 300), s  # ... but not in the steady figure
    assert s["faults"] == [], s  # the start-up stall is not a lost device


def _flat(screen: str) -> str:
    """The screen's words in one line (a toast may wrap anywhere)."""
    return " ".join(w for w in screen.replace("▌", " ").replace("▐", " ").split())


def shown_position(screen: str) -> float:
    """The player's transport position (``▶ playing  0:03.2 / 1:04.0``), in s."""
    m = re.search(r"(\d+):(\d\d\.\d) / \d+:\d\d\.\d", screen)
    assert m, screen
    return 60 * int(m.group(1)) + float(m.group(2))


@pytest.mark.slow
def test_the_tui_tells_a_lost_device_and_plays_on_when_it_returns(server, demo_store, tmp_path):
    from tests.conftest import require_tools
    from tests.functional.test_ui_tmux import Tmux

    require_tools("tmux")
    env = {k: v for k, v in server.env.items() if k.startswith(("PULSE_", "XDG_"))}
    env.update(
        {
            "STEMTUI_CACHE_DIR": str(demo_store.root),
            "STEMTUI_DEVICE": "pulse",
            "STEMTUI_LOG_DIR": str(tmp_path / "log"),
            "TERM": "xterm-256color",
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        }
    )
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    term = Tmux("device-loss")
    screens: list[str] = []

    def seen(words: str):
        def check(screen: str) -> bool:
            screens.append(screen)
            return words in _flat(screen)

        return check

    try:
        term.start(f"env -i {exports} {shlex.quote(sys.executable)} -m stemtui", width=120, height=34)
        term.wait_for(lambda s: "Night Drive" in s and "complete" in s and "library" in s, what="the library")
        term.keys("Enter")
        term.wait_for(lambda s: "vocals" in s and "playing" in s, what="the player")
        time.sleep(1.5)
        server.unload_sink()
        lost = term.wait_for(seen("retrying every second"), what="the loss notification")
        # "… holding at 0:01.6, retrying every second", wrapped anywhere in the toast.
        m = re.search(r"(\d+):(\d\d\.\d),? retrying", lost) or re.search(r"holding at (\d+):(\d\d\.\d)", lost)
        assert m, lost
        kept = 60 * int(m.group(1)) + float(m.group(2))
        screen = term.wait_for(seen("press D for the default device"), timeout=15, what="the offer after 5 s")
        assert shown_position(screen) == kept, screen  # the position held while the device was gone
        server.load_sink()
        term.wait_for(seen("audio device back (pulse)"), timeout=15, what="the device back")
        term.wait_for(lambda s: shown_position(s) > kept + 1.0, what="the position to move on")
        term.keys("q")
        term.wait_for(lambda s: "newest first" in s, what="the library again")
        term.keys("q")
        term.wait_for(lambda s: "Night Drive" not in s, what="the app to quit")
    finally:
        term.kill()
    for screen in screens:
        assert not any(n in screen for n in LIBRARY_NOISE), screen
    log = (tmp_path / "log" / "stemtui.log").read_text()
    assert "audio device lost" in log and "audio device back" in log, log
    assert "pa_linux_alsa" in (tmp_path / "log" / "native-stderr.log").read_text()
