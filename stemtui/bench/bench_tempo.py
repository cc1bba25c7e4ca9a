"""Tempo benchmark: change-to-heard time, callback cost at 0.75x, audio buffered ahead.

``python -m stemtui.bench tempo --json`` measures, on a synthetic 6-stem song:

* **change to heard**: from :meth:`Mixer.set_tempo` on a playing song (the
  engine's real-time null stream) to the first callback that plays the
  stretched run, several times, alternating tempos and transposes;
* **callback cost** at 0.75x on 6 stems, 512 frames: the same callback as
  the mixer benchmark (ramps, meters, loop wraps, the click on), reading a
  stretched run instead of the song; the audio-core budget is 25 µs median;
* **buffered ahead**: playing 0.75x in real time, the least stretched audio
  ready past the playhead (seconds), and how often the playhead had to wait
  (an underrun of the render-ahead), over ``--seconds`` of playback.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from stemtui.core.analysis.beats import BeatGrid
from stemtui.core.audio.engine import Engine
from stemtui.core.audio.song import Song, SongMeta

SR = 44100


def make_song(seconds: float, stems: int = 6) -> Song:
    """Noise-plus-tone stems: stretching costs the same as on music.

    Allocated like a song the store decodes (:meth:`Song.empty`), so the
    tempo workers map it without a copy, as in the player.
    """
    rng = np.random.default_rng(7)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    song = Song.empty([f"s{i}" for i in range(stems)], n, SR, SongMeta("bench"))
    data = song.data
    for i in range(stems):
        tone = 0.2 * np.sin(2 * np.pi * (110 * (i + 1)) * t)
        data[i] = (tone[:, None] + 0.05 * rng.standard_normal((n, 2))).astype(np.float32)
    song.mark_available(n)
    return song


def change_to_heard(song: Song, trials: int) -> list[float]:
    """Seconds from set_tempo to the first callback playing the new run."""
    from stemtui.core.tempo.stretchworker import POOL

    POOL.refill()  # as the player does when a song opens
    engine = Engine(null=True, blocksize=512)
    mixer = engine.load(song)
    mixer.start_at(0)
    time.sleep(1.0)
    out = []
    settings = [(0.75, 0), (0.8, -2), (1.25, 0), (0.6, 3), (1.1, 0), (0.9, -1)]
    try:
        for k in range(trials):
            tempo, semis = settings[k % len(settings)]
            time.sleep(0.5)
            t0 = time.perf_counter()
            mixer.set_tempo(tempo, semis)
            while True:
                src = mixer.current_source
                if getattr(src, "tempo", 1.0) == tempo and getattr(src, "semitones", 0) == semis:
                    break
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError("the stretched audio never arrived")
                time.sleep(0.001)
            out.append(time.perf_counter() - t0)
    finally:
        engine.close()
    return out


def callback_cost(song: Song, calls: int) -> dict:
    """Median and p99.9 of one 512-frame callback playing a 0.75x run."""
    engine = Engine(null=True, blocksize=512)
    mixer = engine.load(song)
    engine.stop_stream()  # we drive the callback ourselves, as the mixer bench does
    engine.mixer = mixer
    mixer.set_loop(SR, 4 * SR)
    mixer.metronome.set_grid(BeatGrid(120.0, 0.0, 4, "manual"))
    mixer.metronome.set_click(True)
    mixer.start_at(SR, playing=False)
    mixer.set_tempo(0.75, 0)
    out = np.zeros((512, 2), dtype=np.float32)
    cb = engine.callback
    deadline = time.monotonic() + 60
    while (
        mixer.current_source is mixer.song_source
        or mixer.loop_source is None
        or not mixer.loop_source.done
        or not mixer.current_source.done
    ):
        cb(out, 512, None, None)
        time.sleep(0.01)
        if time.monotonic() > deadline:
            raise RuntimeError("the stretched runs never finished")
    mixer.play()
    for _ in range(500):
        cb(out, 512, None, None)
    times = np.empty(calls, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(calls):
        if i % 16 == 0:
            mixer.set_volume(i % 6, 0.5 + (i % 3) * 0.25)
        t = clock()
        cb(out, 512, None, None)
        times[i] = clock() - t
    engine.close()
    us = times / 1000.0
    return {
        "median_us": round(float(np.median(us)), 2),
        "p999_us": round(float(np.percentile(us, 99.9)), 2),
        "calls": calls,
        "budget_median_us": 25.0,
    }


def buffered_ahead(song: Song, seconds: float) -> dict:
    """Play 0.75x in real time; the least audio ready ahead, and waits."""
    engine = Engine(null=True, blocksize=512)
    mixer = engine.load(song)
    mixer.start_at(0)
    mixer.set_tempo(0.75, 0)
    t0 = time.monotonic()
    while mixer.current_source is mixer.song_source:
        time.sleep(0.005)
    switched = time.monotonic() - t0
    least = float("inf")
    starved = 0
    polls = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        src = mixer.current_source
        ahead = (min(int(src.avail[0]), src.frames) - mixer.source_position) / SR
        if src.avail[0] < src.frames:  # the end of a finished run is not a shortfall
            least = min(least, ahead)
        starved += int(mixer.starved)
        polls += 1
        time.sleep(0.02)
    engine.close()
    return {
        "seconds_played": seconds,
        "switch_s": round(switched, 3),
        "min_ahead_s": round(least, 2) if least != float("inf") else None,
        "starved_polls": starved,
        "polls": polls,
        "target_min_ahead_s": 2.0,
    }


def main(argv: list[str]) -> int:
    """Run the tempo benchmark; see the module docstring."""
    ap = argparse.ArgumentParser(prog="python -m stemtui.bench tempo")
    ap.add_argument("--json", action="store_true", help="one JSON object")
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=40.0, help="real-time playback for the buffer figure")
    args = ap.parse_args(argv)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    song = make_song(240.0)  # a 4-minute, 6-stem song
    heard = change_to_heard(song, args.trials)
    cost = callback_cost(make_song(20.0), args.calls)
    ahead = buffered_ahead(song, args.seconds)
    result = {
        "bench": "tempo",
        "machine": machine,
        "stems": 6,
        "change_to_heard_s": {
            "median": round(float(np.median(heard)), 3),
            "max": round(max(heard), 3),
            "each": [round(h, 3) for h in heard],
            "target": 1.0,
        },
        "callback_075x": cost,
        "render_ahead_075x": ahead,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"tempo on {machine}, 6 stems")
        print(
            f"  change -> heard: median {result['change_to_heard_s']['median']:.3f} s, "
            f"max {result['change_to_heard_s']['max']:.3f} s (target <= 1 s)"
        )
        print(
            f"  callback at 0.75x, 512 frames: median {cost['median_us']} µs, p99.9 {cost['p999_us']} µs "
            f"(budget 25 µs median)"
        )
        print(
            f"  render-ahead at 0.75x: least ahead {ahead['min_ahead_s']} s (target >= 2 s), "
            f"waits {ahead['starved_polls']} of {ahead['polls']} polls"
        )
    return 0
