"""Song buffers other processes can map: files in a tmpfs folder, deleted with the array.

The tempo workers read the song from a file. A cached song decodes straight
into such a file, so the first tempo change needs no copy of the whole song
(0.6 s for a 4-minute, 6-stem song). Memory use is the same as an ordinary
array: tmpfs pages instead of anonymous ones. Without a tmpfs folder with
room, plain arrays are used and the tempo code copies on first use.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np

#: Free space a tmpfs folder needs before songs go there.
MIN_FREE = 2 << 30
_dir: Path | None = None
_checked = False


def _tmpfs_base() -> str | None:
    for cand in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if cand and os.path.isdir(cand) and os.access(cand, os.W_OK):
            try:
                st = os.statvfs(cand)
            except OSError:
                continue
            if st.f_bavail * st.f_frsize > MIN_FREE:
                return cand
    return None


def _sweep(base: str) -> None:
    """Remove folders left by stemtui processes that died (named by their pid)."""
    for p in Path(base).glob("stemtui-*-*"):
        pid = p.name.rsplit("-", 1)[-1].split("_")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(p, ignore_errors=True)


def shared_dir() -> Path | None:
    """This process's folder on tmpfs, or ``None`` where there is none with room."""
    global _dir, _checked
    if not _checked:
        _checked = True
        base = _tmpfs_base()
        if base is not None:
            _sweep(base)
            _dir = Path(tempfile.mkdtemp(prefix=f"stemtui-shm-{os.getpid()}_", dir=base))
            atexit.register(shutil.rmtree, str(_dir), True)
    return _dir


def scratch_dir() -> Path:
    """A folder for stretched runs and song copies: tmpfs when possible, else the temp dir."""
    base = _tmpfs_base()
    if base is not None:
        _sweep(base)
    return Path(tempfile.mkdtemp(prefix=f"stemtui-stretch-{os.getpid()}_", dir=base))


def zeros(shape: tuple[int, ...]) -> tuple[np.ndarray, str | None]:
    """A zero-filled float32 array, file-backed on tmpfs when possible.

    Returns:
        The array (a plain ndarray view: slicing it in the audio callback
        makes no memmap objects) and the file's path, or ``None``.
    """
    d = shared_dir()
    if d is None or not int(np.prod(shape)):
        return np.zeros(shape, dtype=np.float32), None
    fd, path = tempfile.mkstemp(prefix="song-", suffix=".f32", dir=d)
    os.close(fd)
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=shape)
    # The file goes when the array does (the view keeps the memmap alive).
    weakref.finalize(mm, _unlink, path)
    return mm.view(np.ndarray), path


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
