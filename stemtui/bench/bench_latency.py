"""Key-to-sound latency: ``python -m stemtui.bench latency [--json] [--presses N]``.

A key press is heard after three delays in a row:

1. the app handles the key and writes new target gains (``app_ms``);
2. the next audio callback picks them up and ramps within its block
   (``callback_ms``: at most one block, 11.6 ms at 512 frames / 44.1 kHz);
3. the device plays out its buffer (``device_ms``: PortAudio's reported
   output latency of the stream stemtui opens).

(1) and (2) are measured here on the real app (Textual Pilot, the demo song,
the engine's paced null stream, which calls back on the same schedule as a
device), pressing ``1`` (mute/unmute vocals) N times. (3) is read from a real
output stream when a device is present, else from PortAudio's default for the
block size (the ALSA ``pulse`` device reported 34.8 ms here). Target: the sum
within 50 ms. With a device, 4 s of silence played through the engine give
its callback gaps: ``device_startup_s`` (the stream's start-up) and
``device_steady_max_gap_ms`` (the largest gap after it; target ≤ 2 periods)
apart from ``device_max_gap_ms`` (both).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

TARGET_MS = 50.0
#: The output latency the ALSA ``pulse`` device reported for 512-frame blocks
#: with PortAudio's default ("high") latency, used when no device is present.
FALLBACK_DEVICE_MS = 34.8


def device_latency_ms() -> tuple[float, str]:
    """The output latency of the stream stemtui would open, and where it came from."""
    try:
        import sounddevice as sd

        from stemtui.core.audio.engine import DEFAULT_BLOCKSIZE, resolve_device

        dev = resolve_device(None)
        with sd.OutputStream(
            device=dev.index, samplerate=44100, channels=2, dtype="float32", blocksize=DEFAULT_BLOCKSIZE
        ) as s:
            return 1000.0 * float(s.latency), dev.name
    except Exception as exc:  # noqa: BLE001 - no device, no PortAudio
        return FALLBACK_DEVICE_MS, f"no device here ({type(exc).__name__}); the pulse device's figure"


def device_gaps(seconds: float = 4.0) -> dict | None:
    """Callback gaps of the engine on the default device, playing silence for ``seconds``.

    Start-up (first callback to steady callbacks at the period: PulseAudio
    stalls once, ~1–2 s) and the steady-state max gap apart. ``None`` without
    a device.
    """
    try:
        import numpy as np

        from stemtui.core.audio.devicewatch import gap_report
        from stemtui.core.audio.engine import Engine
        from stemtui.core.audio.song import Song, SongMeta

        song = Song(["silence"], np.zeros((1, int((seconds + 2) * 44100), 2), np.float32), 44100, SongMeta("gaps"))
        with Engine() as engine:
            mixer = engine.load(song)
            if engine.null:
                return None
            mixer.start_at(0)
            time.sleep(seconds)
            return gap_report(engine)
    except Exception:  # noqa: BLE001 - no device, no PortAudio: nothing to measure
        return None


async def _measure(presses: int) -> list[tuple[float, float]]:
    from stemtui.core.audio.engine import Engine
    from stemtui.core.library.catalog import ensure_demo
    from stemtui.core.library.store import Store
    from stemtui.settings import Settings
    from stemtui.ui.app import StemtuiApp
    from stemtui.ui.screens.player import PlayerScreen

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "cache")
        ensure_demo(store)
        engine = Engine(null=True)
        picked: list[float] = []
        original = engine.callback

        def callback(out, frames, ti, st):
            mixer = engine.mixer
            pending = mixer is not None and mixer.gains_pending
            original(out, frames, ti, st)
            if pending:
                picked.append(time.perf_counter())

        engine.callback = callback  # the null stream calls it through the instance
        app = StemtuiApp(Settings.under(Path(tmp)), store=store, engine_factory=lambda: engine, install_demo=False)
        results = []
        async with app.run_test(size=(100, 30)) as pilot:
            while not (isinstance(app.screen, PlayerScreen) and app.screen.mixer is not None):
                if (
                    app.library is not None
                    and app.library.highlighted() is not None
                    and not isinstance(app.screen, PlayerScreen)
                ):
                    await pilot.press("enter")
                await pilot.pause(0.05)
            mixer = app.screen.mixer
            mixer.song.complete.wait(10)
            await pilot.pause(0.3)
            published: list[float] = []
            toggle = mixer.toggle_mute

            def timed_toggle(stem):
                muted = toggle(stem)
                published.append(time.perf_counter())
                return muted

            mixer.toggle_mute = timed_toggle  # stamps the moment the UI wrote the gains (key 1)
            for _ in range(presses):
                n, k = len(picked), len(published)
                t0 = time.perf_counter()
                await pilot.press("1")
                while len(picked) == n or len(published) == k:
                    await asyncio.sleep(0.0005)
                results.append(((published[k] - t0) * 1000.0, (picked[n] - published[k]) * 1000.0))
                await pilot.pause(0.05)
        engine.close()
    return results


def main(argv: list[str]) -> int:
    """Run the latency benchmark; see the module docstring."""
    ap = argparse.ArgumentParser(prog="python -m stemtui.bench latency")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--presses", type=int, default=40)
    args = ap.parse_args(argv)
    results = asyncio.run(_measure(args.presses))
    app_ms = [a for a, _ in results]
    cb_ms = [b for _, b in results]
    dev_ms, dev_src = device_latency_ms()
    med = statistics.median(app_ms) + statistics.median(cb_ms) + dev_ms
    worst = max(a + b for a, b in results) + dev_ms
    out = {
        "bench": "latency",
        "presses": len(results),
        "app_ms_median": round(statistics.median(app_ms), 2),
        "callback_ms_median": round(statistics.median(cb_ms), 2),
        "callback_ms_max": round(max(cb_ms), 2),
        "device_ms": round(dev_ms, 1),
        "device": dev_src,
        "key_to_sound_ms_median": round(med, 1),
        "key_to_sound_ms_max": round(worst, 1),
        "target_ms": TARGET_MS,
        "ok": med <= TARGET_MS,
    }
    gaps = device_gaps()
    if gaps is not None:  # the device's start-up and steady-state callback gaps, apart
        out.update({f"device_{k}": v for k, v in gaps.items()})
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:26} {v}")
    return 0
