"""What the cyclic garbage collector costs during a benchmark: :class:`GcPauses`.

A full (generation 2) collection holds the GIL from start to end, whichever
thread triggered it, and the audio callback needs the GIL: with Textual,
PyAV and numpy loaded a full collection walks some 50 000 objects, 23–32 ms
on the 2-core test VM. The soak counts the collections that ran while it
played, and their lengths, so a long callback gap can be laid beside them
(in the runs so far none was a full one: the gaps are not the collector's).
"""

from __future__ import annotations

import gc
import time


class GcPauses:
    """Counts the collector's runs and their lengths, per generation, while installed.

    ``install()`` adds a :data:`gc.callbacks` hook; ``close()`` removes it.
    The figures: runs and the longest run (ms) for each generation.
    """

    def __init__(self) -> None:
        self.runs = [0, 0, 0]
        self.max_ms = [0.0, 0.0, 0.0]
        self.total_ms = 0.0
        self._t0 = 0.0

    def _hook(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        gen = int(info.get("generation", 2))
        ms = (time.perf_counter() - self._t0) * 1000.0
        self.runs[gen] += 1
        self.total_ms += ms
        if ms > self.max_ms[gen]:
            self.max_ms[gen] = ms

    def install(self) -> GcPauses:
        if self._hook not in gc.callbacks:
            gc.callbacks.append(self._hook)
        return self

    def close(self) -> None:
        if self._hook in gc.callbacks:
            gc.callbacks.remove(self._hook)

    def figures(self) -> dict:
        """The counts for a benchmark's JSON: runs and longest run (ms) per generation, and the time in all."""
        return {
            "runs": list(self.runs),
            "max_ms": [round(m, 2) for m in self.max_ms],
            "total_ms": round(self.total_ms, 1),
        }
