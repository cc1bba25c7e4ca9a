"""The song analysis in a real child process: progress per analysis, the map back, death typed."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest

from stemtui.core.analysis import synthsongs
from stemtui.core.analysis.mapjob import MapJob, MapJobDied, SharedStems, analyze_in_subprocess
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


def _analysis_children() -> list[int]:
    """Our children running the map job (from /proc)."""
    me, found = os.getpid(), []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
                cmd = open(f"/proc/{d}/cmdline", "rb").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me and b"stemtui.core.analysis.mapjob" in cmd:
                found.append(int(d))
    return found


def test_stems_given_later_reach_the_child_spawned_before_them(stems):
    running_when_asked: list[int] = []

    def later() -> dict:
        running_when_asked.extend(_analysis_children())
        return stems

    job = MapJob(later, SR, timeout=300)
    assert running_when_asked == [job.child.pid]  # spawned first, warming up while the stems came
    assert job.wait(300) and job.failure is None, job.error
    assert job.result == analyze_stems(stems, SR)


def test_stems_never_given_end_the_job_cancelled_and_the_child_gone():
    job = MapJob(lambda: None, SR, timeout=300)
    assert job.wait(60)
    assert job.cancelled and job.result is None and job.error is None
    assert not job.child.running


def test_a_song_in_shared_memory_is_read_by_the_child_itself(stems, tmp_path):
    names = list(stems)
    frames = max(len(v) for v in stems.values())
    path = tmp_path / "song.f32"
    data = np.memmap(path, dtype=np.float32, mode="w+", shape=(len(names) + 1, frames, 2))
    for i, name in enumerate(names):
        y = stems[name]
        data[i, : len(y)] = y if y.ndim == 2 else y[:, None]
    data[len(names)] = 0.5  # a row not asked for (a take): it must not reach the analysis
    data.flush()
    shared = SharedStems(str(path), (len(names) + 1, frames, 2), {n: i for i, n in enumerate(names)})
    job = MapJob(shared, SR, timeout=300)
    assert job.wait(300) and job.failure is None, job.error
    assert job.result == analyze_stems(stems, SR)
