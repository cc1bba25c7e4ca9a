"""A separation's scratch files, read and written a block at a time.

Memory must not grow with the song (a 2-hour file is 2.5 GB of float32
stereo and 10 GB of float32 stems), so nothing here maps or loads a whole
file:

* :func:`write_npy` streams blocks of ``(frames, channels)`` float32 into a
  ``.npy`` file (the header, written last, carries the final shape).
* :class:`NpyFrames` reads frame ranges of such a file with ``preadv``, into
  a fresh array: no mapping, so the pages read never count toward the
  reader's RSS.
* :class:`StemsFile` is the worker's output, a raw C-order
  ``(stems, frames, 2)`` float32 file, sized up front (sparse, zeros), whose
  finished frames are written with ``pwrite``. Written pages sit in the page
  cache (the parent maps the file to play it while it grows), not in the
  worker's heap, and are not dirty pages of a mapping of the worker's.
* :func:`stem_blocks` reads one stem back in blocks (for FLAC encoding).

OSErrors while writing become the one-line errors of
:func:`stemtui.core.library.safeio.write_error` (ENOSPC: ``WriteFailed``).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from stemtui.core.errors import BadInput
from stemtui.core.library.safeio import write_error

#: Frames per block when streaming a file (1.5 s at 44.1 kHz: 512 KB stereo).
BLOCK = 1 << 16

_HEADER_LEN = 128  # a .npy v1.0 header padded to this many bytes (a multiple of 64)


def _npy_header(frames: int, channels: int) -> bytes:
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({int(frames)}, {int(channels)}), }}"
    body = _HEADER_LEN - 10
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", body) + (text.ljust(body - 1) + "\n").encode("latin1")


def write_npy(path: str | os.PathLike, blocks: Iterable[np.ndarray], channels: int = 2) -> int:
    """Write ``(n, channels)`` float32 blocks as one ``.npy`` array; the frame count.

    Raises:
        WriteFailed / BadInput: The disk refused (the file is removed).
    """
    p = Path(path)
    frames = 0
    try:
        with open(p, "wb") as fh:
            fh.write(_npy_header(0, channels))
            for b in blocks:
                b = np.ascontiguousarray(b, dtype="<f4")
                if b.ndim != 2 or b.shape[1] != channels:
                    raise ValueError(f"block of shape {b.shape}, expected (n, {channels})")
                if b.size:
                    fh.write(b.data.cast("B"))
                frames += b.shape[0]
            fh.seek(0)
            fh.write(_npy_header(frames, channels))
    except OSError as exc:
        p.unlink(missing_ok=True)
        raise write_error(p, exc) from None
    except BaseException:
        p.unlink(missing_ok=True)
        raise
    return frames


class NpyFrames:
    """A 2-D float32 ``.npy`` file (``(frames, channels)``), read by frame range.

    Raises:
        BadInput: Not a float32 2-D ``.npy`` file.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fd = -1
        try:
            with open(self.path, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                if version != (1, 0):
                    raise ValueError(f"npy version {version}")
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                self.offset = fh.tell()
        except (OSError, ValueError, SyntaxError) as exc:
            raise BadInput(str(self.path), f"not a float32 .npy file ({exc})") from None
        if dtype != np.dtype("<f4") or fortran or len(shape) != 2:
            raise BadInput(str(self.path), f"expected a (frames, channels) float32 array, got {dtype} {shape}")
        self.frames, self.channels = int(shape[0]), int(shape[1])
        self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``[start, stop)`` (clipped to the file) as a new ``(n, channels)`` array."""
        start, stop = max(0, start), min(self.frames, stop)
        out = np.empty((max(0, stop - start), self.channels), dtype=np.float32)
        if out.size:
            _pread_into(self._fd, out, self.offset + start * self.channels * 4)
        return out

    def blocks(self, block: int = BLOCK) -> Iterator[np.ndarray]:
        """The whole file, ``block`` frames at a time."""
        for s in range(0, self.frames, block):
            yield self.read(s, s + block)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


def _pread_into(fd: int, out: np.ndarray, offset: int) -> None:
    view = out.data.cast("B")
    got = 0
    while got < len(view):
        n = os.preadv(fd, [view[got:]], offset + got)
        if n <= 0:
            raise OSError(f"short read at byte {offset + got}")
        got += n


class StemsFile:
    """The worker's output: ``(stems, frames, 2)`` float32, written a frame range at a time.

    Created at full size (a sparse file of zeros), so a reader may map it at
    once; :meth:`write` puts finished frames in place with ``pwrite``.
    """

    def __init__(self, path: str | os.PathLike, stems: int, frames: int) -> None:
        self.path = Path(path)
        self.stems, self.frames = int(stems), int(frames)
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
            os.ftruncate(self._fd, self.stems * self.frames * 8)
        except OSError as exc:
            raise write_error(self.path, exc) from None

    def write(self, start: int, block: np.ndarray) -> None:
        """Store ``block`` (``(stems, n, 2)``) as frames ``[start, start + n)``."""
        if start + block.shape[1] > self.frames:
            raise ValueError(f"frames {start}+{block.shape[1]} past the end ({self.frames})")
        if not block.shape[1]:
            return
        for s in range(self.stems):
            data = np.ascontiguousarray(block[s], dtype="<f4").data.cast("B")
            offset = (s * self.frames + start) * 8
            try:
                while data:
                    k = os.pwrite(self._fd, data, offset)
                    data, offset = data[k:], offset + k
            except OSError as exc:
                raise write_error(self.path, exc) from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def stem_blocks(path: str | os.PathLike, frames: int, index: int, block: int = BLOCK) -> Iterator[np.ndarray]:
    """Stem ``index`` of a :class:`StemsFile`, as ``(n, 2)`` float32 blocks."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for s in range(0, frames, block):
            out = np.empty((min(block, frames - s), 2), dtype=np.float32)
            _pread_into(fd, out, (index * frames + s) * 8)
            yield out
    finally:
        os.close(fd)
