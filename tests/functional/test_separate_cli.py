"""`stemtui separate` end to end with real demucs code (no network).

Uses demucs's own ``demucs_unittest`` model (random-weight HDemucs, loads
offline) and a tiny HTDemucs saved by the test as a local repo.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemtui.core.library.store import Store
from tests.tiny_models import save_th, test_audio, tiny_htdemucs

SR = 44100
UNITTEST = ["-n", "demucs_unittest"]


def cli(args, cache: Path, **kw):
    env = {**os.environ, "STEMTUI_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "stemtui", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def run(args, cache: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    p = cli(args, cache)
    out, err = p.communicate(timeout=timeout)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


@pytest.fixture(scope="module")
def song_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "Song Title.wav"
    sf.write(path, test_audio(12.0), SR)
    return path


def complete_ids(cache: Path) -> list[str]:
    return sorted(e.id for e in Store(cache).entries() if e.ok)


def test_separate_then_cache_hit_on_renamed_file(tmp_path, song_wav):
    cache = tmp_path / "cache"
    r = run(["separate", str(song_wav), *UNITTEST, "--json"], cache)
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    progress = [e for e in events if e["event"] == "progress"]
    done = events[-1]
    assert done["event"] == "done" and done["status"] == "separated"
    assert done["stems"] == ["vocals", "drums", "bass", "other"]
    # Progress is monotonic in every field that counts, and reaches 100 %.
    fr = [e["fraction"] for e in progress]
    assert fr == sorted(fr) and fr[-1] == 1.0
    ready = [e["ready_frames"] for e in progress]
    assert ready == sorted(ready) and ready[-1] == sf.info(song_wav).frames
    assert {e["model"] for e in progress} == {"demucs_unittest"} and progress[-1]["device"] == "cpu"

    entry = Store(cache).get(done["id"])
    assert entry.ok and entry.title == "Song Title" and entry.model == "demucs_unittest"
    assert entry.frames == sf.info(song_wav).frames
    mix = sum(sf.read(entry.stem_path(n), dtype="float32")[0] for n in entry.stems)
    assert mix.shape == (entry.frames, 2)

    renamed = tmp_path / "something else.wav"
    renamed.write_bytes(song_wav.read_bytes())
    t0 = time.monotonic()
    r = run(["separate", str(renamed), *UNITTEST, "--json"], cache)
    elapsed = time.monotonic() - t0
    hit = json.loads(r.stdout.splitlines()[-1])
    assert hit["status"] == "cached" and hit["id"] == done["id"], (hit, elapsed)
    # Other options are another entry.
    r = run(["separate", str(renamed), *UNITTEST, "--two-stems", "vocals", "--json"], cache)
    two = json.loads(r.stdout.splitlines()[-1])
    assert two["status"] == "separated" and two["stems"] == ["vocals", "instrumental"] and two["id"] != done["id"]


def test_queue_reports_bad_files_and_goes_on(tmp_path, song_wav):
    cache = tmp_path / "cache"
    bad_text = tmp_path / "notes.mp3"
    bad_text.write_text("not audio")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 2)), SR)
    r = run(
        [
            "separate",
            str(tmp_path / "missing.flac"),
            str(bad_text),
            str(tmp_path),
            str(empty),
            str(song_wav),
            *UNITTEST,
        ],
        cache,
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr
    assert any("missing.flac: no such file" in ln for ln in lines)
    assert any("notes.mp3: not an audio file" in ln for ln in lines)
    assert any(f"{tmp_path}: is a directory" in ln for ln in lines)
    assert any("empty.wav: zero-length audio" in ln for ln in lines)
    assert "separated:" in r.stderr  # the good file still went through
    assert len(complete_ids(cache)) == 1
    assert list((cache / "tmp").iterdir()) == []


def test_offline_error_for_htdemucs(tmp_path, song_wav):
    cache = tmp_path / "cache"
    env_home = tmp_path / "hf"
    p = subprocess.run(
        [sys.executable, "-m", "stemtui", "separate", str(song_wav)],
        env={**os.environ, "STEMTUI_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1", "HF_HOME": str(env_home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2
    # The plan (time and disk) comes first; then the error, in one line.
    plan, *lines = p.stderr.strip().splitlines()
    assert "of audio: about" in plan
    assert len(lines) == 1 and "Traceback" not in p.stderr
    assert "htdemucs" in lines[0] and "--model-repo" in lines[0] and str(env_home) in lines[0]
    assert complete_ids(cache) == [] and list((cache / "tmp").iterdir()) == []


def test_model_repo_with_tiny_htdemucs(tmp_path, song_wav):
    """A local repo holding a tiny HTDemucs: the transformer path, loaded from a named folder."""
    repo = tmp_path / "repo"
    save_th(tiny_htdemucs(), repo, "tinyht")
    cache = tmp_path / "cache"
    r = run(["separate", str(song_wav), "-n", "tinyht", "--model-repo", str(repo), "--json"], cache)
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout.splitlines()[-1])
    assert done["stems"] == ["vocals", "drums", "bass", "guitar"]
    r = run(["separate", str(song_wav), "-n", "tinyht", "--model-repo", str(tmp_path / "nope")], cache)
    assert r.returncode == 2 and "--model-repo" in r.stderr and "no such folder" in r.stderr


def _wait_for(pred, timeout=60.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "long.wav"
    sf.write(path, test_audio(40.0, seed=3), SR)
    return path


def test_ctrl_c_cancels_and_leaves_nothing(tmp_path, long_wav):
    cache = tmp_path / "cache"
    p = cli(["separate", str(long_wav), *UNITTEST, "--json"], cache)
    # Wait for the first progress event (after the plan), then interrupt as a terminal would.
    assert json.loads(p.stdout.readline())["event"] == "plan"
    first = p.stdout.readline()
    assert json.loads(first)["event"] == "progress"
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    _out, err = p.communicate(timeout=30)
    assert p.returncode == 130 and "cancelled" in err and "Traceback" not in err
    assert time.monotonic() - t0 < 10
    assert complete_ids(cache) == []
    assert list((cache / "tmp").iterdir()) == []
    assert not _worker_alive(cache)


def _worker_alive(cache: Path) -> bool:
    out = subprocess.run(
        ["pgrep", "-f", f"stemtui.core.separation.worker.*{cache}"], capture_output=True, text=True
    ).stdout
    return bool(out.strip())


@pytest.mark.parametrize("delay", [0.3, 1.5, 3.0, "commit"])
def test_kill_9_leaves_no_partial_entry(tmp_path, song_wav, delay):
    """kill -9 at several points: the store shows only complete entries, and a rerun works."""
    cache = tmp_path / "cache"
    p = cli(["separate", str(song_wav), *UNITTEST, "--json"], cache)
    if delay == "commit":
        # Right when stems are being written: the last progress event is out.
        for line in p.stdout:
            if json.loads(line).get("fraction") == 1.0:
                break
    else:
        time.sleep(delay)
    p.kill()
    p.wait()
    store = Store(cache)  # a new process's view: sweeps the dead writer's temp folder
    assert all(e.ok for e in store.entries())
    assert list(store.tmp_dir.iterdir()) == []
    assert _wait_for(lambda: not _worker_alive(cache), 10), "the worker outlived its parent"
    r = run(["separate", str(song_wav), *UNITTEST, "--json"], cache)
    assert r.returncode == 0, r.stderr
    assert len(complete_ids(cache)) == 1


def test_damaged_separation_entry(tmp_path, song_wav):
    cache = tmp_path / "cache"
    r = run(["separate", str(song_wav), *UNITTEST, "--json"], cache)
    sid = json.loads(r.stdout.splitlines()[-1])["id"]
    entry = Store(cache).get(sid)
    stem = entry.stem_path("vocals")
    stem.write_bytes(stem.read_bytes()[:1000])
    listing = subprocess.run(
        [sys.executable, "-m", "stemtui", "list", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "STEMTUI_CACHE_DIR": str(cache)},
        timeout=60,
    )
    states = {e["id"]: e for e in json.loads(listing.stdout)}
    assert states[sid]["state"] == "damaged" and "vocals" in states[sid]["reason"]
    # Separating again replaces the damaged entry.
    r = run(["separate", str(song_wav), *UNITTEST, "--json"], cache)
    assert json.loads(r.stdout.splitlines()[-1])["status"] == "separated"
    assert Store(cache).get(sid).ok


def test_cache_hit_does_not_import_torch(tmp_path, song_wav):
    cache = tmp_path / "cache"
    assert run(["separate", str(song_wav), *UNITTEST], cache).returncode == 0
    code = (
        "import sys\nfrom stemtui.cli import main\n"
        f"rc = main(['separate', {str(song_wav)!r}, '-n', 'demucs_unittest'])\n"
        "print(rc, 'torch' in sys.modules, 'demucs' in sys.modules)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STEMTUI_CACHE_DIR": str(cache)},
    )
    assert r.stdout.split() == ["0", "False", "False"], (r.stdout, r.stderr)
    assert "cached:" in r.stderr
