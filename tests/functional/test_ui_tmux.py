"""Smoke test of the real ``stemtui`` command in a real terminal (tmux).

Starts the app the way a musician does, with the cache in a temp dir and no
sound device (``STEMTUI_DEVICE=null``), opens the demo with Enter, presses
``1`` and reads the screen back with ``capture-pane`` to see the vocals
muted.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time

import pytest

from tests.conftest import require_tools


class Tmux:
    """A private tmux server (its own socket) running one command."""

    def __init__(self, name: str) -> None:
        self.socket = f"stemtui-test-{os.getpid()}-{name}"

    def tmux(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10, check=False
        )
        return out.stdout

    def start(self, command: str, width: int = 100, height: int = 30) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), command],
            check=True,
            timeout=10,
        )

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def wait_for(self, predicate, timeout: float = 20.0, what: str = "the screen") -> str:
        end = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < end:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; screen was:\n{screen}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10, check=False)


def line_with(screen: str, word: str) -> str:
    return next((line for line in screen.splitlines() if word in line), "")


@pytest.mark.slow
def test_stemtui_in_tmux_opens_the_demo_and_mutes_the_vocals(demo_store, tmp_path):
    require_tools("tmux")
    env = {
        "STEMTUI_CACHE_DIR": str(demo_store.root),
        "STEMTUI_DEVICE": "null",
        "STEMTUI_LOG_DIR": str(tmp_path / "log"),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
    }
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    command = f"env -i {exports} {shlex.quote(sys.executable)} -m stemtui"
    term = Tmux("smoke")
    try:
        term.start(command)
        # Wait for the whole screen: a capture can land between two partial repaints.
        term.wait_for(lambda s: "Night Drive" in s and "complete" in s and "library" in s, what="the library")
        term.keys("Enter")
        screen = term.wait_for(lambda s: "vocals" in s and "playing" in s, what="the player")
        assert " M " not in line_with(screen, "vocals")
        term.keys("1")
        screen = term.wait_for(lambda s: "muted" in line_with(s, "vocals"), what="the vocals muted")
        vocals = line_with(screen, "vocals")
        assert " M " in vocals and "muted" in vocals
        assert "muted" not in line_with(screen, "drums")
        term.keys("q")
        term.wait_for(lambda s: "newest first" in s, what="the library again")
        term.keys("q")
        term.wait_for(lambda s: "Night Drive" not in s, what="the app to quit")
        log = (tmp_path / "log" / "stemtui.log").read_text()
        assert "stemtui starting" in log
    finally:
        term.kill()
