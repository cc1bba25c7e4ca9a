"""The real workers speak the one protocol (stemtui.core.procs): a SIGKILL is a typed, one-line error.

Real processes: the separation worker (demucs's ``demucs_unittest`` model,
offline), a stretch render worker, the beat job, and the player's export
child (``stemtui export --progress-json``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from stemtui.core.errors import StemtuiError
from stemtui.core.procs.protocol import Child, Event, WorkerCancelled, WorkerDied

SR = 44100


def killed_within_2s(pid: int, ended) -> float:
    """SIGKILL ``pid``; seconds until ``ended()`` is true (fails past 2 s)."""
    os.kill(pid, signal.SIGKILL)
    t = time.monotonic()
    while not ended():
        assert time.monotonic() - t < 2.0, "the death was not reported within 2 s"
        time.sleep(0.01)
    return time.monotonic() - t


def one_line(err: BaseException) -> None:
    assert isinstance(err, StemtuiError) and "\n" not in str(err) and "Traceback" not in str(err)


def test_separation_worker_killed(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from stemtui.core.separation.splitter import SeparationFailed, SeparationOptions, SeparationTask
    from stemtui.core.separation.task import SeparationWorkerDied
    from tests.tiny_models import test_audio

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    first = threading.Event()
    task = SeparationTask(
        test_audio(40.0, SR),
        SR,
        SeparationOptions(model="demucs_unittest", segment=2.0, precision="fp32"),
        tmp_path / "work",
        on_progress=lambda p: p.fraction > 0 and first.set(),
    )
    task.start()
    assert first.wait(60), "no segment finished"
    killed_within_2s(task.pid, lambda: not task.running and task._finished)
    with pytest.raises(SeparationWorkerDied) as info:
        task.wait(timeout=2)
    err = info.value
    assert isinstance(err, WorkerDied) and isinstance(err, SeparationFailed)  # the UI and CLI catch this
    one_line(err)
    assert "separation worker died: killed by SIGKILL" in str(err) and "worker.log" in str(err)


def test_stretch_worker_killed(tmp_path):
    from stemtui.core.tempo.stretchworker import SharedSong, StretchRun

    rng = np.random.default_rng(0)
    data = (0.1 * rng.standard_normal((2, 120 * SR, 2))).astype(np.float32)
    song = SharedSong(data, tmp_path)
    run = StretchRun(song, 0, data.shape[1], SR, 0.8, 0, tmp_path, workers=2)
    try:
        t = time.monotonic()
        while run.ready == 0:
            assert time.monotonic() - t < 60 and run.error is None
            time.sleep(0.01)
        assert not run.done and run.error is None
        killed_within_2s(run.pids[0], lambda: run.error is not None)
        assert run.error == "stretch worker died: killed by SIGKILL"
        assert isinstance(run.failure, WorkerDied) and str(run.failure) == run.error
        one_line(run.failure)
    finally:
        run.close()
        song.close()
    assert run.finished.wait(5)


def test_beat_job_killed(tmp_path, monkeypatch):
    import tempfile

    from stemtui.core.analysis.beatjob import BeatJobDied, EstimateJob
    from stemtui.core.analysis.beats import BeatEstimateError

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    called = threading.Event()
    job = EstimateJob(np.zeros((60 * SR, 2), np.float32), SR, "mix", callback=lambda _job: called.set())
    t = time.monotonic()
    while job._proc is None:
        assert time.monotonic() - t < 30
        time.sleep(0.01)
    killed_within_2s(job._proc.pid, job.done.is_set)
    assert job.result is None and not job.cancelled
    assert job.error == "beat estimate failed: its worker process died (killed by SIGKILL)"
    # The error the UI and the CLI already report for a failed beat estimate.
    assert isinstance(job.failure, BeatJobDied) and isinstance(job.failure, BeatEstimateError)
    assert isinstance(job.failure, WorkerDied)
    one_line(job.failure)
    assert called.wait(5)


def test_beat_job_failure_carries_the_child_traceback():
    from stemtui.core.analysis.beatjob import BeatJobFailed, estimate_grid_in_subprocess

    with pytest.raises(BeatJobFailed) as info:
        noise = np.random.default_rng(0).standard_normal((SR, 2)).astype(np.float32)
        estimate_grid_in_subprocess(noise, 0, "mix")  # a rate of 0 fails in the child (resampling)
    err = info.value
    one_line(err)
    assert str(err).startswith("beat analysis failed: ")
    assert "Traceback (most recent call last)" in err.traceback and "estimate_grid" in err.traceback


def _long_song(tmp_path, cache) -> None:
    folder = tmp_path / "Long Song"
    folder.mkdir()
    t = np.arange(SR * 90) / SR
    for name, f in (("drums", 110.0), ("bass", 55.0)):
        sf.write(folder / f"{name}.wav", (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32), SR)
    r = subprocess.run(
        [sys.executable, "-m", "stemtui", "--cache-dir", str(cache), "import", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr


def test_export_child_cancel_removes_the_part_file(tmp_path):
    cache, out_dir = tmp_path / "cache", tmp_path / "out"
    out_dir.mkdir()
    _long_song(tmp_path, cache)
    out = out_dir / "backing.flac"
    writing = threading.Event()

    def on_event(ev: Event) -> None:
        if ev.kind == "progress" and ev.fraction > 0:
            writing.set()

    child = Child(
        "stemtui",
        ["--cache-dir", str(cache), "export", "long", "-o", str(out), "--progress-json"],
        name="export",
        on_event=on_event,
    )
    assert writing.wait(60), child.error
    os.kill(child.pid, signal.SIGSTOP)  # hold it mid-write: the half-written file is there
    try:
        assert len(list(out_dir.glob(".*.part"))) == 1
    finally:
        child.cancel(grace=10, wait=False)  # SIGTERM waits, pending, until it runs again
        os.kill(child.pid, signal.SIGCONT)
    assert child.wait(15)
    assert isinstance(child.error, WorkerCancelled) and child.returncode == 130  # handled, not killed
    assert list(out_dir.iterdir()) == []


def test_export_child_error_is_one_line(tmp_path):
    cache = tmp_path / "cache"
    _long_song(tmp_path, cache)
    child = Child(
        "stemtui",
        [
            "--cache-dir",
            str(cache),
            "export",
            "long",
            "--mute",
            "kazoo",
            "-o",
            str(tmp_path / "x.wav"),
            "--progress-json",
        ],
        name="export",
    )
    assert child.wait(60)
    err = child.error
    assert err is not None and not isinstance(err, WorkerDied) and "kazoo" in str(err)
    one_line(err)
    assert err.details["expected"] and child.returncode == 2


def test_export_dialog_cancel_stops_the_child(demo_store, null_engine, tmp_path, monkeypatch):
    from stemtui.ui.screens.export_screen import ExportScreen
    from tests.functional.test_ui_practice import run
    from tests.functional.test_ui_support import make_app, open_demo, wait_for

    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    monkeypatch.chdir(out_dir)
    app = make_app(demo_store, null_engine)

    async def scenario(pilot):
        player = await open_demo(pilot)
        await pilot.press("comma", "comma", "comma")  # 85 %: the child stretches first (seconds)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen), what="the export dialog")
        screen = app.screen
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen._child is not None and screen._child.running, what="the export child")
        child = screen._child
        assert "--cache-dir" in child.argv and str(demo_store.root) in child.argv  # a flag, not the environment
        await pilot.press("escape")
        await wait_for(pilot, lambda: child.finished.is_set(), timeout=15, what="the cancel")
        await wait_for(pilot, lambda: screen._child is None, what="the dialog to hear of it")
        assert app.screen is screen and str(screen.query_one("#export-status").render()) == "export cancelled"
        assert isinstance(child.error, WorkerCancelled)
        assert list(out_dir.iterdir()) == []  # no file, no .part
        await pilot.press("escape")
        assert app.screen is player
        await pilot.press("q")

    run(app, scenario)
