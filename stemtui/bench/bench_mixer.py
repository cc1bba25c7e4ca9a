"""Mixer benchmark: the real callback, with ramps, meters and loop wraps active.

``python -m stemtui.bench mixer --json`` prints one JSON object per
configuration (stems × frames) with the median and 99.9th percentile cost of
one callback in microseconds, over at least 20,000 calls each. ``--ranges``
adds a mute range (:meth:`Mixer.set_ranges`) whose two edges fall inside the
loop, so blocks are split and ramped at range edges too, and a solo range
around the loop.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from stemtui.core.audio.engine import Engine
from stemtui.core.audio.mixer import Mixer
from stemtui.core.audio.song import Song, SongMeta

SR = 44100


def bench_config(stems: int, frames: int, calls: int, ranges: bool = False) -> dict:
    """Time ``calls`` callbacks of one configuration through Engine.callback."""
    rng = np.random.default_rng(stems * 1000 + frames)
    n = SR * 60
    data = (rng.standard_normal((stems, n, 2)) * 0.1).astype(np.float32)
    song = Song([f"s{i}" for i in range(stems)], data, SR, SongMeta("bench"))
    engine = Engine(null=True, blocksize=frames)
    engine.mixer = mixer = Mixer(song)
    # A loop short enough to wrap every few callbacks, so crossfades run too.
    mixer.set_loop(SR, SR + frames * 7 + 123)
    if ranges:
        # A drop-in whose two edges fall in every pass of the loop (ramps), and
        # a solo range around all of it (one more schedule, no edge in the loop).
        a, b = SR + frames * 2 + 50, SR + frames * 5
        mixer.set_ranges([(0, a, b, "mute"), (stems - 1, SR // 2, SR * 3, "solo")])
    mixer.start_at(SR)
    out = np.zeros((frames, 2), dtype=np.float32)
    cb = engine.callback
    for _ in range(500):  # warm caches and branch predictors
        cb(out, frames, None, None)
    times = np.empty(calls, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(calls):
        if i % 16 == 0:
            # Keep gain ramps in the measured mix: a fader move every 16 blocks.
            mixer.set_volume(i % stems, 0.5 + (i % 3) * 0.25)
        t = clock()
        cb(out, frames, None, None)
        times[i] = clock() - t
    us = times / 1000.0
    return {
        "bench": "mixer",
        "stems": stems,
        "frames": frames,
        "calls": calls,
        "median_us": round(float(np.median(us)), 2),
        "p99_us": round(float(np.percentile(us, 99)), 2),
        "p999_us": round(float(np.percentile(us, 99.9)), 2),
        "budget_us": round(frames / SR * 1e6, 1),
        "ranges": ranges,
    }


def main(argv: list[str]) -> int:
    """Run the mixer benchmark; see module docstring."""
    ap = argparse.ArgumentParser(prog="python -m stemtui.bench mixer")
    ap.add_argument("--json", action="store_true", help="JSON lines only")
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--ranges", action="store_true", help="with a mute and a solo range on")
    args = ap.parse_args(argv)
    calls = max(args.calls, 1000)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}"
    if not args.json:
        print(f"mixer callback cost on {machine}")
        print(f"{'stems':>5} {'frames':>6} {'median µs':>10} {'p99.9 µs':>9} {'budget µs':>10}")
    for stems in (2, 4, 6):
        for frames in (256, 512, 1024):
            r = bench_config(stems, frames, calls, args.ranges)
            if args.json:
                print(json.dumps(r), flush=True)
            else:
                print(
                    f"{stems:5} {frames:6} {r['median_us']:10.1f} {r['p999_us']:9.1f} {r['budget_us']:10.0f}",
                    flush=True,
                )
    return 0
