"""What C libraries print on stderr (PortAudio, ALSA, libpulse) goes to a log, not the terminal.

PortAudio's ALSA host prints ``Expression '...' failed in 'src/hostapi/alsa/
pa_linux_alsa.c'`` and ALSA ``underrun occurred`` straight to file descriptor
2, from C, on its own threads: in the TUI those lines would be drawn over the
screen. :class:`NativeStderr` moves fd 2 onto a pipe whose reader thread
appends each line, time-stamped, to ``native-stderr.log`` in the log folder
(lines are dropped if it cannot be written; they never reach the terminal).

Python keeps the real stderr: ``sys.stderr`` (and ``sys.__stderr__``, where
Textual draws the screen) are switched to a copy of the original descriptor
while the capture runs, so our own one-line messages, the TUI, and the
tracebacks of Python crashes still reach the terminal. Only output written to
fd 2 itself goes to the log: C libraries, and ``faulthandler`` dumps of a
fatal crash. A ``sys.stderr`` that is not fd 2 (a test's capture) is left alone.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

__all__ = ["LOG_NAME", "NativeStderr"]

#: The file in the log folder that gets the captured lines.
LOG_NAME = "native-stderr.log"
#: The log is emptied at start once it is bigger than this.
MAX_BYTES = 1 << 20


def _on_fd2(stream: Any) -> bool:
    try:
        return stream is not None and stream.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


class NativeStderr:
    """Capture fd 2 into ``<log_dir>/native-stderr.log`` between :meth:`start` and :meth:`stop`.

    Args:
        log_dir: The log folder (``Settings.log_dir``); ``None`` drops the lines.
    """

    def __init__(self, log_dir: Path | None) -> None:
        self.path = Path(log_dir).expanduser() / LOG_NAME if log_dir is not None else None
        #: Lines captured so far.
        self.lines = 0
        self._saved_fd: int | None = None
        self._read_fd: int | None = None
        self._thread: threading.Thread | None = None
        self._swapped: list[tuple[str, Any]] = []
        self._real: IO[str] | None = None

    def start(self) -> NativeStderr:
        """Move fd 2 onto the pipe; Python's stderr keeps the terminal."""
        if self._saved_fd is not None:
            return self
        try:
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):
            pass
        saved = os.dup(2)
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        self._saved_fd, self._read_fd = saved, read_fd
        # A text stream on a copy of the real stderr, for Python's own output.
        real = open(os.dup(saved), "w", buffering=1, encoding=getattr(sys.stderr, "encoding", None) or "utf-8")
        self._real = real
        for name in ("stderr", "__stderr__"):
            current = getattr(sys, name)
            if _on_fd2(current):
                self._swapped.append((name, current))
                setattr(sys, name, real)
        self._thread = threading.Thread(target=self._pump, name="stemtui-native-stderr", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Give fd 2 back; the reader writes what is left and ends."""
        saved = self._saved_fd
        if saved is None:
            return
        self._saved_fd = None
        for name, stream in reversed(self._swapped):
            setattr(sys, name, stream)
        self._swapped.clear()
        if self._real is not None:
            try:
                self._real.flush()
                self._real.close()
            except OSError:
                pass
            self._real = None
        os.dup2(saved, 2)  # the pipe's last writer in this process is gone
        os.close(saved)
        if self._thread is not None:
            # Children that inherited the pipe may keep it open: don't wait for them.
            self._thread.join(timeout=1.0)
            self._thread = None

    def _pump(self) -> None:
        fd = self._read_fd
        assert fd is not None
        out = self._open_log()
        pending = b""
        try:
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                self._write(out, lines)
            if pending:
                self._write(out, [pending])
        finally:
            os.close(fd)
            if out is not None:
                out.close()

    def _write(self, out: IO[bytes] | None, lines: list[bytes]) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S").encode()
        for line in lines:
            if not line.strip():
                continue
            self.lines += 1
            if out is not None:
                try:
                    out.write(stamp + b" " + line.rstrip(b"\r") + b"\n")
                    out.flush()
                except OSError:
                    pass  # a full or read-only log disk: the line is dropped, never shown

    def _open_log(self) -> IO[bytes] | None:
        if self.path is None:
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            big = self.path.exists() and self.path.stat().st_size > MAX_BYTES
            return open(self.path, "wb" if big else "ab")
        except OSError:
            return None

    def __enter__(self) -> NativeStderr:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
