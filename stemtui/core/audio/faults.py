"""Failures in the audio path, said in one line.

The audio callback and the tempo control thread catch what they cannot let
escape (an exception would stop the stream, or kill the thread that serves
the tempo keys) and keep a one-line description for the UI and CLI to show.
"""

from __future__ import annotations

import os

__all__ = ["describe"]


def describe(exc: BaseException) -> str:
    """One line for an exception: type, message, and where it was raised."""
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0]}" if text and text[0] else type(exc).__name__
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        line += f" ({os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno})"
    return line[:300]
