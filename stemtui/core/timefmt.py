"""Parsing and formatting of times, loops and gains as musicians type them."""

from __future__ import annotations

import math
import re

from stemtui.core.audio.mixer import VOLUME_MAX, db_to_gain, gain_to_db
from stemtui.core.errors import BadInput

_TIME = re.compile(r"^\s*(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?|\.\d+)\s*$")


def parse_time(text: str, what: str = "time") -> float:
    """Parse ``SS``, ``SS.mmm``, ``M:SS.mmm`` or ``H:MM:SS.mmm`` into seconds.

    Raises:
        BadInput: Naming ``text`` and saying what a time looks like.
    """
    m = _TIME.match(text or "")
    if not m:
        raise BadInput(f"{what} {text!r}", "not a time (use M:SS.mmm, e.g. 0:30.250)")
    a, b, sec = m.groups()
    s = float(sec)
    if a is not None and b is not None:  # H:MM:SS
        hours, minutes = int(a), int(b)
    else:
        hours, minutes = 0, int(a or 0)
    if (a is not None) and s >= 60:
        raise BadInput(f"{what} {text!r}", "seconds must be below 60 after a colon")
    return hours * 3600 + minutes * 60 + s


def parse_loop(text: str) -> tuple[float, float]:
    """Parse ``START-END`` (e.g. ``0:30.0-0:45.5``) into seconds.

    Raises:
        BadInput: If malformed or the end is not after the start.
    """
    parts = (text or "").split("-")
    if len(parts) != 2:
        raise BadInput(f"loop {text!r}", "not a loop (use START-END, e.g. 0:30.0-0:45.5)")
    a, b = parse_time(parts[0], "loop start"), parse_time(parts[1], "loop end")
    if b <= a:
        raise BadInput(f"loop {text!r}", "the end must come after the start")
    return a, b


def format_time(seconds: float, decimals: int = 1) -> str:
    """Format seconds as ``M:SS.d`` (or ``H:MM:SS.d`` past an hour)."""
    if seconds < 0 or math.isnan(seconds):
        seconds = 0.0
    scale = 10**decimals
    total = round(seconds * scale) / scale
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    width = 3 + decimals if decimals else 2
    sec = f"{s:0{width}.{decimals}f}"
    return f"{int(h)}:{int(m):02d}:{sec}" if h else f"{int(m)}:{sec}"


def parse_gain(text: str, what: str = "volume") -> float:
    """Parse a volume: ``-6dB``, ``+3 dB``, ``50%``, ``0.5``; returns a linear gain.

    Raises:
        BadInput: If malformed or outside 0–200 % (``+6 dB``).
    """
    t = (text or "").strip().lower().replace(" ", "")
    try:
        if t.endswith("db"):
            g = db_to_gain(float(t[:-2])) if t[:-2] not in ("-inf", "-infinity") else 0.0
        elif t.endswith("%"):
            g = float(t[:-1]) / 100.0
        else:
            g = float(t)
    except ValueError:
        raise BadInput(f"{what} {text!r}", "not a volume (use -6dB, 50% or 0.5)") from None
    if not (0.0 <= g <= VOLUME_MAX * 1.0001):
        raise BadInput(f"{what} {text!r}", "out of range (0% to 200%, i.e. up to +6 dB)")
    return min(g, VOLUME_MAX)


def format_gain(gain: float) -> str:
    """Format a linear gain as dB for display, e.g. ``-6.0 dB`` or ``-inf dB``."""
    db = gain_to_db(gain)
    return "-inf dB" if db == float("-inf") else f"{db:+.1f} dB"
