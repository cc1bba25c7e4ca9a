"""Separation memory against song length: ``python -m stemtui.bench separation --long``.

For each length (default 2, 20 and 60 minutes) a stereo 16-bit WAV of noise
bursts and tones is written, then ``stemtui separate FILE -n demucs_unittest``
runs in a fresh cache inside a helper process that runs nothing else, which
reads ``getrusage(RUSAGE_CHILDREN).ru_maxrss``: the peak RSS of the largest
process of that separation (the CLI or its worker). ``demucs_unittest`` is
demucs's small random-weight HDemucs: it loads offline and is fast enough
for an hour of audio; a full-size model adds its weights and activations,
a constant, to every row.

Options: ``--minutes 2,20,60``, ``--model NAME``, ``--model-repo DIR``, ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SR = 44100

_PEAK = """
import resource, subprocess, sys
r = subprocess.run([sys.executable, "-m", "stemtui", "separate", *sys.argv[1:]], capture_output=True, text=True)
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, repr(r.stderr[-400:]))
"""


def write_long_song(path: Path, minutes: float, seed: int = 0) -> None:
    """Noise bursts and two tones, written a minute at a time (never held whole)."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    with sf.SoundFile(str(path), "w", SR, 2, subtype="PCM_16") as f:
        left, t0 = int(minutes * 60 * SR), 0
        while left > 0:
            n = min(left, 60 * SR)
            t = (t0 + np.arange(n)) / SR
            tone = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 331 * t)
            burst = 0.2 * rng.standard_normal(n) * ((t % 0.5) < 0.05)
            f.write(np.stack([tone + burst, 0.8 * tone + burst], axis=1).astype(np.float32))
            left, t0 = left - n, t0 + n


def measure(song: Path, cache: Path, model_args: list[str]) -> dict:
    """One separation's peak RSS (MB) and wall time (s)."""
    from stemtui.settings import CACHE_ENV

    env = {**os.environ, CACHE_ENV: str(cache), "HF_HUB_OFFLINE": "1"}
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-c", _PEAK, str(song), *model_args], env=env, capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - t0
    rc, kb, tail = [*r.stdout.split(" ", 2), "", "", ""][:3]
    if rc != "0":
        raise SystemExit(f"separation failed: {tail or r.stderr[-400:]}")
    return {"peak_rss_mb": round(int(kb) / 1024, 1), "wall_s": round(wall, 1)}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m stemtui.bench separation --long", description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--minutes", default="2,20,60", help="song lengths, comma-separated (default 2,20,60)")
    ap.add_argument("--model", default="demucs_unittest")
    ap.add_argument("--model-repo")
    args = ap.parse_args([a for a in argv if a != "--long"])
    model_args = ["-n", args.model] + (["--model-repo", args.model_repo] if args.model_repo else [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="stemtui-bench-long-") as tmp:
        for i, minutes in enumerate(float(m) for m in args.minutes.split(",")):
            song = Path(tmp) / f"song{i}.wav"
            write_long_song(song, minutes, seed=i)
            row = {"minutes": minutes, **measure(song, Path(tmp) / f"cache{i}", model_args)}
            row["realtime_factor"] = round(row["wall_s"] / (minutes * 60), 3)
            rows.append(row)
            song.unlink()
            for f in (Path(tmp) / f"cache{i}").rglob("*.flac"):
                f.unlink()  # keep the disk for the next, longer song
    result = {
        "bench": "separation --long",
        "model": args.model,
        "rows": rows,
        "growth_mb_per_hour": _slope(rows),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"peak RSS against song length ({args.model}, `stemtui separate`, largest process)")
        print(f"{'minutes':>8} {'peak RSS MB':>12} {'wall s':>8} {'s per s':>8}")
        for r in rows:
            print(f"{r['minutes']:>8g} {r['peak_rss_mb']:>12.1f} {r['wall_s']:>8.1f} {r['realtime_factor']:>8.3f}")
        print(f"growth between the two longest: {result['growth_mb_per_hour']} MB per hour of audio")
    return 0


def _slope(rows: list[dict]) -> float | None:
    """MB per hour between the two longest songs (the shortest has too few segments to reach the plateau)."""
    if len(rows) < 2:
        return None
    a, b = sorted(rows, key=lambda r: r["minutes"])[-2:]
    if b["minutes"] == a["minutes"]:
        return None
    return round((b["peak_rss_mb"] - a["peak_rss_mb"]) / (b["minutes"] - a["minutes"]) * 60, 1)
