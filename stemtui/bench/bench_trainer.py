"""Speed-trainer benchmark: the wraps that change tempo, live on the null stream.

``python -m stemtui.bench trainer --json`` measures, on a synthetic 6-stem song
(tones plus noise: never digital silence by itself):

* **gap at each wrap**: a live session (``70:10:1:100``, 4 passes, a 2 s
  loop) on the engine's real-time null stream, every output block kept (into
  a preallocated buffer); around each loop wrap, the longest run of frames
  of digital silence (target 0), and whether the wrap took the next tempo;
* **lead time**: by how much each next pass's render was ready (2 s
  rendered from A) before the wrap that took it (target >= 1 s), and how many
  wraps found it not ready (target 0);
* **callback cost with the trainer on**: 6 stems × 512 frames through
  ``Engine.callback``, a loop that wraps every few blocks and a
  :class:`~stemtui.core.audio.mixstate.NextPass` taken at every wrap (its
  count-in too), gain ramps going, and two per-stem ranges (a mute and a
  solo) with their edges inside the loop (target: median <= 25 µs), on a
  4-s loop; then the same without the ranges, side by side; and both again
  on a loop of 7 blocks (a wrap and four range edges every 84 ms: the stress case).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from stemtui.bench.bench_tempo import make_song
from stemtui.core.audio.engine import Engine
from stemtui.core.audio.mixstate import MUTE, SOLO, CountIn, Range
from stemtui.core.audio.source import ArraySource
from stemtui.core.tempo.trainer import parse_trainer

SR = 44100
BLOCK = 512
#: Frames either side of a wrap's block searched for silence.
AROUND = 2048


def live_session(spec_text: str = "70:10:1:100", passes: int = 4, loop_s: float = 2.0) -> dict:
    """Play a trainer session on the null stream; the silence at each wrap and the lead times."""
    from stemtui.core.tempo.stretchworker import POOL

    POOL.refill()
    song = make_song(20.0)
    engine = Engine(null=True, blocksize=BLOCK)
    mixer = engine.load(song)
    la, lb = 2 * SR, 2 * SR + int(loop_s * SR)
    mixer.set_loop(la, lb)
    mixer.start_at(la, playing=False)
    blocks = int(60 * SR / BLOCK)
    audio = np.zeros((blocks * BLOCK, 2), dtype=np.float32)
    wraps = np.zeros(blocks, dtype=np.int64)
    count = np.zeros(1, dtype=np.int64)
    process = mixer.process

    def capture(out: np.ndarray) -> None:
        # The callback's own work, then a copy into preallocated arrays (no allocation).
        process(out)
        i = int(count[0])
        if i < blocks:
            np.copyto(audio[i * BLOCK : (i + 1) * BLOCK], out)
            wraps[i] = mixer._train_pub[0]
            count[0] = i + 1

    mixer.process = capture  # type: ignore[method-assign]
    mixer.start_trainer(parse_trainer(spec_text, passes=passes))
    deadline = time.monotonic() + 60
    while (st := mixer.trainer) is None or not st.started:
        time.sleep(0.01)
        if time.monotonic() > deadline:
            raise RuntimeError("the trainer never started")
    first_block = int(count[0])
    mixer.play()
    while (st := mixer.trainer) is not None and not st.done and time.monotonic() < deadline + 60:
        time.sleep(0.02)
    time.sleep(0.2)
    errors = mixer.take_tempo_errors()
    underruns = engine.underruns
    engine.close()
    n = min(int(count[0]), blocks)
    w = wraps[:n]
    at = [int(b) for b in np.nonzero(np.diff(w) > 0)[0] + 1 if b > first_block]
    silent = np.abs(audio).max(axis=1) == 0.0
    gaps = []
    for b in at:
        lo, hi = max(0, b * BLOCK - AROUND), min(n * BLOCK, (b + 1) * BLOCK + AROUND)
        run = best = 0
        for s in silent[lo:hi]:
            run = run + 1 if s else 0
            best = max(best, run)
        gaps.append(best)
    assert st is not None
    return {
        "spec": spec_text,
        "passes": passes,
        "loop_s": loop_s,
        "wraps": len(at),
        "gap_frames_each": gaps,
        "gap_frames_max": max(gaps) if gaps else None,
        "target_gap_frames": 0,
        "lead_s_each": list(st.leads),
        "lead_s_min": min(st.leads) if st.leads else None,
        "target_lead_s": 1.0,
        "late_wraps": st.late,
        "underruns": underruns,
        "errors": errors,
    }


#: A 4-s loop in blocks: the callback-cost figure's practice loop.
PRACTICE_LOOP_BLOCKS = 4.0 * SR / BLOCK


def callback_cost(calls: int, ranges: bool = True, loop_blocks: float = 7.24) -> dict:
    """Median and p99.9 of one 6-stem, 512-frame callback with the trainer's next pass taken at each wrap.

    With ``ranges``, two per-stem ranges (a mute and a solo) have their
    edges inside the loop, so every pass crosses four range edges.
    ``loop_blocks``: the loop's length in blocks (7.24: a wrap every few
    blocks, the stress case; 345: a 4-s loop, a short practice loop).
    """
    song = make_song(12.0)
    engine = Engine(null=True, blocksize=BLOCK)
    mixer = engine.load(song)
    engine.stop_stream()  # driven by hand, as the mixer bench does
    engine.mixer = mixer
    la = SR
    lb = la + int(BLOCK * loop_blocks)
    span = lb - la
    mixer.set_loop(la, lb)
    runs = []
    for t in (0.8, 0.9):
        n = int((lb + SR // 10 - la) / t) + 1
        runs.append(ArraySource(np.ascontiguousarray(song.data[:, la : la + n]), la, lb + SR // 10, t, 0))
    clicks = [CountIn(np.full((200 + 40 * k, 2), 0.05, np.float32), True) for k in range(2)]
    mixer.set_count_in(clicks[0].audio)
    if ranges:
        mixer.set_ranges(
            [
                Range(1, la + span * 29 // 100, la + span * 56 // 100, MUTE),
                Range(4, la + span * 70 // 100, lb + 1000, SOLO),
            ]
        )
    mixer.start_at(la, source=runs[0])
    state = {"version": -1, "k": 0}

    def next_pass() -> None:
        wraps, adopted, _late, _at = mixer.trainer_counters()
        if state["version"] < 0 or adopted == state["version"]:
            state["k"] += 1
            k = state["k"] % 2
            state["version"] = mixer.set_next_pass(runs[k], wraps + 1, clicks[k])

    out = np.zeros((BLOCK, 2), dtype=np.float32)
    cb = engine.callback
    for _ in range(500):
        next_pass()
        cb(out, BLOCK, None, None)
    times = np.empty(calls, dtype=np.int64)
    clock = time.perf_counter_ns
    taken0 = mixer.trainer_counters()[1]
    for i in range(calls):
        next_pass()
        if i % 16 == 0:
            mixer.set_volume(i % 6, 0.5 + (i % 3) * 0.25)
        t = clock()
        cb(out, BLOCK, None, None)
        times[i] = clock() - t
    taken = mixer.trainer_counters()[1] - taken0
    engine.close()
    us = times / 1000.0
    return {
        "stems": 6,
        "frames": BLOCK,
        "calls": calls,
        "next_passes_taken": int(taken),
        "ranges": 2 if ranges else 0,
        "loop_s": round(span / SR, 3),
        "median_us": round(float(np.median(us)), 2),
        "p999_us": round(float(np.percentile(us, 99.9)), 2),
        "target_median_us": 25.0,
    }


def machine() -> str:
    """The CPU model (``lscpu``'s model name) and core count."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def main(argv: list[str]) -> int:
    """Run the trainer benchmark; see the module docstring."""
    ap = argparse.ArgumentParser(prog="python -m stemtui.bench trainer")
    ap.add_argument("--json", action="store_true", help="one JSON object")
    ap.add_argument("--calls", type=int, default=20000)
    args = ap.parse_args(argv)
    live = live_session()
    calls = max(1000, args.calls)
    cost = callback_cost(calls, loop_blocks=PRACTICE_LOOP_BLOCKS)
    plain = callback_cost(calls, ranges=False, loop_blocks=PRACTICE_LOOP_BLOCKS)
    stress = callback_cost(calls)
    stress_plain = callback_cost(calls, ranges=False)
    result = {
        "bench": "trainer",
        "machine": machine(),
        "live_null_stream": live,
        "callback_trainer_and_ranges_on": cost,
        "callback_trainer_on_no_ranges": plain,
        "stress_wrap_every_7_blocks": {"ranges_on": stress, "no_ranges": stress_plain},
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"trainer on {result['machine']}, 6 stems")
        print(
            f"  gap at the wraps: max {live['gap_frames_max']} frames of silence over {live['wraps']} wraps (target 0)"
        )
        print(
            f"  next pass ready before its wrap: least {live['lead_s_min']} s (target >= 1 s), "
            f"late wraps {live['late_wraps']}"
        )
        print(
            f"  callback, trainer and 2 ranges on, 6 x 512, a {cost['loop_s']} s loop: median {cost['median_us']} µs, "
            f"p99.9 {cost['p999_us']} µs (target 25 µs median); "
            f"no ranges: median {plain['median_us']} µs, p99.9 {plain['p999_us']} µs"
        )
        print(
            f"  stress, a wrap every 7 blocks: ranges on median {stress['median_us']} µs, "
            f"no ranges {stress_plain['median_us']} µs"
        )
    return 0
