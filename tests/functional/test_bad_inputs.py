"""Bad inputs and half-written files, through the real CLI (``python -m stemtui``).

Every case: one line on stderr naming the input and the reason, the right
exit code, no traceback, no hang (each run has a timeout), and nothing
half-written left behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemtui.core.library.safeio import PART_RE
from stemtui.core.library.store import Store
from tests.tmpfs import tmpfs

SR = 22050
#: Long enough to tell a hang from a slow start on two busy cores.
TIMEOUT = 60


def env_for(cache: Path) -> dict:
    return {**os.environ, "STEMTUI_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}


def run(args: list[str], cache: Path, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """The CLI; a hang fails the test with TimeoutExpired instead of blocking it."""
    return subprocess.run(
        [sys.executable, "-m", "stemtui", *args],
        capture_output=True,
        text=True,
        env=env_for(cache),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line(r: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def parts_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if PART_RE.match(p.name))


def user_songs(cache: Path) -> list[str]:
    d = cache / "songs"
    return sorted(p.name for p in d.iterdir() if not p.name.startswith("demo")) if d.exists() else []


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def demo_cache(demo_store) -> Path:
    """A cache holding the demo song (31 s, four stems)."""
    return demo_store.root


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "song.wav"
    os.mkfifo(path)
    yield path
    try:  # a regression would leave a child blocked opening it: let it go
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


# -- not a regular file ---------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["import", "{p}"],
        ["play", "{p}", "--device", "null"],
        ["info", "{p}"],
        ["export", "{p}", "-o", "{out}"],
        ["separate", "{p}", "-n", "demucs_unittest"],
    ],
    ids=["import", "play", "info", "export", "separate"],
)
def test_fifo_is_refused_at_once(cache, tmp_path, fifo, args):
    out = tmp_path / "out.wav"
    r = run([a.format(p=fifo, out=out) for a in args], cache)
    assert_one_line(r, 2, str(fifo), "not a regular file (a FIFO)")
    assert not out.exists() and parts_in(tmp_path) == []
    assert user_songs(cache) == []


def test_fifo_without_a_slash_is_refused_too(cache, tmp_path, fifo):
    # `stemtui play song.wav` in the FIFO's folder: a name, not a path.
    r = subprocess.run(
        [sys.executable, "-m", "stemtui", "play", fifo.name, "--device", "null"],
        capture_output=True,
        text=True,
        env=env_for(cache),
        cwd=tmp_path,
        timeout=TIMEOUT,
    )
    assert_one_line(r, 2, fifo.name, "not a regular file (a FIFO)")


@pytest.mark.parametrize("command", ["import", "separate"])
def test_character_device_and_socket_are_refused(cache, tmp_path, command):
    r = run([command, "/dev/zero"], cache)  # reading it would never end
    assert_one_line(r, 2, "/dev/zero", "not a regular file (a character device)")
    sock_path = tmp_path / "sock.wav"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(str(sock_path))
        r = run([command, str(sock_path)], cache)
        assert_one_line(r, 2, str(sock_path), "not a regular file (a socket)")
    finally:
        s.close()


def test_export_onto_a_fifo_is_refused(demo_cache, fifo):
    r = run(["export", "demo", "-o", str(fifo)], demo_cache)
    assert_one_line(r, 2, str(fifo), "not a regular file (a FIFO)")
    assert fifo.is_fifo()


# -- NaN and infinity -----------------------------------------------------------------
def test_nan_wav_imports_with_a_warning_and_finite_stems(cache, tmp_path):
    folder = tmp_path / "Nan Song"
    folder.mkdir()
    rng = np.random.default_rng(3)
    drums = rng.uniform(-0.5, 0.5, (SR, 2)).astype(np.float32)
    bass = rng.uniform(-0.5, 0.5, (SR, 2)).astype(np.float32)
    drums[1000:1010] = np.nan
    drums[2000, 1] = np.inf
    drums[2001, 0] = -np.inf
    sf.write(folder / "drums.wav", drums, SR, subtype="FLOAT")
    sf.write(folder / "bass.wav", bass, SR, subtype="FLOAT")
    r = run(["import", str(folder)], cache)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    warnings = r.stderr.strip().splitlines()
    assert len(warnings) == 1, r.stderr
    assert str(folder / "drums.wav") in warnings[0] and "22 non-finite samples" in warnings[0]
    [entry] = [e for e in Store(cache).entries() if not e.id.startswith("demo")]
    assert entry.ok and sorted(entry.stems) == ["bass", "drums"]
    got, _ = sf.read(entry.stem_path("drums"), dtype="float32")
    assert np.isfinite(got).all()
    assert not got[1000:1010].any() and got[2000, 1] == 0 and got[2001, 0] == 0
    np.testing.assert_allclose(got[:1000], drums[:1000], atol=1 / 32768)
    got_bass, _ = sf.read(entry.stem_path("bass"), dtype="float32")
    np.testing.assert_allclose(got_bass, bass, atol=1 / 32768)


def test_nan_wav_separates_with_a_warning(cache, tmp_path):
    # It used to end in "separation failed: AssertionError:" (write_stem).
    path = tmp_path / "nan.wav"
    t = np.arange(SR * 3) / SR
    x = np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1).astype(np.float32)
    x[500:600] = np.nan
    sf.write(path, x, SR, subtype="FLOAT")
    r = run(["separate", str(path), "-n", "demucs_unittest", "--json"], cache, timeout=240)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert f"{path}: 200 non-finite samples" in r.stderr
    done = json.loads(r.stdout.splitlines()[-1])
    assert done["event"] == "done" and done["status"] == "separated"
    entry = Store(cache).get(done["id"])
    for name in entry.stems:
        got, _ = sf.read(entry.stem_path(name), dtype="float32")
        assert np.isfinite(got).all() and np.abs(got).max() > 0


# -- write failures -------------------------------------------------------------------
def test_export_to_read_only_file_system(demo_cache, tmp_path):
    with tmpfs(tmp_path / "ro", read_only=True) as ro:
        target = ro / "karaoke.wav"
        r = run(["export", "demo", "--mute", "vocals", "-o", str(target)], demo_cache)
        assert_one_line(r, 2, f"{target}: cannot write: read-only file system")
        # A folder as -o: the name it picked is the one named.
        r = run(["export", "demo", "-o", str(ro)], demo_cache)
        line = assert_one_line(r, 2, "cannot write: read-only file system")
        assert line.startswith(f"stemtui: {ro}/Demo") and ".wav: " in line
        assert list(ro.iterdir()) == []


def test_export_to_full_disk(demo_cache, tmp_path):
    with tmpfs(tmp_path / "small", size="256k") as small:  # the demo is ~5 MB as WAV
        target = small / "mix.wav"
        r = run(["export", "demo", "-o", str(target)], demo_cache)
        assert_one_line(r, 1, f"{target}: cannot write: no space left on device")
        assert list(small.iterdir()) == []


def test_export_with_a_closed_progress_pipe(demo_cache, tmp_path):
    target = tmp_path / "mix.wav"
    r_fd, w_fd = os.pipe()
    os.close(r_fd)  # the reader (the player) went away
    try:
        p = subprocess.run(
            [sys.executable, "-m", "stemtui", "export", "demo", "-o", str(target), "--progress-json"],
            stdout=w_fd,
            stderr=subprocess.PIPE,
            text=True,
            env=env_for(demo_cache),
            timeout=TIMEOUT,
        )
    finally:
        os.close(w_fd)
    assert_one_line(p, 1, "stdout: cannot write: broken pipe")
    assert not target.exists() and parts_in(tmp_path) == []


# -- killed exports -------------------------------------------------------------------
def start_blocked_export(cache: Path, target: Path) -> subprocess.Popen:
    """An export stopped mid-write with its part file on disk.

    Its ``--progress-json`` lines go to a pipe shrunk to one page that the
    test stops reading once writing has begun: the export blocks on the next
    line, part file open.
    """
    p = subprocess.Popen(
        [sys.executable, "-m", "stemtui", "export", "demo", "-o", str(target), "--progress-json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env_for(cache),
    )
    fcntl.fcntl(p.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)
    deadline = time.monotonic() + TIMEOUT
    while True:
        line = p.stdout.readline()
        assert line, p.stderr.read()
        event = json.loads(line)
        if event.get("event") == "progress" and event.get("fraction", 0) > 0:
            break  # a block was written: the part file exists
        assert time.monotonic() < deadline
    while not parts_in(target.parent):
        assert time.monotonic() < deadline and p.poll() is None
        time.sleep(0.01)
    time.sleep(0.3)  # let it fill the pipe and block
    assert p.poll() is None, "the export finished before it could be stopped"
    return p


@pytest.mark.parametrize(
    # SIGTERM is the worker protocol's cancel for a --progress-json child: it ends as "cancelled" (130).
    ("sig", "code"),
    [(signal.SIGTERM, 130), (signal.SIGHUP, 129), (signal.SIGINT, 130)],
    ids=["TERM", "HUP", "INT"],
)
def test_signalled_export_removes_its_part(demo_cache, tmp_path, sig, code):
    target = tmp_path / "out" / "mix.wav"
    target.parent.mkdir()
    p = start_blocked_export(demo_cache, target)
    [part] = parts_in(target.parent)
    assert int(PART_RE.match(part).group("pid")) == p.pid
    p.send_signal(sig)
    _, err = p.communicate(timeout=TIMEOUT)
    assert p.returncode == code, err
    assert b"Traceback" not in err
    assert list(target.parent.iterdir()) == []


def test_sigkilled_export_part_is_swept_by_the_next_export(demo_cache, tmp_path):
    target = tmp_path / "out" / "mix.wav"
    target.parent.mkdir()
    p = start_blocked_export(demo_cache, target)
    p.kill()
    p.communicate(timeout=TIMEOUT)
    [stale] = parts_in(target.parent)  # SIGKILL: nothing could clean up
    # A part of a live process, and files that are not ours, stay.
    live = target.parent / f".other.wav.{os.getpid()}.0123abcd.part"
    live.write_bytes(b"x")
    keep = target.parent / ".mix.wav.notes.part"
    keep.write_bytes(b"x")
    r = run(["export", "demo", "--solo", "bass", "-o", str(target.parent / "bass.wav")], demo_cache)
    assert r.returncode == 0, r.stderr
    left = sorted(q.name for q in target.parent.iterdir())
    assert stale not in left
    assert left == sorted(["bass.wav", live.name, keep.name])
