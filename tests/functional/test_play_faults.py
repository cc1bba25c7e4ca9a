"""`stemtui play` under stretch-worker faults, as real processes: SIGKILL and SIGSTOP.

A song of stepped tones (second ``k`` of the song is a sine at
``300 + 25 k`` Hz, the same in every stem) tells, from the recording alone,
which second of the song is heard at each moment, stretched or not (the
stretch keeps the pitch): so the recording shows that playback went on to
the end, how long each second lasted (the tempo), and every silence.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from tests.fault_inject import stretch_workers

SR = 44100
STEP_HZ, BASE_HZ = 25.0, 300.0
WIN = SR // 8  # 125 ms analysis windows


def stepped_song(folder, seconds: int, stems: int = 8) -> None:
    folder.mkdir()
    t = np.arange(SR * seconds) / SR
    f = BASE_HZ + STEP_HZ * np.floor(t)
    x = 0.6 / stems * np.sin(2 * np.pi * np.cumsum(f) / SR)
    for i in range(stems):
        sf.write(folder / f"part{i}.wav", x, SR, subtype="FLOAT")


def rendered_s(pid: int, stems: int = 8) -> float:
    """Seconds of stretched output the process's runs hold: the leading non-silent part of
    every stem of its mapped run files (the song is never silent; unrendered frames are zeros)."""
    try:
        with open(f"/proc/{pid}/maps") as fh:
            paths = {ln.split(maxsplit=5)[5].strip() for ln in fh if "/run-" in ln and ln.rstrip().endswith(".f32")}
    except OSError:
        return 0.0
    block = SR // 10
    best = 0.0
    for path in paths:
        try:
            data = np.fromfile(path, dtype=np.float32)
        except OSError:
            continue
        frames = len(data) // (stems * 2) // block * block
        if not frames:
            continue
        peaks = np.abs(data.reshape(stems, -1, 2)[:, :frames]).reshape(stems, -1, block * 2).max(axis=2)
        lead = [int(np.argmin(p > 1e-4)) if not p.all() else len(p) for p in peaks]
        best = max(best, min(lead) / 10)
    return best


def wait_switched(proc: subprocess.Popen, t0: float, stems: int, tempo: float = 0.75) -> None:
    """Until ``proc``'s run is rendered 3 s past any playhead it can have (so the mixer plays it).

    Before the switch the song plays at 100 %, so the playhead is at most the
    wall time since ``t0`` (the process's start) in song seconds.
    """
    deadline = time.monotonic() + 90
    while rendered_s(proc.pid, stems) < (time.monotonic() - t0) / tempo + 3.0:
        assert time.monotonic() < deadline and proc.poll() is None, "no stretched audio was rendered"
        time.sleep(0.01)


def heard_seconds(rec: np.ndarray) -> np.ndarray:
    """Per 125-ms window of the recording: the song second heard, or -1 (silence, or between two)."""
    mono = rec.mean(axis=1) if rec.ndim == 2 else rec
    n = len(mono) // WIN
    out = np.full(n, -1)
    freqs = np.fft.rfftfreq(WIN, 1 / SR)
    win = np.hanning(WIN)
    for i in range(n):
        x = mono[i * WIN : (i + 1) * WIN]
        if np.sqrt(np.mean(x**2)) < 0.02:
            continue
        spec = np.abs(np.fft.rfft(x * win))
        k = (freqs[int(np.argmax(spec))] - BASE_HZ) / STEP_HZ
        if abs(k - round(k)) < 0.25:
            out[i] = round(k)
    return out


def silent_gaps_s(rec: np.ndarray, after_s: float = 0.0) -> list[tuple[float, float]]:
    """``(start, length)`` in recording seconds of the silences (10-ms envelope below -40 dB)
    between the first and last sound, that end after ``after_s``."""
    mono = np.abs(rec).max(axis=1)
    hop = SR // 100
    env = mono[: len(mono) // hop * hop].reshape(-1, hop).max(axis=1)
    loud = np.nonzero(env > 0.01)[0]
    inner = env[loud[0] : loud[-1] + 1] <= 0.01
    edges = np.diff(np.concatenate([[0], inner.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    gaps = [((loud[0] + a) / 100, (b - a) / 100) for a, b in zip(starts, ends, strict=True)]
    return [(a, n) for a, n in gaps if a + n > after_s]


def step_lengths_s(seconds: np.ndarray, lo: int, hi: int) -> list[float]:
    """How long each song second in ``[lo, hi)`` was heard, in recording seconds."""
    return [np.count_nonzero(seconds == k) * WIN / SR for k in range(lo, hi)]


@pytest.mark.audio
def test_a_stretch_worker_killed_mid_play_costs_no_silence_and_the_tempo_comes_back(pulse, tmp_path):
    stepped_song(tmp_path / "Steps", 60, stems=2)  # one stem per worker: renders well ahead on a busy box
    env = {**pulse.env, "STEMTUI_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "stemtui"]
    r = subprocess.run([*cmd, "import", str(tmp_path / "Steps")], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with pulse.record() as rec:
        t0 = t_rec = time.monotonic()
        proc = subprocess.Popen(
            [*cmd, "play", "steps", "--from", "0:30", "--tempo", "0.75", "--device", "pulse"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_switched(proc, t0, 2)  # the run plays, and is still rendering (40 s of output in all)
        killed = stretch_workers(proc.pid)
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        t_kill = time.monotonic() - t_rec  # in recording seconds (parec starts before this, not after)
        # No --duration: it must end by itself, at the song's end (30 s of song at 75 %).
        _, err = proc.communicate(timeout=120)
    assert killed
    warnings = [ln for ln in err.splitlines() if "warning: " in ln]
    assert proc.returncode == 1, err
    assert len(warnings) == 1, err
    assert "stretch worker died; playing at 100 % while it restarts (tempo 75%" in warnings[0], err
    assert "Traceback" not in err, err
    y = rec.data
    # Never more than a second of silence after the kill (the fallback is the song itself, at once).
    gaps = silent_gaps_s(y, after_s=t_kill)
    assert max((n for _, n in gaps), default=0.0) <= 1.0, (t_kill, gaps, silent_gaps_s(y))
    heard = heard_seconds(y)
    ks = heard[heard >= 0]
    # The content went on, in order, from 0:30 to the song's last second.
    assert ks[0] in (30, 31) and ks[-1] == 59, (ks[0], ks[-1])
    assert set(range(31, 60)) <= set(ks.tolist()), sorted(set(range(31, 60)) - set(ks.tolist()))
    assert np.all(np.diff(ks) >= -1), "the song went backwards"
    # The tempo came back: the last 10 s of song lasted 1/0.75 s each, not 1 s.
    tail = step_lengths_s(heard, 49, 59)
    assert abs(np.median(tail) - 1 / 0.75) <= 0.13, tail


def rendering_workers(parent: int) -> list[int]:
    """The stretch workers of ``parent`` that render a run now (they map a run file; spares do not)."""
    out = []
    for pid in stretch_workers(parent):
        try:
            with open(f"/proc/{pid}/maps") as fh:
                if any("/run-" in ln and ln.rstrip().endswith(".f32") for ln in fh):
                    out.append(pid)
        except OSError:
            continue
    return out


def sigkill_all(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.audio
def test_a_stretch_worker_stopped_mid_play_is_replaced_and_playback_goes_on(pulse, tmp_path):
    """SIGSTOP the workers rendering the playing run: at the edge of what they rendered the run
    is declared hung (killed), the song plays at 100 % meanwhile, and the tempo comes back."""
    stepped_song(tmp_path / "Steps", 60, stems=2)  # one stem per worker: renders well ahead on a busy box
    env = {**pulse.env, "STEMTUI_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "stemtui"]
    r = subprocess.run([*cmd, "import", str(tmp_path / "Steps")], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    stopped: list[int] = []
    try:
        with pulse.record() as rec:
            t0 = t_rec = time.monotonic()
            proc = subprocess.Popen(
                [*cmd, "play", "steps", "--tempo", "0.75", "--device", "pulse", "--duration", "60"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            wait_switched(proc, t0, 2)  # the run plays, and is still rendering (80 s of output in all)
            stopped = rendering_workers(proc.pid)
            for pid in stopped:
                os.kill(pid, signal.SIGSTOP)
            t_stop = time.monotonic() - t_rec  # in recording seconds (parec starts before this, not after)
            edge = rendered_s(proc.pid, 2) * 0.75  # the song second where the stopped run's audio ends
            _, err = proc.communicate(timeout=120)  # --duration in wall time, whatever happens
        killed = [pid for pid in stopped if os.path.exists(f"/proc/{pid}")]
    finally:
        sigkill_all(stopped)
        if proc.poll() is None:
            proc.kill()
    assert stopped and not killed, (stopped, killed)  # the hung workers were killed (and reaped)
    warnings = [ln for ln in err.splitlines() if "warning: " in ln]
    assert proc.returncode == 1, err
    assert len(warnings) == 1, err
    assert "stretch worker hung; playing at 100 % while it restarts (tempo 75%: no progress for" in warnings[0], err
    assert "Traceback" not in err, err
    y = rec.data
    # Never more than a second of silence after the stop (the fallback is the song itself, at once).
    gaps = silent_gaps_s(y, after_s=t_stop)
    assert max((n for _, n in gaps), default=0.0) <= 1.0, (t_stop, gaps, silent_gaps_s(y))
    heard = heard_seconds(y)
    ks = heard[heard >= 0]
    # The content went on, in order, well past the edge of what the stopped run had rendered.
    assert np.all(np.diff(ks) >= -1), "the song went backwards"
    assert ks[-1] >= edge + 10, (edge, ks[-1])
    # The tempo came back: the last song seconds heard lasted 1/0.75 s each, not 1 s.
    tail = step_lengths_s(heard, ks[-1] - 6, ks[-1])
    assert abs(np.median(tail) - 1 / 0.75) <= 0.13, (edge, tail)


def test_play_with_every_stretch_worker_hung_gives_the_tempo_up_and_plays_on_at_100(tmp_path):
    stepped_song(tmp_path / "Steps", 60, stems=2)
    env = {**os.environ, "STEMTUI_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "stemtui"]
    r = subprocess.run([*cmd, "import", str(tmp_path / "Steps")], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [*cmd, "play", "steps", "--tempo", "0.75", "--device", "null", "--duration", "55"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stopped: set[int] = set()
    try:
        wait_switched(proc, t0, 2)  # the run plays, still rendering (80 s of output)
        edge = None
        # From now on every stretch worker hangs (alive, silent), the replacements too.
        deadline = time.monotonic() + 120
        while proc.poll() is None:
            assert time.monotonic() < deadline, "play never ended"
            for pid in set(stretch_workers(proc.pid)) - stopped:
                os.kill(pid, signal.SIGSTOP)
                stopped.add(pid)
            if edge is None:
                edge = rendered_s(proc.pid, 2) * 0.75  # the song second where the stretched audio ends
            time.sleep(0.02)
        _, err = proc.communicate(timeout=30)
    finally:
        sigkill_all(stopped)
        if proc.poll() is None:
            proc.kill()
    warnings = [ln for ln in err.splitlines() if "warning: " in ln]
    assert proc.returncode == 1, err
    assert len(warnings) == 2, err
    assert "stretch worker hung; playing at 100 % while it restarts (tempo 75%" in warnings[0], err
    assert "stretch worker hung 3 times in 30 s; tempo 75% given up, playing at 100 %" in warnings[1], err
    assert "playback stuck" not in err and "Traceback" not in err, err
    # It played on at 100 % to --duration, well past the edge of the stretched audio.
    stop = re.search(r"stopped at (\d+):(\d+)", err)
    assert edge is not None and stop and 60 * int(stop[1]) + int(stop[2]) >= edge + 10, (edge, err)


@pytest.mark.audio
def test_play_counts_in_on_the_estimated_beat_before_the_song(pulse, tmp_path):
    """`play --count-in 4` on the demo (no saved grid, no --bpm): the beat is estimated from the
    decoded song, and the recording holds four beats of clicks, then the song."""
    from tests.functional.test_play_audio import demo_stems
    from tests.pulse_harness import best_lag

    cache = tmp_path / "cache"
    stems = demo_stems(cache)  # installs the demo
    env = {**pulse.env, "STEMTUI_CACHE_DIR": str(cache)}
    cmd = [sys.executable, "-m", "stemtui", "play", "demo", "--from", "0:10", "--count-in", "4", "--device", "pulse"]
    with pulse.record() as rec:
        r = subprocess.run([*cmd, "--duration", "6"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    y = rec.data
    first = int(np.nonzero(np.abs(y).max(axis=1) > 0.01)[0][0])
    mix = sum(stems.values())
    ref = mix[10 * SR : 12 * SR]
    lag, ncc = best_lag(y, ref, min_overlap=SR)
    assert ncc > 0.9, ncc
    # The demo is at 100 BPM: four beats are 2.4 s of clicks before 0:10 plays.
    assert abs((lag - first) / SR - 2.4) < 0.1, (lag - first) / SR
