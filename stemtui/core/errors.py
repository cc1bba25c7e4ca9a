"""Exceptions that the CLI and UI turn into one-line messages."""

from __future__ import annotations


class StemtuiError(Exception):
    """A problem the user can act on; shown as one line, never a traceback.

    Attributes:
        exit_code: The process exit code the CLI uses for this error.
    """

    exit_code = 1


class BadInput(StemtuiError):
    """The user named something unusable: a file, a flag value, a song.

    The message always names the input and the reason, e.g.
    ``song.mp3: not an audio file``.
    """

    exit_code = 2

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what = what
        self.reason = reason


class WriteFailed(StemtuiError):
    """Writing a file failed on the way (disk full, I/O error, broken pipe).

    Shown as one line, ``PATH: cannot write: REASON``; exit code 1. Nothing
    half-written is left behind.
    """

    exit_code = 1

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what = what
        self.reason = reason


class NoOutputDevice(StemtuiError):
    """No audio output is available (e.g. a headless host over SSH)."""

    exit_code = 2
