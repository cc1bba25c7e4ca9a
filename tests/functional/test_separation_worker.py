"""The separation worker process, end to end, through SeparationTask.

A real ``python -m stemtui.core.separation.worker`` child with demucs's
``demucs_unittest`` model (random weights, the same in every process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("torch")

from stemtui.core.separation.splitter import (
    ModelUnavailable,
    SeparationCancelled,
    SeparationOptions,
    SeparationTask,
    separate_array,
)
from stemtui.core.separation.worker import worker_env
from tests.tiny_models import snr_db, test_audio

SR = 44100
OPTS = dict(model="demucs_unittest", segment=2.0, precision="fp32")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_worker_output_equals_in_process(tmp_path):
    audio = test_audio(8.0, SR)
    events = []
    task = SeparationTask(audio, SR, SeparationOptions(**OPTS), tmp_path / "work", on_progress=events.append)
    task.start()
    names, rate = task.stems_info()
    assert names == ["vocals", "drums", "bass", "other"] and rate == SR
    ready_seen = []
    while task.running:  # the player's view: ready_frames only grows
        ready_seen.append(task.ready_frames)
        time.sleep(0.05)
    stems = task.wait()
    assert list(stems) == names
    _, expected = separate_array(audio, SR, SeparationOptions(**OPTS))
    # Equal up to float rounding: the worker runs 2 single-threaded segments
    # at once, which changes the order of sums inside torch's kernels.
    np.testing.assert_allclose(np.asarray(task.output), expected, rtol=0, atol=1e-5)
    assert snr_db(task.output, expected) >= 100
    assert task.ready_frames == audio.shape[0]
    assert ready_seen == sorted(ready_seen)
    fr = [e.fraction for e in events]
    assert fr == sorted(fr) and fr[-1] == 1.0
    assert [e.ready_frames for e in events] == sorted(e.ready_frames for e in events)
    assert 0 < min(e.ready_frames for e in events if e.ready_frames) < audio.shape[0]
    assert events[-1].device == "cpu" and events[-1].precision == "fp32"


def test_cancel_kills_the_worker_promptly(tmp_path):
    audio = test_audio(40.0, SR)
    first = threading.Event()
    task = SeparationTask(
        audio, SR, SeparationOptions(**OPTS), tmp_path / "work", on_progress=lambda p: p.fraction > 0 and first.set()
    )
    task.start()
    assert first.wait(60), "no segment finished"
    pid = task._proc.pid
    t = time.monotonic()
    task.cancel()
    with pytest.raises(SeparationCancelled):
        task.wait(timeout=10)
    assert time.monotonic() - t < 3
    assert gone(pid)
    assert 0 < task.ready_frames < task.frames


def test_model_error_reaches_the_parent_as_one_line(tmp_path):
    task = SeparationTask(test_audio(1.0, SR), SR, SeparationOptions(model="htdemucs"), tmp_path / "work")
    task.start()
    with pytest.raises(ModelUnavailable) as info:
        task.stems_info()
    assert "\n" not in str(info.value) and "--model-repo" in str(info.value)
    with pytest.raises(ModelUnavailable):
        task.wait(timeout=30)
    assert "Traceback" not in (tmp_path / "work" / "worker.log").read_text()


def test_worker_cli_on_an_audio_file(tmp_path):
    import soundfile as sf

    wav = tmp_path / "song.wav"
    sf.write(str(wav), test_audio(3.0, 22050), 22050)  # resampled to the model's 44.1 kHz
    out = tmp_path / "stems.f32"
    cmd = [
        sys.executable,
        "-m",
        "stemtui.core.separation.worker",
        str(wav),
        "--output",
        str(out),
        "--model",
        "demucs_unittest",
        "--two-stems",
        "vocals",
        "--precision",
        "fp32",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=worker_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout is only JSON lines
    assert events[0]["event"] == "info" and events[-1]["event"] == "done"
    info = events[0]
    assert info["names"] == ["vocals", "instrumental"] and info["frames"] == 3 * SR
    data = np.memmap(out, dtype=np.float32, mode="r", shape=(2, info["frames"], 2))
    assert np.isfinite(data).all() and np.abs(data).max() > 0
    bad = subprocess.run(
        [*cmd[:4], "--model", "nope", "--model-repo", str(tmp_path)],
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=120,
    )
    err = json.loads(bad.stdout.splitlines()[-1])
    assert bad.returncode == 2 and err["event"] == "error" and err["kind"] == "ModelUnavailable"


def test_heap_prefault_only_with_the_kept_heap():
    """prefault_heap runs (and ends) where the worker's malloc settings are set, else does nothing."""
    code = (
        "import resource; from stemtui.core.separation.tuning import prefault_heap\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "t = prefault_heap(64 << 20)\n"
        "print('none' if t is None else 'thread'); t and t.join()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    kept = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=worker_env(), timeout=60)
    assert kept.returncode == 0, kept.stderr
    started, faults = kept.stdout.split()
    if sys.platform.startswith("linux"):
        assert started == "thread" and int(faults) >= (64 << 20) // 4096 // 2  # the pages were touched
    env = {k: v for k, v in worker_env().items() if not k.startswith("MALLOC_")}
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert plain.returncode == 0 and plain.stdout.split()[0] == "none"


def test_worker_heap_plan_and_exit_code(tmp_path):
    from stemtui.core.separation.tuning import likely_cpu

    assert not likely_cpu("demucs_unittest", "cpu") and not likely_cpu("htdemucs", "cuda")
    assert likely_cpu("htdemucs", "cpu")
    # The worker ends with os._exit: its exit status must still be the protocol's.
    bad = subprocess.run(
        [sys.executable, "-m", "stemtui.core.separation.worker", str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=120,
    )
    err = json.loads(bad.stdout.splitlines()[-1])
    assert err["event"] == "error" and err["kind"] == "BadInput" and bad.returncode == err["exit_code"] != 0


def _mapped(path) -> bool:
    """Whether this process maps ``path`` (deleted or not)."""
    return any(f" {path}" in line for line in open("/proc/self/maps"))


@pytest.mark.parametrize("end", ["finish", "discard"])
def test_a_finished_or_discarded_job_unmaps_its_output(tmp_path, end):
    """The worker's ``stems.f32`` is unmapped when the job ends, not at the next garbage collection."""
    import gc

    import soundfile as sf

    from stemtui.core.library.store import Store
    from stemtui.core.separation.job import SeparationJob

    wav = tmp_path / "song.wav"
    sf.write(wav, test_audio(6.0, SR), SR)
    store = Store(tmp_path / "cache")
    gc.disable()  # only reference counts free the mapping now
    try:
        job = SeparationJob(store, wav, SeparationOptions(**OPTS))
        job.start()
        job.song()  # maps the output, as a player does
        assert job.task is not None
        out = job.task.output_path  # this job's own: earlier tests' tasks may still map theirs
        assert _mapped(out)
        if end == "finish":
            assert job.finish().ok
        else:
            job.discard()
        deadline = time.monotonic() + 5.0  # the song's follower thread ends within 0.05 s
        while _mapped(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _mapped(out)
    finally:
        gc.enable()
