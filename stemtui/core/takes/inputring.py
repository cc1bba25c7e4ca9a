"""A preallocated single-producer/single-consumer ring of input frames.

The audio input callback is the only writer (:meth:`InputRing.write`), the
take writer thread the only reader (:meth:`InputRing.read_into`). Neither
takes a lock: each side only advances its own counter (a one-element int64
array, a store the GIL makes whole), after its copy is done. The callback
copies with ``np.copyto`` into slices of the preallocated buffer and never
allocates a buffer; a block that does not fit whole is dropped and counted
(:attr:`InputRing.overflows`), never half written.

The ring also keeps the input's peak level since the reader last asked
(:meth:`InputRing.take_peak`), for a level meter.
"""

from __future__ import annotations

import numpy as np

__all__ = ["InputRing"]


class InputRing:
    """``capacity`` frames of ``channels`` float32 samples.

    Args:
        capacity: Frames the ring holds (a few seconds at the stream's rate).
        channels: Samples per frame.
    """

    def __init__(self, capacity: int, channels: int) -> None:
        if capacity <= 0 or channels <= 0:
            raise ValueError("capacity and channels must be positive")
        self.capacity = int(capacity)
        self.channels = int(channels)
        self.buf = np.zeros((self.capacity, self.channels), dtype=np.float32)
        # [frames written, frames read, blocks dropped, frames dropped]; each
        # slot has one writer thread.
        self._w = np.zeros(1, dtype=np.int64)
        self._r = np.zeros(1, dtype=np.int64)
        self._drop = np.zeros(2, dtype=np.int64)
        self._peak = np.zeros((), dtype=np.float32)
        self._pk = np.zeros((), dtype=np.float32)

    # -- the audio thread ---------------------------------------------------
    def write(self, block: np.ndarray) -> bool:
        """Append ``block`` ((frames, channels) float32); ``False`` if it was dropped (no room).

        Audio thread only: no allocation, no lock.
        """
        n = block.shape[0]
        w = int(self._w[0])
        if n > self.capacity - (w - int(self._r[0])):
            self._drop[0] += 1
            self._drop[1] += n
            return False
        cap = self.capacity
        i = w % cap
        first = min(n, cap - i)
        np.copyto(self.buf[i : i + first], block[:first])
        if first < n:
            np.copyto(self.buf[: n - first], block[first:])
        # |x| peak as max(max x, -min x): no temporary for np.abs.
        np.max(block, axis=None, out=self._pk)
        np.maximum(self._peak, self._pk, out=self._peak)
        np.min(block, axis=None, out=self._pk)
        np.negative(self._pk, out=self._pk)
        np.maximum(self._peak, self._pk, out=self._peak)
        self._w[0] = w + n
        return True

    # -- the reader ---------------------------------------------------------
    @property
    def written(self) -> int:
        """Frames written since the start (dropped blocks not counted)."""
        return int(self._w[0])

    @property
    def available(self) -> int:
        """Frames waiting to be read."""
        return int(self._w[0] - self._r[0])

    @property
    def overflows(self) -> int:
        """Blocks dropped because the ring was full."""
        return int(self._drop[0])

    @property
    def dropped_frames(self) -> int:
        """Frames in the dropped blocks."""
        return int(self._drop[1])

    def read_into(self, out: np.ndarray) -> int:
        """Move up to ``len(out)`` frames into ``out``; the number moved."""
        r = int(self._r[0])
        n = min(out.shape[0], int(self._w[0]) - r)
        if n <= 0:
            return 0
        cap = self.capacity
        i = r % cap
        first = min(n, cap - i)
        np.copyto(out[:first], self.buf[i : i + first])
        if first < n:
            np.copyto(out[first:n], self.buf[: n - first])
        self._r[0] = r + n
        return n

    def take_peak(self) -> float:
        """The input's peak absolute level since the previous call (0..1+); resets it."""
        p = float(self._peak)
        self._peak.fill(0.0)
        return p
