"""Safe file I/O at the edges: inputs checked before they are read, outputs never half-written.

- :func:`check_input_file` looks at a user's path with ``os.stat`` (never an
  ``open`` that could block on a FIFO) and refuses anything but a readable
  regular file (or a folder, where one is expected) with a one-line
  :class:`BadInput`.
- :class:`SafeSoundFile` writes audio to a hidden ``.NAME.<pid>.<hex>.part``
  beside the target and renames it over the target only once complete. A
  failed write removes the part and raises one line naming the target and
  the reason (:func:`write_error`). The writer's pid in the name lets a later
  write into the same folder sweep the parts of processes that died
  (:func:`sweep_parts`).
- :func:`unwind_on_signals` turns SIGTERM and SIGHUP into an exception while
  a write runs, so its clean-up runs as it does for Ctrl-C.

Exit codes: a target the user named that cannot be written at all
(read-only file system, permission denied) is :class:`BadInput` (2: fix the
arguments); a write that fails on the way (disk full, I/O error) is
:class:`WriteFailed` (1).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import signal
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stemtui.core.errors import BadInput, StemtuiError
from stemtui.core.errors import WriteFailed as WriteFailed  # re-exported: it lived here first

#: A part file of ours: ``.NAME.<pid>.<8 hex>.part``.
PART_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[1-9][0-9]{0,9})\.(?P<tag>[0-9a-f]{8})\.part$")

#: What a non-regular file is, for the message.
_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)

#: errno values that mean "this target cannot be written at all".
_REFUSED = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def _reason(exc: OSError) -> str:
    """``Read-only file system`` -> ``read-only file system``."""
    text = exc.strerror or (errno.errorcode.get(exc.errno, "") if exc.errno else "") or type(exc).__name__
    return text[:1].lower() + text[1:]


def file_kind(mode: int) -> str:
    """``a FIFO``, ``a character device``, ``a block device`` or ``a socket``, from ``st_mode``."""
    return next((name for test, name in _KINDS if test(mode)), "not a file")


def check_input_file(path: str | os.PathLike, allow_dir: bool = False) -> Path:
    """Check a user's input path before anything reads it; never blocks.

    Args:
        path: A file (or, with ``allow_dir``, a folder) the user named.
        allow_dir: Accept a folder (stem folders are folders).

    Returns:
        The path, ``~`` expanded.

    Raises:
        BadInput: ``no such file``, ``is a directory``, ``not a regular file
            (a FIFO)`` (or a character/block device, a socket), or
            ``unreadable: permission denied``.
    """
    p = Path(path).expanduser()
    what = str(p)
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        raise BadInput(what, "no such file or directory" if allow_dir else "no such file") from None
    except PermissionError:
        raise BadInput(what, "unreadable: permission denied") from None
    except OSError as exc:
        raise BadInput(what, f"unreadable: {_reason(exc)}") from None
    if stat.S_ISDIR(st.st_mode):
        if allow_dir:
            return p
        raise BadInput(what, "is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(what, f"not a regular file ({file_kind(st.st_mode)})")
    # Open it for real (os.access lies under root and on some mounts), but
    # non-blocking, and check the opened file again: a FIFO swapped in after
    # the stat must not hang us either.
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except PermissionError:
        raise BadInput(what, "unreadable: permission denied") from None
    except OSError as exc:
        raise BadInput(what, f"unreadable: {_reason(exc)}") from None
    try:
        mode = os.fstat(fd).st_mode
    finally:
        os.close(fd)
    if not stat.S_ISREG(mode):
        raise BadInput(what, f"not a regular file ({file_kind(mode)})")
    return p


def write_error(path: str | os.PathLike, exc: OSError) -> StemtuiError:
    """The one-line error for an OSError while writing ``path``.

    EROFS, EACCES and EPERM mean the target can never be written there:
    :class:`BadInput` (exit 2). Anything else (ENOSPC, EIO, EPIPE, ...) is
    :class:`WriteFailed` (exit 1).
    """
    reason = f"cannot write: {_reason(exc)}"
    if exc.errno in _REFUSED:
        return BadInput(str(path), reason)
    return WriteFailed(str(path), reason)


# -- part files ----------------------------------------------------------------------
def part_path(target: Path) -> Path:
    """A fresh hidden part name beside ``target``, carrying this process's pid."""
    return target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.part"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (zombies count as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's: alive
    except OverflowError:
        return False
    return True


def sweep_parts(folder: str | os.PathLike, pattern: re.Pattern[str] = PART_RE) -> list[Path]:
    """Remove our part files in ``folder`` whose writer process is gone.

    Only names matching ``pattern`` (:data:`PART_RE`; another writer's temp
    names, with a ``pid`` group), only regular files, never this
    process's own, never one whose pid is alive. Never raises.

    Returns:
        The paths removed.
    """
    removed: list[Path] = []
    me = os.getpid()
    try:
        entries = list(os.scandir(str(folder)))
    except OSError:
        return removed
    for entry in entries:
        m = pattern.match(entry.name)
        if m is None:
            continue
        pid = int(m.group("pid"))
        try:
            if pid == me or pid_alive(pid) or not entry.is_file(follow_symlinks=False):
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def probe_writable(target: Path) -> None:
    """Create (and at once remove) a part file beside ``target``.

    Raises:
        BadInput / WriteFailed: Via :func:`write_error`, naming ``target``.
    """
    part = part_path(target)
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise write_error(target, exc) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(part)


