"""The CLI as a subprocess: exit codes, one-line errors, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 22050


def run(args: list[str], cache: Path, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "STEMTUI_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "stemtui", *args], capture_output=True, text=True, env=env, timeout=120, **kw
    )


def assert_one_line_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def songs_in(cache: Path) -> list[str]:
    d = cache / "songs"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def tmp_leftovers(cache: Path) -> list[str]:
    d = cache / "tmp"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


@pytest.fixture
def stem_folder(tmp_path) -> Path:
    folder = tmp_path / "My Song"
    folder.mkdir()
    t = np.arange(SR * 2) / SR
    for name, f in (("vocals", 440.0), ("drums", 110.0), ("bass", 55.0)):
        sf.write(folder / f"{name}.wav", 0.3 * np.sin(2 * np.pi * f * t), SR)
    return folder


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def test_help_and_version(cache):
    r = run(["--help"], cache)
    assert r.returncode == 0 and "separate" not in r.stderr and "play" in r.stdout
    assert run(["--version"], cache).stdout.startswith("stemtui ")


def test_import_list_info_export_rm(cache, stem_folder, tmp_path):
    r = run(["import", str(stem_folder), "--title", "Test Song"], cache)
    assert r.returncode == 0, r.stderr
    assert "imported" in r.stdout and "Test Song" in r.stdout
    r = run(["import", str(stem_folder)], cache)
    assert "already in the library" in r.stdout

    listing = json.loads(run(["list", "--json"], cache).stdout)
    titles = {e["title"]: e for e in listing}
    assert "Test Song" in titles and titles["Test Song"]["state"] == "complete"
    assert any(t.startswith("Demo") for t in titles)  # the demo is there on first run

    info = run(["info", "test song"], cache).stdout
    assert "vocals" in info and ".flac" in info

    out = tmp_path / "karaoke.wav"
    r = run(["export", "test song", "--mute", "vocals", "-o", str(out)], cache)
    assert r.returncode == 0, r.stderr
    mix, sr = sf.read(out, dtype="float32")
    assert sr == SR and mix.shape == (SR * 2, 2)
    t = np.arange(SR * 2) / SR
    expected = 0.3 * np.sin(2 * np.pi * 110 * t) + 0.3 * np.sin(2 * np.pi * 55 * t)
    np.testing.assert_allclose(mix[:, 0], expected, atol=3e-4)

    assert run(["rm", "test song"], cache).returncode == 0
    assert "Test Song" not in run(["list"], cache).stdout


def test_export_loop_and_range(cache, stem_folder, tmp_path):
    run(["import", str(stem_folder)], cache)
    out = tmp_path / "part.flac"
    r = run(
        [
            "export",
            "my song",
            "--from",
            "0:00.5",
            "--to",
            "1.5",
            "--solo",
            "bass",
            "--volume",
            "bass=-6dB",
            "-o",
            str(out),
        ],
        cache,
    )
    assert r.returncode == 0, r.stderr
    mix, _ = sf.read(out, dtype="float32")
    assert mix.shape[0] == SR
    t = (np.arange(SR) + SR // 2) / SR
    np.testing.assert_allclose(mix[:, 0], 0.5012 * 0.3 * np.sin(2 * np.pi * 55 * t), atol=3e-4)
    r = run(["export", "my song", "--loop", "0:00.25-0:00.75", "-o", str(out)], cache)
    assert r.returncode == 0 and abs(sf.info(out).frames - SR // 2) <= 1  # ms -> frames rounding


@pytest.mark.parametrize(
    "make,needle",
    [
        (lambda d: d / "missing.wav", "no such file"),
        (lambda d: (d / "empty").mkdir() or d / "empty", "no audio files"),
        (lambda d: (d / "notes.txt").write_text("hi") and d / "notes.txt", "expected a folder of stems"),
    ],
    ids=["missing", "empty-dir", "text-file"],
)
def test_import_bad_paths(cache, tmp_path, make, needle):
    path = make(tmp_path)
    r = run(["import", str(path)], cache)
    assert_one_line_error(r, str(path), needle)
    assert [s for s in songs_in(cache) if not s.startswith("demo")] == []
    assert tmp_leftovers(cache) == []


def test_import_folder_with_non_audio_and_zero_length(cache, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "vocals.wav").write_bytes(b"this is not audio at all" * 10)
    r = run(["import", str(bad)], cache)
    assert_one_line_error(r, "vocals.wav", "not an audio file")
    zero = tmp_path / "zero"
    zero.mkdir()
    sf.write(zero / "drums.wav", np.zeros((0, 2)), SR)
    r = run(["import", str(zero)], cache)
    assert_one_line_error(r, "drums.wav", "zero-length audio")
    assert tmp_leftovers(cache) == [] and [s for s in songs_in(cache) if not s.startswith("demo")] == []


@pytest.mark.parametrize(
    "args,needles",
    [
        (["export", "demo", "--mute", "kazoo", "-o", "{out}"], ["kazoo", "no such stem", "vocals"]),
        (["export", "demo", "--from", "1:7x", "-o", "{out}"], ["1:7x", "not a time"]),
        (["export", "demo", "--loop", "0:20-0:10", "-o", "{out}"], ["0:20-0:10", "after the start"]),
        (["export", "demo", "--volume", "bass=loud", "-o", "{out}"], ["loud", "not a volume"]),
        (["export", "demo", "-o", "{dir}/x.aiff"], ["x.aiff", "unsupported output format"]),
        (["play", "demo", "--solo", "kazoo", "--device", "null"], ["kazoo", "no such stem"]),
        (["play", "demo", "--loop", "oops"], ["oops", "not a loop"]),
        (["play", "nothing-like-this"], ["nothing-like-this", "no song"]),
        (["info", "zzzz"], ["zzzz", "no song"]),
    ],
    ids=[
        "unknown-stem",
        "bad-time",
        "backwards-loop",
        "bad-volume",
        "bad-format",
        "play-unknown-stem",
        "bad-loop",
        "unknown-song",
        "info-unknown",
    ],
)
def test_bad_flags(cache, tmp_path, args, needles):
    out = tmp_path / "out.wav"
    args = [a.format(out=out, dir=tmp_path) for a in args]
    r = run(args, cache)
    assert_one_line_error(r, *needles)
    assert not out.exists() and not list(tmp_path.glob(".*.part"))


def test_ambiguous_song_lists_matches(cache, tmp_path, stem_folder):
    run(["import", str(stem_folder), "--title", "Blue Song"], cache)
    other = tmp_path / "other"
    other.mkdir()
    sf.write(other / "bass.wav", np.ones((100, 2)) * 0.1, SR)
    run(["import", str(other), "--title", "Blue Moon"], cache)
    r = run(["info", "blue"], cache)
    assert_one_line_error(r, "blue", "matches 2 songs", "Blue Song", "Blue Moon")


def test_damaged_entry_is_listed_and_removable(cache, stem_folder):
    run(["import", str(stem_folder)], cache)
    entry = next(p for p in (cache / "songs").iterdir() if not p.name.startswith("demo"))
    (entry / "bass.flac").write_bytes(b"")
    listing = run(["list"], cache)
    assert listing.returncode == 0 and "damaged" in listing.stdout
    r = run(["play", "my song", "--device", "null"], cache)
    assert_one_line_error(r, "damaged")
    assert run(["rm", "my song"], cache).returncode == 0


def test_play_without_any_device_says_so(cache, tmp_path):
    """A headless host (no sound server, no card): a one-line notice, exit 2."""
    env_extra = {"PULSE_SERVER": "unix:/nonexistent", "XDG_RUNTIME_DIR": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, "-m", "stemtui", "play", "demo", "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STEMTUI_CACHE_DIR": str(cache), **env_extra},
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "no audio output" in r.stderr and "export" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "stemtui", "export", "demo", "-o", str(tmp_path / "x.wav")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STEMTUI_CACHE_DIR": str(cache), **env_extra},
    )
    assert r.returncode == 0 and (tmp_path / "x.wav").exists()


def test_demo_command_reinstalls_after_rm(cache):
    assert "Demo: Night Drive" in run(["list"], cache).stdout  # installed on first run
    assert run(["rm", "demo"], cache).returncode == 0
    assert "Demo" not in run(["list"], cache).stdout  # a removed demo stays removed
    r = run(["demo"], cache)
    assert r.returncode == 0 and "demo ready" in r.stdout, r.stderr
    assert "Demo: Night Drive" in run(["list"], cache).stdout
