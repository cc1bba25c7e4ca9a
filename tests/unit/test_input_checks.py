"""Inputs checked before they are read; NaN samples repaired; writes whole or not at all.

Real FIFOs, sockets, devices, read-only and full file systems (tmpfs), real
processes and real signals.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemtui.core.errors import BadInput
from stemtui.core.library.audiofiles import read_audio, repair_nonfinite
from stemtui.core.library.safeio import (
    PART_RE,
    SafeSoundFile,
    Terminated,
    WriteFailed,
    check_input_file,
    part_path,
    sweep_parts,
    unwind_on_signals,
)
from stemtui.core.library.stemfiles import write_stem
from stemtui.core.library.store import hash_files
from tests.tmpfs import tmpfs

SR = 22050


def noise(frames: int = SR, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (frames, 2)).astype(np.float32)


def in_thread(fn, timeout: float = 5.0):
    """Run ``fn`` in a thread; fail (instead of hanging) if it blocks."""
    result: dict = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    return t, result


def release_fifo(path: Path) -> None:
    """Unblock a reader stuck opening ``path`` (a test that failed by hanging)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "song.wav"
    os.mkfifo(path)
    yield path
    release_fifo(path)


# -- check_input_file --------------------------------------------------------------
def test_regular_file_passes_and_folder_only_when_allowed(tmp_path):
    f = tmp_path / "a.wav"
    sf.write(f, noise(100), SR)
    assert check_input_file(f) == f
    assert check_input_file(tmp_path, allow_dir=True) == tmp_path
    with pytest.raises(BadInput, match="is a directory"):
        check_input_file(tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(BadInput) as ei:
        check_input_file(tmp_path / "gone.wav")
    assert str(ei.value) == f"{tmp_path / 'gone.wav'}: no such file"
    with pytest.raises(BadInput, match="no such file or directory"):
        check_input_file(tmp_path / "gone", allow_dir=True)
    # A file used as a folder is "missing" too, not an odd errno.
    (tmp_path / "plain").write_text("x")
    with pytest.raises(BadInput, match="no such file"):
        check_input_file(tmp_path / "plain" / "x.wav")


def test_fifo_is_refused_without_blocking(fifo):
    t, result = in_thread(lambda: check_input_file(fifo))
    assert not t.is_alive(), "check_input_file blocked on a FIFO"
    assert isinstance(result.get("error"), BadInput)
    assert str(result["error"]) == f"{fifo}: not a regular file (a FIFO)"
    # Also through a symlink, and where a folder would be accepted.
    link = fifo.with_name("link.wav")
    link.symlink_to(fifo)
    with pytest.raises(BadInput, match=r"not a regular file \(a FIFO\)"):
        check_input_file(link, allow_dir=True)


def test_devices_and_sockets_are_refused(tmp_path):
    with pytest.raises(BadInput) as ei:
        check_input_file("/dev/null")
    assert str(ei.value) == "/dev/null: not a regular file (a character device)"
    sock_path = tmp_path / "s.wav"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(str(sock_path))
        with pytest.raises(BadInput, match=r"not a regular file \(a socket\)"):
            check_input_file(sock_path)
    finally:
        s.close()
    blocks = [Path("/dev") / n for n in ("loop0", "sda", "vda", "nvme0n1")]
    block = next((b for b in blocks if b.exists() and b.is_block_device()), None)
    if block is not None:
        with pytest.raises(BadInput, match=r"not a regular file \(a block device\)"):
            check_input_file(block)


def test_unreadable_file(tmp_path):
    f = tmp_path / "secret.wav"
    sf.write(f, noise(100), SR)
    f.chmod(0)
    if os.geteuid() != 0:
        with pytest.raises(BadInput, match="unreadable: permission denied"):
            check_input_file(f)
        return
    # Root reads anything: check in a child that runs without the
    # capabilities that let root ignore permission bits.
    if shutil.which("setpriv") is None:
        pytest.skip("root, and no setpriv to drop CAP_DAC_OVERRIDE")
    code = (
        "import sys; from stemtui.core.library.safeio import check_input_file\n"
        "from stemtui.core.errors import BadInput\n"
        "try: check_input_file(sys.argv[1])\n"
        "except BadInput as e: print(e)\n"
    )
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    r = subprocess.run([*drop, sys.executable, "-c", code, str(f)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip(f"cannot drop capabilities here: {r.stderr.strip()[-200:]}")
    assert r.stdout.strip() == f"{f}: unreadable: permission denied", r.stderr


def test_hash_files_refuses_a_fifo_instead_of_hanging(fifo, tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, noise(100), SR)
    t, result = in_thread(lambda: hash_files([good, fifo]))
    assert not t.is_alive(), "hash_files blocked reading a FIFO"
    assert isinstance(result.get("error"), BadInput), result
    assert "not a regular file (a FIFO)" in str(result["error"])


def test_read_audio_refuses_a_fifo(fifo):
    t, result = in_thread(lambda: read_audio(fifo))
    assert not t.is_alive(), "read_audio blocked on a FIFO"
    assert str(result["error"]) == f"{fifo}: not a regular file (a FIFO)"


# -- NaN and infinity ---------------------------------------------------------------
def test_repair_nonfinite_zeroes_only_the_bad_samples(caplog):
    x = noise()
    orig = x.copy()
    x[10, 0], x[11, 1], x[500:505] = np.nan, np.inf, -np.inf
    with caplog.at_level(logging.WARNING, logger="stemtui.audiofiles"), warnings.catch_warnings():
        warnings.simplefilter("error")  # inf + -inf must not print numpy's RuntimeWarning
        out = repair_nonfinite(x, "song.wav")
    assert out is x and np.isfinite(x).all()
    assert x[10, 0] == 0 and x[11, 1] == 0 and not x[500:505].any()
    keep = np.ones(x.shape, bool)
    keep[10, 0] = keep[11, 1] = False
    keep[500:505] = False
    np.testing.assert_array_equal(x[keep], orig[keep])
    [rec] = caplog.records
    assert (
        rec.getMessage() == "stemtui: warning: song.wav: 12 non-finite samples (NaN or infinity) replaced with silence"
    )


def test_repair_nonfinite_leaves_finite_audio_alone(caplog):
    x = noise()
    x[0] = 3.0e38  # huge but finite: the float64 sum must not overflow into "bad"
    before = x.copy()
    with caplog.at_level(logging.WARNING):
        repair_nonfinite(x, "loud.wav")
    np.testing.assert_array_equal(x, before)
    assert caplog.records == []


def test_read_audio_repairs_a_nan_wav(tmp_path, caplog):
    path = tmp_path / "nan.wav"
    x = noise()
    x[100:110] = np.nan
    sf.write(path, x, SR, subtype="FLOAT")
    with caplog.at_level(logging.WARNING, logger="stemtui.audiofiles"):
        data, rate = read_audio(path)
    assert rate == SR and np.isfinite(data).all()
    assert not data[100:110].any()
    np.testing.assert_array_equal(data[:100], x[:100])
    assert any(str(path) in r.getMessage() and "20 non-finite samples" in r.getMessage() for r in caplog.records)


def test_write_stem_writes_nan_as_silence(tmp_path):
    x = noise()
    x[5:9] = np.nan
    path = tmp_path / "drums.flac"
    write_stem(path, x, SR)  # libsndfile's FLAC encoder fails on NaN: this used to assert
    back, _ = sf.read(path, dtype="float32")
    assert np.isfinite(back).all() and not back[5:9].any()
    np.testing.assert_allclose(back[10:], x[10:], atol=1 / 32768)


# -- part files and the sweep -------------------------------------------------------
def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_part_name_carries_our_pid(tmp_path):
    part = part_path(tmp_path / "Song (no vocals).wav")
    m = PART_RE.match(part.name)
    assert part.parent == tmp_path and m is not None
    assert m.group("name") == "Song (no vocals).wav" and int(m.group("pid")) == os.getpid()


def test_sweep_removes_only_dead_writers_parts(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = tmp_path / f".a.wav.{dead_pid()}.0123abcd.part"
        names = {
            "live": f".a.wav.{sleeper.pid}.0123abcd.part",
            "mine": f".a.wav.{os.getpid()}.0123abcd.part",
            "no-dot": f"a.wav.{dead_pid()}.0123abcd.part",
            "no-pid": ".a.wav.0123abcd.part",
            "other-suffix": f".a.wav.{dead_pid()}.0123abcd.tmp",
            "user-file": "a.wav",
        }
        for n in [dead.name, *names.values()]:
            (tmp_path / n).write_bytes(b"x")
        folder = tmp_path / f".b.wav.{dead_pid()}.0123abcd.part"
        folder.mkdir()
        link = tmp_path / f".c.wav.{dead_pid()}.0123abcd.part"
        link.symlink_to(tmp_path / "a.wav")
        assert sweep_parts(tmp_path) == [dead]
        left = {p.name for p in tmp_path.iterdir()}
        assert left == {*names.values(), folder.name, link.name}
    finally:
        sleeper.kill()
        sleeper.wait()


def test_sweep_of_a_missing_folder_never_raises(tmp_path):
    assert sweep_parts(tmp_path / "nope") == []


# -- SafeSoundFile on real file systems ---------------------------------------------
def test_safe_sound_file_writes_whole_file(tmp_path):
    target = tmp_path / "out.flac"
    target.write_text("old")
    with SafeSoundFile(target, SR, 2, "FLAC", "PCM_16") as f:
        assert f.path.parent == tmp_path and f.path != target and f.path.exists()
        f.write(noise())
        assert target.read_text() == "old"  # not replaced until the end
    assert sf.info(target).frames == SR
    assert [p.name for p in tmp_path.iterdir()] == ["out.flac"]


def test_safe_sound_file_removes_part_on_error(tmp_path):
    target = tmp_path / "out.wav"
    with pytest.raises(KeyboardInterrupt), SafeSoundFile(target, SR, 2, "WAV", "PCM_16") as f:
        f.write(noise())
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_read_only_file_system(tmp_path):
    with tmpfs(tmp_path / "ro", read_only=True) as ro:
        target = ro / "out.wav"
        with pytest.raises(BadInput) as ei, SafeSoundFile(target, SR, 2, "WAV", "PCM_16"):
            pass
        assert str(ei.value) == f"{target}: cannot write: read-only file system"
        assert ei.value.exit_code == 2
        assert list(ro.iterdir()) == []


@pytest.mark.parametrize(("fmt", "subtype"), [("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("MP3", "MPEG_LAYER_III")])
def test_full_disk_mid_write(tmp_path, fmt, subtype):
    with tmpfs(tmp_path / "small", size="64k") as small:
        target = small / "out.x"
        with pytest.raises(WriteFailed) as ei, SafeSoundFile(target, 44100, 2, fmt, subtype) as f:
            for _ in range(100):  # ~4 MB of 16-bit audio, far more than fits
                f.write(noise(10000))
        assert str(ei.value) == f"{target}: cannot write: no space left on device"
        assert ei.value.exit_code == 1
        assert list(small.iterdir()) == []


def test_not_atomic_write_removes_target_on_failure(tmp_path):
    with tmpfs(tmp_path / "small", size="64k") as small:
        target = small / "drums.flac"
        with pytest.raises(WriteFailed, match="no space left on device"):
            write_stem(target, noise(441000), 44100)
        assert list(small.iterdir()) == []


# -- signals ------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signals_unwind_then_handlers_come_back(sig):
    before = signal.getsignal(sig)
    if before is not signal.SIG_DFL:
        pytest.skip(f"{sig.name} is already handled here; sending it would not test the default case")
    with pytest.raises(Terminated) as ei, unwind_on_signals():
        os.kill(os.getpid(), sig)
        for _ in range(1000):  # the handler runs between bytecodes
            pass
    assert ei.value.code == 128 + sig and isinstance(ei.value, SystemExit)
    assert signal.getsignal(sig) is before


def test_ignored_sighup_stays_ignored():
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with unwind_on_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)  # ignored, as under nohup
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, old)


def test_unwind_on_signals_outside_the_main_thread_changes_nothing():
    seen = []

    def body():
        with unwind_on_signals():
            seen.append(signal.getsignal(signal.SIGTERM))

    t, result = in_thread(body)
    assert not t.is_alive() and "error" not in result
    assert seen == [signal.getsignal(signal.SIGTERM)]