# -- writing ---------------------------------------------------------------------------
class SafeSoundFile:
    """A soundfile writer that leaves either the whole file or nothing.

    Use as a context manager; :meth:`write` blocks of ``(frames, channels)``
    audio. With ``atomic`` (the default) the audio goes to a part file
    renamed over ``target`` on a clean exit; stale parts of dead writers in
    the folder are swept first. Without it, ``target`` itself is written
    (for files inside a folder that is itself committed by a rename) and
    removed on failure.

    Raises:
        BadInput / WriteFailed: One line naming ``target`` and the reason,
            with the part (or the target, when not atomic) removed. Other
            exceptions (Ctrl-C, a bug) propagate unchanged after the same
            clean-up.
    """

    def __init__(
        self, target: str | os.PathLike, samplerate: int, channels: int, fmt: str, subtype: str, atomic: bool = True
    ) -> None:
        self.target = Path(target)
        self.atomic = atomic
        self.path = part_path(self.target) if atomic else self.target
        self._sf_args = {"samplerate": int(samplerate), "channels": int(channels), "format": fmt, "subtype": subtype}
        self._fd = -1
        self._sf: Any = None

    def __enter__(self) -> SafeSoundFile:
        import soundfile as sf

        if self.atomic:
            sweep_parts(self.target.parent)
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if self.atomic else os.O_TRUNC)
        try:
            # Mode 0666 less the umask, as for any file the user makes (not
            # mkstemp's 0600, which would stick to the target after the rename).
            self._fd = os.open(self.path, flags, 0o666)
        except OSError as exc:
            raise write_error(self.target, exc) from None
        try:
            self._sf = sf.SoundFile(self._fd, "w", closefd=False, **self._sf_args)
        except BaseException as exc:
            failure = self._failure(exc) if isinstance(exc, sf.SoundFileError) else None
            self._discard()
            if failure is not None:
                raise failure from None
            raise
        return self

    def write(self, data: Any) -> None:
        """Append frames.

        Raises:
            BadInput / WriteFailed: The file system refused the data.
        """
        import soundfile as sf

        try:
            self._sf.write(data)
        except (AssertionError, sf.SoundFileError, OSError) as exc:
            # libsndfile reports a short write only as "written != len(data)".
            raise self._failure(exc) from None

    def __exit__(self, exc_type, exc, tb) -> None:
        import soundfile as sf

        if exc_type is not None:
            self._discard()
            return
        try:
            try:
                self._sf.close()  # FLAC/MP3 flush their last frames here; WAV its header
            except (AssertionError, sf.SoundFileError, OSError) as err:
                raise self._failure(err) from None
            try:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = -1
                if self.atomic:
                    os.replace(self.path, self.target)
            except OSError as err:
                raise write_error(self.target, err) from None
        except BaseException:
            self._discard()
            raise

    def _failure(self, exc: BaseException) -> StemtuiError:
        """Why a write failed: the errno a direct write on the same file gets, else the disk's state."""
        if isinstance(exc, OSError):
            return write_error(self.target, exc)
        if self._fd >= 0:
            try:
                os.write(self._fd, b"\0")  # the file is discarded anyway
            except OSError as err:
                return write_error(self.target, err)
        with contextlib.suppress(OSError):
            if os.statvfs(self.target.parent).f_bavail == 0:
                return WriteFailed(str(self.target), "cannot write: no space left on device")
        detail = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        return WriteFailed(str(self.target), f"cannot write: {detail}")

    def _discard(self) -> None:
        if self._sf is not None:
            with contextlib.suppress(Exception):
                self._sf.close()
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(OSError):
            os.unlink(self.path)


# -- signals ---------------------------------------------------------------------------
class Terminated(SystemExit):
    """SIGTERM or SIGHUP arrived during a write: unwinds, then exits ``128 + signal``."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def unwind_on_signals() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise :class:`Terminated` (as Ctrl-C raises KeyboardInterrupt).

    So ``finally`` and ``except BaseException`` clean-ups run and no part
    file is left behind. Only in the main thread, and only for signals left
    at their default (an ignored SIGHUP under ``nohup`` stays ignored); the
    previous handlers come back on the way out.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            previous[sig] = signal.signal(sig, _raise_terminated)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def write_json_synced(path: Path, obj: dict, ensure_ascii: bool = True) -> None:
    """Write and fsync a JSON file (UTF-8); an OSError always carries ``path`` as its filename.

    ``ensure_ascii=False`` keeps text such as lyrics readable in the file.
    """
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, ensure_ascii=ensure_ascii)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def save_json_atomic(path: Path, obj: dict, tmp: Path | None = None, ensure_ascii: bool = True) -> Path:
    """Write ``obj`` to ``path`` whole or not at all: a temp file beside it, fsync, ``os.replace``, fsync the folder.

    ``tmp`` is the temp file (default: a dot name unique to this writer, so
    two processes saving at once each replace the file whole). A failure
    leaves the old file as it was and no temp file. Returns ``path``.

    Raises:
        BadInput / WriteFailed: One line naming ``path`` and the reason.
    """
    tmp = tmp or path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_json_synced(tmp, obj, ensure_ascii)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_path(path.parent)  # the rename itself survives a crash
    except OSError as exc:
        raise write_error(path, exc) from None
    return path


def fsync_path(path: Path) -> None:
    """fsync a file or a folder (a folder's entries: the rename commit point)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def set_aside(path: Path) -> str:
    """Rename an unusable file to ``NAME.bad`` so nothing is lost; ``", kept as NAME.bad"``, or ``""`` if it failed."""
    bad = path.with_name(path.name + ".bad")
    try:
        os.replace(path, bad)
    except OSError:
        return ""
    return f", kept as {bad.name}"
