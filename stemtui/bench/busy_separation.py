"""A separation running the whole time, for figures taken "while a separation runs".

:class:`SeparationLoop` runs ``stemtui separate`` of a synthesized song
(:func:`stemtui.bench.soak_player._write_song`, as ``bench soak`` separates)
with demucs's offline ``demucs_unittest`` model in a child process, again and
again (each run into a fresh cache, so each really separates), until
closed. ``nice`` is the child's niceness (the player's separations run at
``stemtui.ui.separating.SEPARATION_NICE``; ``stemtui separate`` in another
terminal at 0). ``bench takes`` and the record-while-separating test use it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from stemtui.settings import CACHE_ENV

__all__ = ["SeparationLoop"]

#: Length of the song separated (demucs_unittest: a few seconds of CPU each run).
SONG_S = 60.0


class SeparationLoop:
    """``stemtui separate SONG -n demucs_unittest`` in a child, restarted whenever it ends.

    Attributes: ``started``, ``finished`` (runs that exited 0), ``failed``
    (the last line of each failed run), ``progress`` (progress events seen).
    """

    def __init__(self, env: dict[str, str] | None = None, nice: int = 0, song_s: float = SONG_S) -> None:
        from stemtui.bench.soak_player import _write_song

        self.tmp = Path(tempfile.mkdtemp(prefix="stemtui-busy-"))
        self.song = self.tmp / "separate me.wav"
        _write_song(self.song, song_s)
        self.env = {**(env if env is not None else os.environ), "HF_HUB_OFFLINE": "1"}
        self.nice = int(nice)
        self.started = self.finished = self.progress = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._separating = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stemtui-busy-separation", daemon=True)

    def start(self, timeout: float = 120.0) -> SeparationLoop:
        """Start, and return once the first separation reports progress (its model is running)."""
        self._thread.start()
        if not self._separating.wait(timeout):
            self.close()
            raise RuntimeError(f"no separation progress within {timeout:.0f} s: {self.failed[-1:] or 'no output'}")
        return self

    @property
    def running(self) -> bool:
        """Whether a separation process runs now."""
        p = self._proc
        return p is not None and p.poll() is None

    def _run(self) -> None:
        while not self._stop.is_set():
            cache = self.tmp / f"cache{self.started}"
            cmd = [sys.executable, "-m", "stemtui", "separate", str(self.song), "-n", "demucs_unittest", "--json"]
            if self.nice:
                cmd = ["nice", "-n", str(self.nice), *cmd]  # nice execs: the pid is the separation's
            env = {**self.env, CACHE_ENV: str(cache)}
            with self._lock:
                if self._stop.is_set():
                    return
                self._proc = proc = subprocess.Popen(
                    cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
            self.started += 1
            assert proc.stdout is not None
            for line in proc.stdout:
                try:
                    event = json.loads(line).get("event")
                except (ValueError, AttributeError):
                    continue
                if event == "progress":
                    self.progress += 1
                    self._separating.set()
            err = proc.stderr.read() if proc.stderr is not None else ""
            if proc.wait() == 0:
                self.finished += 1
            elif not self._stop.is_set():
                self.failed.append((err.strip().splitlines() or [f"exit {proc.returncode}"])[-1])
                self._stop.wait(1.0)
            shutil.rmtree(cache, ignore_errors=True)

    def close(self) -> None:
        """Stop the running separation (by its pid) and clean up."""
        with self._lock:
            self._stop.set()
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self._thread.join(15)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> SeparationLoop:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
