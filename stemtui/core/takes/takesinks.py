"""Where a :class:`~.recorder.Recorder`'s frames go: the take store's part file, or memory.

* :class:`StoreSink` writes ``<id>.part.f32`` in a :class:`~.takestore.TakeStore`
  (``sync`` flushes and fsyncs it), then finishes it into a take;
* :class:`MemorySink` keeps the frames (calibration, tests).

:mod:`.recorder` re-exports them.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import numpy as np

__all__ = ["MemorySink", "StoreSink", "TakeSink"]


class TakeSink(Protocol):
    def begin(self, start_s: float, sample_rate: int, channels: int) -> None: ...
    def write(self, frames: np.ndarray) -> None: ...
    def sync(self) -> None: ...
    def finish(self, start_s: float) -> Any: ...
    def discard(self) -> None: ...


class StoreSink:
    """Writes the take into a :class:`~.takestore.TakeStore` as ``<id>.part.f32``, then finishes it."""

    def __init__(self, store: Any, song_id: str, reference: str = "", name: str | None = None) -> None:
        self.store, self.song_id, self.reference, self.name = store, song_id, reference, name
        self.part: Any = None
        self._fh: Any = None

    def begin(self, start_s: float, sample_rate: int, channels: int) -> None:
        self.part = self.store.begin(self.song_id, start_s, sample_rate, channels, self.reference)
        self._fh = open(self.part.audio, "ab")

    def write(self, frames: np.ndarray) -> None:
        self._fh.write(np.ascontiguousarray(frames, dtype="<f4").tobytes())

    def sync(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def _close(self) -> None:
        if self._fh is not None:
            self.sync()
            self._fh.close()
            self._fh = None

    def finish(self, start_s: float) -> Any:
        self._close()
        return self.store.finish(self.part, start_s=start_s, name=self.name)

    def discard(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self.part is not None:
            self.store.discard(self.part)


class MemorySink:
    """Keeps the take in memory: :meth:`finish` returns ``(start_s, (frames, channels) float32)``."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.channels = 1

    def begin(self, start_s: float, sample_rate: int, channels: int) -> None:  # noqa: ARG002
        self.channels = channels

    def write(self, frames: np.ndarray) -> None:
        self.blocks.append(frames.copy())

    def sync(self) -> None:
        pass

    def finish(self, start_s: float) -> tuple[float, np.ndarray]:
        data = np.concatenate(self.blocks) if self.blocks else np.zeros((0, self.channels), np.float32)
        return start_s, data

    def discard(self) -> None:
        self.blocks.clear()
