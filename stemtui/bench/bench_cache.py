"""Cache benchmark: opening a cached song, and its size on disk.

``python -m stemtui.bench cache --json`` stores a 10-minute, 6-stem song
(built from the demo's synthesized stems, so it compresses like music rather
than like noise or silence), then measures, over several runs, the time from
"open this cached song" to the first non-silent block coming out of the
mixer, and the stems' size on disk against 16-bit PCM.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from stemtui.core.audio.mixer import Mixer
from stemtui.core.audio.song import Song, SongMeta
from stemtui.core.library.demo import synthesize
from stemtui.core.library.stemfiles import wait_first_audio
from stemtui.core.library.store import Store

SR = 44100


def build_song(minutes: float = 10.0) -> Song:
    """A long 6-stem song: the demo's stems tiled, plus two derived stems."""
    demo = synthesize(SR)
    frames = int(minutes * 60 * SR)
    reps = -(-frames // len(demo["drums"]))
    tiled = {k: np.tile(v, (reps, 1))[:frames] for k, v in demo.items()}
    # Two more stems with their own content: the chords an octave down with a
    # slow tremolo ("piano"), and the vocal line, delayed and filtered ("guitar").
    t = np.arange(frames, dtype=np.float32) / SR
    tiled["piano"] = (
        np.repeat(tiled["chords"][::2], 2, axis=0)[:frames] * (0.6 + 0.4 * np.sin(2 * np.pi * 0.3 * t))[:, None]
    ).astype(np.float32)
    guitar = np.roll(tiled["vocals"], SR // 4, axis=0)
    tiled["guitar"] = (0.5 * (guitar + np.roll(guitar, 1, axis=0))).astype(np.float32)
    return Song.from_stems(tiled, SR, SongMeta("cache bench", source="bench"))


def time_open_to_first_audio(store: Store, song_id: str) -> float:
    """Seconds from a fresh lookup to the mixer's first non-silent block."""
    t0 = time.perf_counter()
    entry = store.get(song_id)
    song = store.open(entry)
    mixer = Mixer(song)
    mixer.start_at(0)
    wait_first_audio(song)
    out = np.zeros((512, 2), dtype=np.float32)
    while True:
        mixer.process(out)
        if np.abs(out).max() > 0:
            break
    elapsed = time.perf_counter() - t0
    song.complete.wait()  # let the decoder finish before the next run
    return elapsed


def measure(minutes: float = 10.0, runs: int = 5) -> dict:
    """Store a long 6-stem song in a temp store and time opening it; see module docstring."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "cache")
        song = build_song(minutes)
        t0 = time.perf_counter()
        entry = store.add_song(song, "bench")
        write_s = time.perf_counter() - t0
        pcm16 = entry.frames * 2 * 2 * len(entry.stems)
        del song
        times = [time_open_to_first_audio(store, "bench") for _ in range(runs)]
        t0 = time.perf_counter()
        store.open(store.get("bench"), block=True)
        full_decode_s = time.perf_counter() - t0
    return {
        "bench": "cache",
        "minutes": minutes,
        "stems": len(entry.stems),
        "open_to_first_audio_s_median": round(statistics.median(times), 4),
        "open_to_first_audio_s_max": round(max(times), 4),
        "full_decode_s": round(full_decode_s, 2),
        "store_write_s": round(write_s, 2),
        "disk_bytes": entry.size_bytes,
        "pcm16_bytes": pcm16,
        "disk_vs_pcm16": round(entry.size_bytes / pcm16, 3),
        "format": "FLAC 16-bit",
    }


def main(argv: list[str]) -> int:
    """Run the cache benchmark; see the module docstring."""
    ap = argparse.ArgumentParser(prog="python -m stemtui.bench cache")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    result = measure(args.minutes, args.runs)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:32} {v}")
    return 0
