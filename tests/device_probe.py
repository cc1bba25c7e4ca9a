"""Play a noise song through the real engine and report what it sees, for device-loss tests.

Run as ``python -m tests.device_probe --device pulse --seconds N`` with a
PulseAudio server's environment. Every 50 ms it prints one JSON line:
``{"t", "pos", "callbacks", "lost_for", "events"}`` (``events``: the engine's
``(severity, line)`` device events since the last line), then a last line
``{"summary": {...}}`` with the gap figures and ``faults()``. The test in the
parent unloads/reloads the sink or stops the server meanwhile and records
the sink; :func:`noise_song` gives it the same audio to correlate against.
With ``--fallback null`` the probe picks the null output once it is offered.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from stemtui.core.audio.song import Song, SongMeta

SR = 44100


def noise_audio(seconds: float = 60.0) -> np.ndarray:
    """Deterministic stereo noise, (frames, 2) float32: every stretch of it is unique."""
    rng = np.random.default_rng(1234)
    return (0.2 * rng.standard_normal((int(seconds * SR), 2))).astype(np.float32)


def noise_song(seconds: float = 60.0) -> Song:
    return Song(["noise"], np.ascontiguousarray(noise_audio(seconds)[None]), SR, SongMeta("noise"))


def main(argv: list[str]) -> int:
    from stemtui.core.audio.engine import Engine
    from stemtui.core.audio.native_stderr import NativeStderr

    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="pulse")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fallback", choices=("default", "null"))
    ap.add_argument("--log-dir")
    ap.add_argument(
        "--stale-index", action="store_true", help="give the engine another device's index (a moved device)"
    )
    args = ap.parse_args(argv)
    with NativeStderr(args.log_dir):
        engine = Engine(device=args.device)
        mixer = engine.load(noise_song())
        mixer.start_at(0)
        if args.stale_index:  # as if PortAudio's list had changed: the index now names another device
            from stemtui.core.audio.devices import list_output_devices

            others = [d.index for d in list_output_devices() if d.index != engine._device_index]
            engine._device_index = others[0]
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.seconds:
            time.sleep(0.05)
            events = engine.take_device_events()
            if args.fallback and engine.fallback_offered:
                engine.use_fallback(args.fallback)
                args.fallback = None
            line = {
                "t": round(time.monotonic() - t0, 3),
                "pos": mixer.position,
                "callbacks": engine.callbacks,
                "lost_for": engine.device_lost_for,
                "offered": engine.fallback_offered,
                "device": engine.device_name,
                "events": events,
            }
            print(json.dumps(line), flush=True)
        summary = {
            "startup_s": engine.startup_s,
            "steady_max_gap_ms": engine.steady_max_gap_ms,
            "max_gap_ms": engine.max_gap_ms,
            "underruns": engine.underruns,
            "period_ms": 1000.0 * engine.blocksize / engine.sample_rate,
        }
        engine.close()
        summary["faults"] = engine.faults()
        print(json.dumps({"summary": summary}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
