"""The worker protocol (stemtui.core.procs) with real child processes."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from stemtui.core.errors import StemtuiError
from stemtui.core.procs.protocol import Child, Event, WorkerCancelled, WorkerDied, WorkerError

CHILD = "tests.unit.procs_child"


def started(mode: str, *args: str, **kw) -> tuple[Child, threading.Event, list[Event]]:
    """A test child, once it has said ``ready`` (for the modes that do)."""
    events: list[Event] = []
    ready = threading.Event()

    def on_event(ev: Event) -> None:
        events.append(ev)
        if ev.kind == "ready":
            ready.set()

    child = Child(CHILD, [mode, *args], name="test worker", on_event=on_event, **kw)
    return child, ready, events


def test_progress_arrives_in_order_then_the_result():
    child, _, events = started("progress", "200")
    assert child.outcome(timeout=30) == {"n": 200}
    progress = [e for e in events if e.kind == "progress"]
    assert [e.data["i"] for e in progress] == list(range(200))
    assert [e.fraction for e in progress] == sorted(e.fraction for e in progress) and progress[-1].fraction == 1.0
    assert [e.kind for e in events] == ["progress"] * 200 + ["done"]  # the stray print is not an event
    assert child.error is None and child.returncode == 0


def test_an_exception_in_the_child_arrives_typed_with_its_traceback():
    child, _, _ = started("raise")
    with pytest.raises(WorkerError) as info:
        child.outcome(timeout=30)
    err = info.value
    assert not isinstance(err, WorkerDied) and isinstance(err, StemtuiError)
    assert str(err) == "ValueError: boom in the child"  # one line
    assert err.kind == "ValueError" and err.returncode == 1 and child.returncode == 1
    assert "Traceback (most recent call last)" in err.traceback
    assert "in _inner_failure" in err.traceback and "second line" in err.traceback


def test_a_job_goes_in_on_stdin():
    child, _, _ = started("echo")
    child.send({"a": 1, "b": [2, 3]})
    assert child.outcome(timeout=30) == {"a": 1, "b": [2, 3]}


def test_sigkill_is_a_worker_died_within_2_s():
    child, ready, _ = started("wait")
    assert ready.wait(30)
    os.kill(child.pid, signal.SIGKILL)
    t = time.monotonic()
    assert child.wait(2), "death not noticed within 2 s"
    assert time.monotonic() - t < 2
    err = child.error
    assert isinstance(err, WorkerDied) and isinstance(err, StemtuiError)
    assert str(err) == "test worker died: killed by SIGKILL" and err.returncode == -signal.SIGKILL
    with pytest.raises(WorkerDied):
        child.outcome()


def test_an_exit_without_a_result_is_a_death_with_the_stderr_tail():
    child, _, _ = started("exit", "3")
    assert child.wait(30)
    err = child.error
    assert isinstance(err, WorkerDied) and str(err) == "test worker died: exit status 3"
    assert "the last words on stderr" in err.traceback


def test_cancel_sends_sigterm_first():
    child, ready, _ = started("wait")
    assert ready.wait(30)
    t = time.monotonic()
    child.cancel(grace=10)
    assert time.monotonic() - t < 2 and child.returncode == -signal.SIGTERM
    assert child.wait(2) and isinstance(child.error, WorkerCancelled)


def test_cancel_kills_a_child_that_ignores_sigterm():
    child, ready, _ = started("ignore-term")
    assert ready.wait(30)
    t = time.monotonic()
    child.cancel(grace=0.5)
    elapsed = time.monotonic() - t
    assert child.returncode == -signal.SIGKILL
    assert 0.5 <= elapsed < 3
    assert child.wait(2) and isinstance(child.error, WorkerCancelled)


def test_cancel_without_waiting_still_escalates():
    child, ready, _ = started("ignore-term")
    assert ready.wait(30)
    t = time.monotonic()
    child.cancel(grace=0.3, wait=False)
    assert time.monotonic() - t < 0.2  # returns at once
    assert child.wait(5) and child.returncode == -signal.SIGKILL


def test_sigterm_lets_the_child_clean_up(tmp_path):
    part = tmp_path / "out.part"
    child, ready, _ = started("cleanup", str(part))
    assert ready.wait(30) and part.exists()
    child.cancel(grace=5)
    assert child.returncode == 130  # it handled SIGTERM: not killed
    assert not part.exists()
    assert isinstance(child.error, WorkerCancelled) and child.error.kind == "Cancelled"


def test_a_pooled_child_reports_a_death_before_it_was_watched():
    child, ready, _ = started("wait")
    assert ready.wait(30)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(5)
    seen = []
    child.watch(on_exit=seen.append)
    assert seen == [child] and isinstance(child.error, WorkerDied)
