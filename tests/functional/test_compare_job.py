"""The take comparison's worker: the real ``stemtui.core.analysis.comparejob`` child.

It answers with the comparison the pure function gives, reports progress,
turns the child's bad input into a ``BadInput`` (exit 2), cancels, and a
kill -9 in the middle of the analysis is a one-line ``CompareJobDied``.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
import soundfile as sf

from stemtui.bench.compare_synth import SR, make_case
from stemtui.core.analysis.comparejob import CompareJob, CompareJobDied
from stemtui.core.analysis.takecompare import compare_take
from stemtui.core.errors import BadInput

TIMEOUT = 180
DIED = "take comparison failed: its worker process died (killed by SIGKILL)"


@pytest.fixture(scope="module")
def case():
    return make_case("job", seed=21, seconds=8.0, take_start_s=0.6, cents_errors=(30.0,), timing_errors_ms=(50.0,))


def wait_until(cond, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_the_worker_answers_the_pure_functions_result_from_files(tmp_path, case):
    # Float WAV: the same samples as the arrays (a FLAC's 16 bits would move the contours a little).
    sf.write(tmp_path / "vocals.wav", case.ref, SR, subtype="FLOAT")
    sf.write(tmp_path / "take.wav", case.take, SR, subtype="FLOAT")
    job = CompareJob(tmp_path / "vocals.wav", tmp_path / "take.wav", case.take_start_s, "3", "vocals")
    seen: list[float] = []
    job.start()
    while not (state := job.poll()).done:
        seen.append(state.fraction)
        time.sleep(0.02)
    assert state.error is None and state.result is not None
    direct = compare_take(case.ref, case.take, SR, case.take_start_s, "3", "vocals")
    assert state.result.to_json() == direct.to_json()
    assert state.result.take_id == "3" and state.result.reference == "vocals"
    assert any(0.0 < f < 1.0 for f in seen), seen  # progress came while it ran


def test_from_arrays_runs_blocking_and_removes_its_files(case):
    job = CompareJob.from_arrays(np.stack([case.ref, case.ref], axis=1), case.take, SR, case.take_start_s, "1", "v")
    temps = list(job._temps)
    assert all(os.path.exists(p) for p in temps)
    result = job.run(timeout=TIMEOUT)
    assert any(abs(n.cents - 30.0) <= 10 for n in result.notes)
    assert any(abs(n.onset_ms - 50.0) <= 15 for n in result.notes)
    wait_until(lambda: not any(os.path.exists(p) for p in temps), "the temporary files to go")


def test_kill_9_mid_analysis_is_one_line_worker_died(case):
    job = CompareJob.from_arrays(case.ref, case.take, SR, case.take_start_s, "1", "vocals").start()
    pid = job.pid
    assert pid is not None
    # Mid-analysis: librosa's numba code is loaded in the child.
    wait_until(lambda: b"numba" in _maps(pid), "the child to start analysing")
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: job.poll().done, "the job to end")
    state = job.poll()
    assert isinstance(state.error, CompareJobDied) and not state.cancelled
    assert str(state.error) == DIED
    with pytest.raises(
        CompareJobDied, match=r"^take comparison failed: its worker process died \(killed by SIGKILL\)$"
    ):
        job.run()
    wait_until(lambda: not any(os.path.exists(p) for p in job._temps), "the temporary files to go")


def test_cancel_ends_it_without_an_error(case):
    job = CompareJob.from_arrays(case.ref, case.take, SR, case.take_start_s, "1", "vocals").start()
    pid = job.pid
    assert pid is not None
    wait_until(lambda: b"numba" in _maps(pid), "the child to start analysing")
    job.cancel()
    wait_until(lambda: job.poll().done, "the job to end", timeout=30)
    state = job.poll()
    assert state.cancelled and state.error is None and state.result is None
    wait_until(lambda: not os.path.exists(f"/proc/{pid}") or _zombie(pid), "the child to exit", timeout=10)


def test_the_childs_bad_input_is_bad_input_exit_2(tmp_path, case):
    sf.write(tmp_path / "vocals.flac", case.ref, SR)
    (tmp_path / "take.flac").write_text("not audio")
    job = CompareJob(tmp_path / "vocals.flac", tmp_path / "take.flac", 0.0, "1", "vocals")
    with pytest.raises(BadInput, match=r"take\.flac: not an audio file") as exc:
        job.run(timeout=TIMEOUT)
    assert exc.value.exit_code == 2 and "\n" not in str(exc.value)


def _maps(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/maps", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
