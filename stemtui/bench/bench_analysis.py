"""Song map benchmark: each analysis's score on the synthesized set, and its time on a 4-minute song.

``python -m stemtui.bench analysis --json`` prints one object:

* ``set``: per song and averaged, the mir_eval scores of
  :mod:`stemtui.bench.mapscores` on :data:`~stemtui.core.analysis.synthsongs.TEST_SPECS`
  (the songs the tests score) and, with ``--held-out``, on the same specs
  drawn with other seeds (never tuned on);
* ``song_4min``: :data:`~stemtui.core.analysis.synthsongs.BENCH_SPEC`
  (about 4 minutes) analysed in this process twice, ``cold`` (librosa's
  first calls, numba loading its cache) and ``warm``, each analysis timed,
  then ``given_grid`` (a saved or tapped grid: no beat estimate), each
  with its CPU seconds (``cpu_s``: the machine is shared, wall time is not
  all ours), then in the worker process as the player runs it (``child_wall_s``,
  including the child's start and imports; ``child_first_partial_s``: when
  the first partial map, the bass line, arrived), and its scores;
* ``player``: the same song opened in the real player with no map yet
  (:mod:`stemtui.bench.mapplayer`), <kbd>Enter</kbd> pressed after 5 s in
  the library: seconds from it until the lane shows its first result, a
  chord, and the sections; ``player_enter_at_once``: the same with Enter
  pressed as soon as the library shows (the worst case).

Targets (issue 12): chords >= 0.85, boundaries >= 0.8, key >= 0.9, bass >= 0.85,
all analyses together <= 20 s for the 4-minute song, the first on screen within 5 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time

import numpy as np

from stemtui.bench.mapscores import score
from stemtui.core.analysis import synthsongs
from stemtui.core.analysis.mapjob import MapJob
from stemtui.core.analysis.songmap import analyze_stems

TARGETS = {
    "chords_majmin": 0.85,
    "boundary_f": 0.8,
    "key_exact": 0.9,
    "bass_onset_f": 0.85,
    "total_s": 20.0,
    "first_on_screen_s": 5.0,
}


def score_set(specs: tuple[synthsongs.SongSpec, ...]) -> dict:
    songs = {}
    for spec in specs:
        song = synthsongs.render(spec)
        songs[spec.name] = {k: round(v, 3) for k, v in score(song.truth, analyze_stems(song.stems, song.sr)).items()}
    keys = next(iter(songs.values())).keys()
    return {"songs": songs, "mean": {k: round(float(np.mean([s[k] for s in songs.values()])), 3) for k in keys}}


def time_long_song(child: bool) -> dict:
    song = synthsongs.render(synthsongs.BENCH_SPEC)
    out: dict = {"name": synthsongs.BENCH_SPEC.name, "duration_s": round(song.truth.duration, 1)}
    grid = None
    for run in ("cold", "warm", "given_grid"):
        t0, c0 = time.perf_counter(), time.process_time()
        m = analyze_stems(song.stems, song.sr, grid if run == "given_grid" else None)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        out[run] = {"total_s": round(wall, 2), "cpu_s": round(cpu, 2), **{k: round(v, 2) for k, v in m.timings.items()}}
        grid = grid or m.grid
    out["scores"] = {k: round(v, 3) for k, v in score(song.truth, m).items()}
    if child:
        t0 = time.perf_counter()
        firsts: list[float] = []
        job = MapJob(song.stems, song.sr, on_partial=lambda _m: firsts.append(time.perf_counter() - t0))
        job.wait()
        if job.failure is not None:
            raise job.failure
        out["child_wall_s"] = round(time.perf_counter() - t0, 2)
        out["child_first_partial_s"] = round(firsts[0], 2) if firsts else None
    return out


def main(argv: list[str]) -> int:
    """Run the analysis benchmark; see the module docstring."""
    ap = argparse.ArgumentParser(prog="python -m stemtui.bench analysis")
    ap.add_argument("--json", action="store_true", help="one JSON object")
    ap.add_argument("--held-out", action="store_true", help="also score the set drawn with other seeds")
    ap.add_argument("--no-child", action="store_true", help="skip timing the worker process")
    ap.add_argument("--no-player", action="store_true", help="skip timing the map in the real player")
    args = ap.parse_args(argv)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    t0 = time.perf_counter()
    long_song = time_long_song(not args.no_child)
    result: dict = {"bench": "analysis", "machine": machine, "targets": TARGETS, "song_4min": long_song}
    if not args.no_player:
        from stemtui.bench.mapplayer import time_in_player

        song = synthsongs.render(synthsongs.BENCH_SPEC)
        result["player"] = time_in_player(song, in_library_s=5.0)
        result["player_enter_at_once"] = time_in_player(song)
    result["set"] = score_set(synthsongs.TEST_SPECS)
    if args.held_out:
        held = tuple(dataclasses.replace(s, seed=s.seed + 100, name=f"{s.name}-b") for s in synthsongs.TEST_SPECS)
        result["held_out"] = score_set(held)
    result["bench_s"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"song map on {machine}")
    for name in ("set", "held_out"):
        if name in result:
            print(f"  {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in result[name]["mean"].items()))
    w = long_song["warm"]
    g = long_song["given_grid"]
    print(
        f"  {long_song['duration_s']} s song: warm {w['total_s']} s ("
        + ", ".join(f"{k} {v}" for k, v in w.items() if k != "total_s")
        + f"), cold {long_song['cold']['total_s']} s, given a grid {g['total_s']} s (cpu {g['cpu_s']} s)"
        + (f", in the worker {long_song['child_wall_s']} s" if "child_wall_s" in long_song else "")
    )
    for key in ("player", "player_enter_at_once"):
        if key in result:
            p = result[key]
            print(
                f"  in the player, Enter after {p['in_library_s']:g} s in the library: first on screen "
                f"{p['first_on_screen_s']} s, chords {p['chords_on_screen_s']} s, "
                f"sections (all) {p['sections_on_screen_s']} s"
            )
    return 0
