"""Render workers serve run after run (real worker processes, real signals).

A run's worker goes back to the pool when the run is rendered or dropped,
and the next run uses it: no process start per seek. One that does not stop
when asked (here: stopped with SIGSTOP) is killed, never given back.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from stemtui.core.tempo.stretchworker import POOL, RECYCLE_GRACE_S, SharedSong, StretchRun, _cpu_ticks

SR = 44100


@pytest.fixture()
def song(tmp_path):
    rng = np.random.default_rng(3)
    t = np.arange(40 * SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    data = np.stack([np.stack([tone, tone], 1), 0.1 * rng.standard_normal((t.size, 2))]).astype(np.float32)
    shared = SharedSong(data, tmp_path)
    yield shared
    shared.close()


def _rendered(run: StretchRun, timeout: float = 60.0) -> np.ndarray:
    assert run.finished.wait(timeout), "the run did not finish"
    assert run.error is None and run.done
    return np.array(run.data)


def _rendering(run: StretchRun) -> StretchRun:
    """``run``, once its worker has written its first frames."""
    t = time.monotonic()
    while run.ready == 0:
        assert time.monotonic() - t < 60 and run.error is None
        time.sleep(0.01)
    return run


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = _cpu_ticks(pid)
    return state[0] is not None


def test_a_finished_runs_worker_renders_the_next_run(song, tmp_path):
    first = StretchRun(song, 0, 8 * SR, SR, 0.8, 0, tmp_path, workers=1)
    try:
        audio1 = _rendered(first)
        pid = first.pids[0]
        second = StretchRun(song, 0, 8 * SR, SR, 0.8, 0, tmp_path, workers=1)
        try:
            audio2 = _rendered(second)
            assert second.pids == [pid], "the second run started a new process"
        finally:
            second.close()
    finally:
        first.close()
    # The same job through the same (reused) process gives the same audio, and it is audio.
    assert audio1.shape == audio2.shape and np.array_equal(audio1, audio2)
    assert float(np.sqrt(np.mean(audio2[0] ** 2))) > 0.1


def test_a_dropped_runs_worker_stops_and_serves_the_next(song, tmp_path):
    run = _rendering(StretchRun(song, 0, 40 * SR, SR, 0.7, 0, tmp_path, workers=1))
    assert not run.done
    pid = run.pids[0]
    run.cancel()
    assert run.finished.wait(RECYCLE_GRACE_S + 5), "the dropped run's worker did not stop"
    assert run.error is None
    assert _alive(pid) and pid in [c.pid for c in POOL.idle()], "the worker was not given back"
    ticks = _cpu_ticks(pid)[0]
    time.sleep(0.5)
    assert _cpu_ticks(pid)[0] == ticks, "the dropped run's worker is still rendering"
    run.close()
    nxt = StretchRun(song, 10 * SR, 14 * SR, SR, 1.25, 2, tmp_path, workers=1)
    try:
        audio = _rendered(nxt)
        assert nxt.pids == [pid]
        assert audio.shape[1] == nxt.frames and float(np.sqrt(np.mean(audio[0] ** 2))) > 0.1
    finally:
        nxt.close()


def test_a_worker_that_does_not_stop_is_killed_not_reused(song, tmp_path):
    run = _rendering(StretchRun(song, 0, 40 * SR, SR, 0.7, 0, tmp_path, workers=1))
    pid = run.pids[0]
    os.kill(pid, signal.SIGSTOP)  # it can no longer answer the cancel
    try:
        run.cancel()
        t = time.monotonic()
        while _alive(pid):
            assert time.monotonic() - t < RECYCLE_GRACE_S + 3, "the unresponsive worker was not killed"
            time.sleep(0.02)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        run.close()
    assert run.error is None  # dropped on purpose: not a failure
    assert pid not in [c.pid for c in POOL.idle()]


def test_the_pool_keeps_at_most_keep_idle_workers_and_lets_the_rest_exit():
    from stemtui.core.procs.pool import WorkerPool
    from stemtui.core.tempo.stretchworker import WORKER_MODULE

    pool = WorkerPool(WORKER_MODULE, "stretch worker", spares=0, keep=1)
    a, b = pool.spawn(), pool.spawn()
    try:
        assert pool.give(a) and not pool.give(b)
        assert [c.pid for c in pool.idle()] == [a.pid]
        # The one not kept read EOF: it says done (no job served) and exits cleanly.
        assert b.outcome(timeout=20) == {"jobs": 0} and b.returncode == 0
        assert a.running
        a.kill()
        assert a.wait(5)
        assert not pool.give(a)  # a dead worker is never taken back
    finally:
        pool.close()
        for c in (a, b):
            c.kill()
    assert pool.started == 2
