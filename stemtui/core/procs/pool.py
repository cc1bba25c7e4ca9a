"""Worker processes started ahead of need, each waiting for its job on stdin.

Starting a worker costs its interpreter and imports: ~0.2 s for a render
worker, ~2.5 s for the song analysis (librosa, numba's cache). A pool keeps
spares started, so a job pays none of it; :meth:`WorkerPool.refill` tops it
up in the background after each use. A worker that serves job after job
(the render workers) goes back with :meth:`WorkerPool.give` when its job is
over, up to :attr:`WorkerPool.keep` idle ones: no process is started for the
next job at all. Idle spares exit on their own when this process ends (their
stdin closes), or on :meth:`WorkerPool.close`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from stemtui.core.procs.protocol import Child


class WorkerPool:
    """Spare :class:`Child` processes of one worker module.

    Args:
        module: The worker's module (``python -m MODULE``, no arguments).
        name: What errors call it, e.g. ``"stretch worker"``.
        spares: How many :meth:`refill` keeps started.
        keep: How many idle workers :meth:`give` keeps (at least ``spares``).
        env: The workers' environment, or a function that makes it at each
            start (default: ours at each start).
    """

    def __init__(
        self,
        module: str,
        name: str,
        spares: int = 1,
        keep: int = 0,
        env: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self.module, self.name, self.spares, self.env = module, name, spares, env
        self.keep = keep
        #: Workers started so far (spares and fresh ones), and jobs served by a worker given back.
        self.started = 0
        self.reused = 0
        self._idle: list[Child] = []
        self._lock = threading.Lock()

    def spawn(self) -> Child:
        """A new worker, started now (not one of the spares)."""
        env = self.env() if callable(self.env) else self.env
        self.started += 1
        return Child(self.module, name=self.name, env=env)

    def take(self) -> Child:
        """A started worker: a spare if one is alive, else a fresh one."""
        with self._lock:
            while self._idle:
                c = self._idle.pop()
                if c.running:
                    return c
        return self.spawn()

    def give(self, child: Child) -> bool:
        """Take back a worker whose job is over, if it is alive and fewer than ``keep`` are idle.

        Returns whether it was kept; one that is not has its stdin closed (it exits).
        """
        with self._lock:
            kept = child.running and len(self._idle) < max(self.keep, self.spares)
            if kept:
                self._idle.append(child)
                self.reused += 1
        if not kept:
            child.close_stdin()
        return kept

    def refill(self, delay: float = 0.0) -> None:
        """Start spares in the background, up to :attr:`spares`.

        ``delay``: count only after this many seconds, so workers given back
        meanwhile (a dropped run's) are counted instead of replaced.
        """

        def fill() -> None:
            if delay > 0:
                time.sleep(delay)
            while True:
                with self._lock:
                    self._idle = [c for c in self._idle if c.running]
                    if len(self._idle) >= self.spares:
                        return
                c = self.spawn()
                with self._lock:
                    self._idle.append(c)

        name = f"stemtui-{self.name.replace(' ', '-')}-pool"
        threading.Thread(target=fill, name=name, daemon=True).start()

    def idle(self) -> list[Child]:
        """The spares started and waiting (a copy)."""
        with self._lock:
            return list(self._idle)

    def close(self) -> None:
        """Stop the idle workers."""
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.kill()
            c.wait(2)
