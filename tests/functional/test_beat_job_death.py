"""The beat job's death: kill -9 the real ``stemtui.core.analysis.beatjob`` child.

At two points, just started (seen in /proc) and mid-estimate (librosa's
numba code loaded, so ``estimate_grid`` is running): the CLI's
``export --click`` prints one line saying the beat estimate failed because
its worker died and exits 1 with no file written; the player's ``k`` shows
one notification and the click stays off.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from stemtui.ui.screens.player import PlayerScreen
from tests.functional.test_ui_player import run
from tests.functional.test_ui_support import make_app, open_demo, wait_for

TIMEOUT = 120
BEAT_MODULE = b"stemtui.core.analysis.beatjob"
DIED = "beat estimate failed: its worker process died (killed by SIGKILL)"


def children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            continue
    return out


def _reads(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def beat_child(parent: int) -> int | None:
    return next((k for k in children(parent) if BEAT_MODULE in _reads(f"/proc/{k}/cmdline")), None)


def kill_beat_child(parent: int, point: str, alive=lambda: True) -> None:
    """Wait for the parent's beat child, then SIGKILL it at ``point``."""
    deadline = time.monotonic() + TIMEOUT
    pid = None
    while pid is None:
        assert alive() and time.monotonic() < deadline, "no beat analysis child appeared"
        pid = beat_child(parent)
        time.sleep(0.005)
    if point == "estimating":
        while b"numba" not in _reads(f"/proc/{pid}/maps"):
            assert os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline, "it ended before estimating"
            time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)


@pytest.mark.usefixtures("demo_store")  # the demo in the test's cache (STEMTUI_CACHE_DIR)
@pytest.mark.parametrize("point", ["started", "estimating"])
def test_export_click_says_the_beat_worker_died(tmp_path, point):
    target = tmp_path / "click.wav"
    p = subprocess.Popen(
        [sys.executable, "-m", "stemtui", "export", "demo", "--click", "-o", str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        kill_beat_child(p.pid, point, alive=lambda: p.poll() is None)
        _, err = p.communicate(timeout=TIMEOUT)
    finally:
        p.kill()
    assert p.returncode == 1, err
    assert err.strip().splitlines() == [f"stemtui: {DIED}"], err
    assert list(tmp_path.glob("*.wav")) == [] and list(tmp_path.glob(".*.part")) == []


@pytest.mark.parametrize("point", ["started", "estimating"])
def test_click_key_tells_the_beat_worker_died_and_stays_off(demo_store, null_engine, point):
    app = make_app(demo_store, null_engine)

    async def scenario(pilot):
        player = await open_demo(pilot)
        assert isinstance(player, PlayerScreen) and player.mixer.metronome.grid is None
        await pilot.press("k")
        # The app runs in this process: the beat child is ours.
        deadline = time.monotonic() + TIMEOUT
        while beat_child(os.getpid()) is None:
            assert time.monotonic() < deadline
            await pilot.pause(0.01)
        kill_beat_child(os.getpid(), point)
        await wait_for(pilot, lambda: any(DIED in m for _, m in app.messages), timeout=TIMEOUT, what="the notification")
        told = [(s, m) for s, m in app.messages if "beat" in m and "finding" not in m]
        assert told == [("error", f"{DIED}: click off")], told
        met = player.mixer.metronome
        assert not met.click and met.grid is None and player.mixer.click is None
        assert "click" not in player.status.practice
        await pilot.press("q")

    run(app, scenario)
