"""The song analysis in a real child process: progress per analysis, the map back, death typed."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from stemtui.core.analysis import synthsongs
from stemtui.core.analysis.mapjob import MapJob, MapJobDied, analyze_in_subprocess
from stemtui.core.analysis.songmap import analyze_stems
from stemtui.core.procs.protocol import WorkerDied

SR = synthsongs.SR


@pytest.fixture(scope="module")
def stems() -> dict:
    song = synthsongs.render(synthsongs.TEST_SPECS[1])
    return {k: v[: 25 * SR] for k, v in song.stems.items()}


def test_the_child_answers_with_the_map_and_reports_each_analysis(stems):
    seen: list[str] = []
    m = analyze_in_subprocess(stems, SR, progress=lambda name, _f: seen.append(name), timeout=300)
    assert seen == ["bass_notes", "beats", "chords", "key", "sections", "done"]
    assert m.chords and m.bass_notes and m.sections and m.bpm == pytest.approx(96.0, abs=0.5)
    assert m == analyze_stems(stems, SR)  # the same map as in this process


def test_partial_maps_come_as_each_analysis_ends(stems):
    parts = []
    job = MapJob(stems, SR, on_partial=parts.append, timeout=300)
    assert job.wait(300) and job.failure is None
    assert len(parts) == 3 and job.partial is parts[-1]
    first, second, third = parts
    assert first.bass_notes and first.bpm is None and first.chords == ()  # the bass line first
    assert second.bpm == pytest.approx(96.0, abs=0.5) and second.chords == ()
    assert third.chords and third.key and third.sections == ()
    assert job.result is not None and job.result.sections and job.result.chords == third.chords


def test_kill_9_is_a_worker_death_in_one_line(stems):
    started = threading.Event()
    job = MapJob(stems, SR, progress=lambda _n, _f: started.set(), timeout=300)
    assert started.wait(120), "no progress from the child"
    os.kill(job.child.pid, signal.SIGKILL)
    assert job.wait(60)
    assert isinstance(job.failure, MapJobDied) and isinstance(job.failure, WorkerDied)
    assert job.error == "song analysis failed: its worker process died (killed by SIGKILL)"
    assert job.result is None


def test_cancel_ends_quietly(stems):
    job = MapJob(stems, SR, timeout=300)
    job.cancel()
    assert job.wait(60)
    assert job.result is None and job.error is None and job.cancelled
