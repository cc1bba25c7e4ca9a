"""`stemtui separate` at its limits: a killed worker, a disk too small, a long song.

Real processes throughout: the CLI as a subprocess with demucs's
``demucs_unittest`` model (offline), the worker killed with SIGKILL, a real
small tmpfs as the cache, and peak RSS read with ``getrusage`` in a process
that runs nothing but that one separation.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from stemtui.bench.bench_sepmemory import write_long_song
from stemtui.core.library.store import Store
from tests.tiny_models import test_audio
from tests.tmpfs import tmpfs

pytest.importorskip("torch")

SR = 44100
UNITTEST = ["-n", "demucs_unittest"]


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "STEMTUI_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}


def run(args, cache: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stemtui", *args], env=_env(cache), capture_output=True, text=True, timeout=timeout
    )


def worker_pids(cache: Path) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-f", f"stemtui.core.separation.worker.*{cache}"], capture_output=True, text=True
    ).stdout
    return [int(x) for x in out.split()]


def long_song(path: Path, minutes: float, seed: int = 0) -> Path:
    """Noise bursts and tones, written a minute at a time (the separation benchmark's song)."""
    write_long_song(path, minutes, seed)
    return path


@pytest.fixture(scope="module")
def song_40s(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "Forty.wav"
    sf.write(path, test_audio(40.0, seed=4), SR)
    return path


def test_killed_worker_is_one_line_nothing_stored_and_a_rerun_works(tmp_path, song_40s):
    cache = tmp_path / "cache"
    p = subprocess.Popen(
        [sys.executable, "-m", "stemtui", "separate", str(song_40s), *UNITTEST, "--json"],
        env=_env(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    for line in p.stdout:  # the plan, then progress: kill after the first finished segment
        ev = json.loads(line)
        if ev["event"] == "progress" and ev["fraction"] > 0:
            break
    pids = worker_pids(cache)
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1
    lines = err.strip().splitlines()
    assert lines == [
        f"stemtui: {song_40s}: the separation worker died (killed by SIGKILL); run the command again to retry"
    ]
    assert json.loads(out.splitlines()[-1])["event"] == "error"
    # The store is intact: no entry, no temporary folder.
    listing = run(["list", "--json"], cache)
    assert listing.returncode == 0, listing.stderr
    assert [e for e in json.loads(listing.stdout) if e["source"] == str(song_40s.resolve())] == []
    assert list((cache / "tmp").iterdir()) == []
    again = run(["separate", str(song_40s), *UNITTEST, "--json"], cache)
    assert again.returncode == 0, again.stderr
    done = json.loads(again.stdout.splitlines()[-1])
    assert done["status"] == "separated" and Store(cache).get(done["id"]).ok


def test_a_disk_too_small_is_refused_before_anything_is_written(tmp_path, song_40s):
    with tmpfs(tmp_path / "small", size="8m") as cache:
        before = subprocess.run(["df", "-B1", "--output=used", str(cache)], capture_output=True, text=True).stdout
        r = run(["separate", str(song_40s), *UNITTEST], cache)
        assert r.returncode == 1
        assert "Traceback" not in r.stderr
        refusal = [ln for ln in r.stderr.splitlines() if "not enough disk space" in ln]
        assert len(refusal) == 1 and str(song_40s) in refusal[0] and "MB free" in refusal[0], r.stderr
        assert not (r.stderr.count("stemtui:") > 1)
        assert list((cache / "tmp").iterdir()) == [] and list((cache / "songs").iterdir()) == []
        after = subprocess.run(["df", "-B1", "--output=used", str(cache)], capture_output=True, text=True).stdout
        assert before == after  # not a byte was written


def test_the_plan_is_told_up_front(tmp_path, song_40s):
    cache = tmp_path / "cache"
    r = run(["separate", str(song_40s), *UNITTEST, "--json"], cache)
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout.splitlines()[0])
    assert plan["event"] == "plan" and plan["seconds"] == pytest.approx(40.0)
    assert plan["eta_s"] > 0 and plan["measured"] is False
    # Output is 4 float32 stereo stems (32 bytes a frame): the peak holds them.
    assert plan["peak_bytes"] >= 40 * SR * 32 and plan["stems_bytes"] > 0
    # After one run the speed is this machine's.
    again = run(["separate", str(song_40s), *UNITTEST, "--two-stems", "vocals"], cache)
    assert again.returncode == 0 and "from past runs on this machine" in again.stderr, again.stderr


_PEAK = """
import resource, subprocess, sys
r = subprocess.run([sys.executable, "-m", "stemtui", "separate", sys.argv[1], "-n", "demucs_unittest"],
                   capture_output=True, text=True)
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, repr(r.stderr[-300:]))
"""


def peak_rss_kb(song: Path, cache: Path) -> int:
    """Peak RSS of the largest process of one `stemtui separate` (the CLI or its worker), in kB."""
    r = subprocess.run([sys.executable, "-c", _PEAK, str(song)], env=_env(cache), capture_output=True, text=True)
    rc, kb, tail = r.stdout.split(" ", 2)
    assert rc == "0", (r.stderr, tail)
    return int(kb)


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_song(tmp_path):
    """20 minutes within 1.5x of 2 minutes' peak RSS (before: the whole song, several times over)."""
    short = long_song(tmp_path / "two.wav", 2)
    long = long_song(tmp_path / "twenty.wav", 20, seed=1)
    t0 = time.monotonic()
    small = peak_rss_kb(short, tmp_path / "c1")
    big = peak_rss_kb(long, tmp_path / "c2")
    took = time.monotonic() - t0
    # The 20-minute song's input alone is 420 MB as float32 and its stems 1.7 GB.
    assert big <= 1.5 * small, (small, big, took)
