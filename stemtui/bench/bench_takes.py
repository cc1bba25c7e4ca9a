"""Takes: ``python -m stemtui.bench takes [--json] [--calls N] [--seconds S]``.

Prints one JSON object:

* ``callback_median_us`` / ``callback_p999_us``: the audio callbacks' cost
  with recording on, 6 stems and 512 frames: the engine's output callback
  (mixer plus the recorder's song clock tap) and the input callback (one
  block copied into the input ring), timed together per block, as
  ``bench mixer`` times the mixer. Target: ≤ 30 µs median.
  ``mixer_only_median_us`` is the same output callback without recording.
* ``alignment_ms``: a take recorded through a loopback (a private
  PulseAudio server; its null sink's monitor as the input) against the mix
  it recorded, per second of the take: the median and the largest error,
  with input overflows and output underruns. ``null`` with a ``reason``
  where PulseAudio is not installed or fails.
* ``while_separating``: a 60-s take (``--busy-seconds``) recorded the same
  way while ``stemtui separate`` of a synthesized song with the offline
  ``demucs_unittest`` model runs in a child, restarted whenever it ends
  (:class:`~stemtui.bench.busy_separation.SeparationLoop`), niced as the
  player's separations are (``--busy-nice``): input overflows (target 0),
  output underruns, the alignment, and how many separations ran.
* ``analysis_s`` / ``analysis_cpu_s``: the comparison of a 60-s take end to
  end through the worker process (:func:`stemtui.bench.bench_compare.analysis_time_60s`
  with ``worker=True``; ``bench compare`` has the details), wall and CPU
  seconds. Target: under 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time

import numpy as np

SR = 44100
STEMS = 6
FRAMES = 512
TARGET_US = 30.0


class _Times:
    """What PortAudio passes as ``time_info`` (the fields the callbacks read)."""

    def __init__(self) -> None:
        self.outputBufferDacTime = 0.0
        self.inputBufferAdcTime = 0.0
        self.currentTime = 0.0


def bench_callbacks(calls: int) -> dict:
    from stemtui.core.audio.engine import Engine
    from stemtui.core.audio.mixer import Mixer
    from stemtui.core.audio.song import Song, SongMeta
    from stemtui.core.takes.capture import InputCapture, SongClock

    rng = np.random.default_rng(11)
    data = (rng.standard_normal((STEMS, SR * 60, 2)) * 0.1).astype(np.float32)
    song = Song([f"s{i}" for i in range(STEMS)], data, SR, SongMeta("bench"))
    engine = Engine(null=True, blocksize=FRAMES)
    engine.mixer = mixer = Mixer(song)
    engine.sample_rate = SR
    mixer.start_at(SR)
    cap = InputCapture(SR, FRAMES, None, 2, ring_seconds=8.0)
    out = np.zeros((FRAMES, 2), dtype=np.float32)
    indata = (rng.standard_normal((FRAMES, 2)) * 0.1).astype(np.float32)
    drain = np.zeros((SR, 2), dtype=np.float32)
    ti = _Times()
    clock = time.perf_counter_ns

    def run(record: bool) -> np.ndarray:
        engine.tap = SongClock(engine) if record else None
        times = np.empty(calls, dtype=np.int64)
        for i in range(calls + 500):
            if i % 16 == 0:
                mixer.set_volume(i % STEMS, 0.5 + (i % 3) * 0.25)  # gain ramps stay in the mix
            if i % 64 == 0:
                cap.ring.read_into(drain)  # the writer thread's side, not timed
            ti.outputBufferDacTime = ti.inputBufferAdcTime = ti.currentTime = i * FRAMES / SR
            t = clock()
            engine.callback(out, FRAMES, ti, None)
            if record:
                cap.callback(indata, FRAMES, ti, None)
            dt = clock() - t
            if i >= 500:  # the first 500 warm caches
                times[i - 500] = dt
        return times / 1000.0

    base = run(False)
    rec = run(True)
    return {
        "callback_median_us": round(float(np.median(rec)), 2),
        "callback_p999_us": round(float(np.percentile(rec, 99.9)), 2),
        "mixer_only_median_us": round(float(np.median(base)), 2),
        "callback_target_us": TARGET_US,
        "ring_overflows": cap.input_overflows + cap.ring.overflows,
    }


def loopback_child(seconds: float) -> dict:
    """Inside the PulseAudio server's environment: record the mix through the monitor, measure the error."""
    from stemtui.core.audio.engine import Engine
    from stemtui.core.audio.song import Song, SongMeta
    from stemtui.core.takes.capture import resolve_input
    from stemtui.core.takes.latency import measure_offset
    from stemtui.core.takes.recorder import MemorySink, Recorder

    rng = np.random.default_rng(4)
    n = int((seconds + 4) * SR)
    stems = {f"s{i}": (rng.standard_normal((n, 2)) * 0.05).astype(np.float32) for i in range(STEMS)}
    song = Song.from_stems(stems, SR, SongMeta("bench"))
    engine = Engine(device="pulse", blocksize=FRAMES)
    try:
        mixer = engine.load(song)
        mixer.start_at(SR, playing=False)
        rec = Recorder(engine, MemorySink(), resolve_input("pulse"), min_start_s=1.0, max_frames=int(seconds * SR))
        rec.start()
        while rec.capture.callbacks == 0:
            time.sleep(0.01)
        engine.wait_started(timeout=5.0)
        mixer.play()
        rec.done.wait(seconds + 10)
        start_s, take = rec.stop()
        overflows, underruns, lost, gap = rec.overflows, engine.underruns, rec.input_lost, rec.max_input_gap_s
    finally:
        engine.close()
    mix = song.data.sum(axis=0)[:, 0]
    s0 = round(start_s * SR)
    errors = []
    for a in range(int(0.2 * SR), take.shape[0] - SR + 1, SR):
        lag, q = measure_offset(take[a : a + SR, 0], mix[s0 + a : s0 + a + SR], SR // 10)
        if q > 0.95:
            errors.append(lag / SR * 1000.0)
    return {
        "alignment_ms": {
            "median": round(float(np.median(errors)), 2) if errors else None,
            "max_abs": round(float(np.max(np.abs(errors))), 2) if errors else None,
            "seconds_matched": len(errors),
            "take_s": round(take.shape[0] / SR, 3),
            "input_overflows": overflows,
            "output_underruns": underruns,
            "input_lost": lost,
            "input_max_gap_ms": round(gap * 1000.0, 1),
        }
    }


def bench_loopback(seconds: float, busy_nice: int | None = None) -> dict:
    """The loopback take's figures; with ``busy_nice`` while a separation runs (niced so)."""
    missing = [t for t in ("pulseaudio", "pactl", "pacat") if shutil.which(t) is None]
    if missing:
        return {"alignment_ms": None, "reason": f"no PulseAudio server here ({', '.join(missing)} not installed)"}
    from stemtui.bench.bench_soak import SINK, Pulse
    from stemtui.bench.busy_separation import SeparationLoop

    pulse = Pulse()
    busy = None
    try:
        pulse.start()
        if busy_nice is not None:
            busy = SeparationLoop(nice=busy_nice).start()
        env = {**pulse.env, "PULSE_SOURCE": f"{SINK}.monitor"}
        cmd = [sys.executable, "-m", "stemtui.bench", "takes", "--child", f"--seconds={seconds}"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 120)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            return {"alignment_ms": None, "reason": f"the loopback recording failed: {tail}"}
        r = json.loads(lines[-1])
        if busy is not None:
            r["separations"] = {
                "nice": busy_nice,
                "started": busy.started,
                "finished": busy.finished,
                "running_at_end": busy.running,
                "failed": busy.failed,
            }
        return r
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return {"alignment_ms": None, "reason": f"no PulseAudio server: {exc}"}
    finally:
        if busy is not None:
            busy.close()
        pulse.stop()


def bench_analysis() -> dict:
    from stemtui.bench.bench_compare import _timed

    wall, cpu = _timed(worker=True)
    return {"analysis_s": round(wall, 2), "analysis_cpu_s": round(cpu, 2), "analysis_target_s": 10.0}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m stemtui.bench takes")
    ap.add_argument("--json", action="store_true", help="one JSON object only")
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the loopback take")
    ap.add_argument("--busy-seconds", type=float, default=60.0, help="length of the take while separating (0: none)")
    ap.add_argument("--busy-nice", type=int, default=10, help="niceness of that separation (the player's: 10)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(loopback_child(args.seconds)))
        return 0
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}"
    r = {"bench": "takes", "machine": machine, "stems": STEMS, "frames": FRAMES}
    r.update(bench_callbacks(max(args.calls, 1000)))
    r.update(bench_loopback(args.seconds))
    if args.busy_seconds > 0:
        busy = bench_loopback(args.busy_seconds, busy_nice=args.busy_nice)
        r["while_separating"] = {**(busy.pop("alignment_ms") or {}), **busy}
    r.update(bench_analysis())
    if args.json:
        print(json.dumps(r))
    else:
        for k, v in r.items():
            print(f"{k:>22}: {v}")
    return 0
