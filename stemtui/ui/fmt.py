"""Pure display helpers for the UI: sizes, dates, volume steps, bar geometry.

No Textual here, so these are unit-tested directly and reused by the widgets.
"""

from __future__ import annotations

import math
from datetime import datetime

from stemtui.core.audio.mixer import VOLUME_MAX, db_to_gain, gain_to_db

#: One press of ``+``/``-`` changes a stem's volume by this much.
VOLUME_STEP_DB = 1.0
#: Below this, ``-`` silences the stem; ``+`` from silence starts here.
VOLUME_FLOOR_DB = -30.0
#: The volume bar spans this range of dB (``-inf`` is an empty bar).
VOLUME_BAR_RANGE_DB = (-40.0, 20.0 * math.log10(VOLUME_MAX))
#: The level meter spans this range of dBFS.
METER_RANGE_DB = (-48.0, 0.0)
#: Meter colour zones: green below ``METER_YELLOW_DB``, red from ``METER_RED_DB``.
METER_YELLOW_DB = -12.0
METER_RED_DB = -3.0
#: How fast a meter falls back, in dB per second (peaks jump up at once).
METER_FALL_DB_PER_S = 30.0


def fmt_size(n: int) -> str:
    """Bytes as a short human size: ``812 KB``, ``6.0 MB``."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit in ("B", "KB") else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover - the loop always returns


def fmt_date(iso: str) -> str:
    """An ISO timestamp from a manifest as a local ``YYYY-MM-DD`` date (``""`` if unreadable)."""
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        return iso[:10]
    if dt.tzinfo is not None:
        dt = dt.astimezone()
    return dt.strftime("%Y-%m-%d")


def fmt_length(seconds: float) -> str:
    """A song length as ``M:SS`` (``H:MM:SS`` past an hour)."""
    total = round(max(0.0, seconds))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_take(name: str, start_s: float, duration_s: float) -> str:
    """A take's row in the stem table: ``take 1 · 0:12–0:31`` (its name and song-time span)."""
    return f"{name} · {fmt_length(start_s)}–{fmt_length(start_s + duration_s)}"


def fmt_db(gain: float) -> str:
    """A gain as compact dB text for the stem table: ``+0 dB``, ``-6 dB``, ``-inf``."""
    db = gain_to_db(gain)
    if db == float("-inf"):
        return "-inf"
    if abs(db) < 0.05:
        return "0 dB"
    return f"{db:+.0f} dB" if abs(db - round(db)) < 0.05 else f"{db:+.1f} dB"


def step_gain(gain: float, steps: int) -> float:
    """The gain ``steps`` volume steps (of :data:`VOLUME_STEP_DB`) away from ``gain``.

    Values snap to whole steps; below :data:`VOLUME_FLOOR_DB` the stem goes
    silent, and one step up from silence lands on the floor.
    """
    if steps == 0:
        return gain
    db = gain_to_db(gain)
    if db == float("-inf"):
        if steps < 0:
            return 0.0
        db = VOLUME_FLOOR_DB
        steps -= 1
    target = round(db / VOLUME_STEP_DB) * VOLUME_STEP_DB + steps * VOLUME_STEP_DB
    if target < VOLUME_FLOOR_DB - 1e-9:
        return 0.0
    return min(db_to_gain(target), VOLUME_MAX)


def volume_fraction(gain: float) -> float:
    """How full a stem's volume bar is (0–1), on a dB scale."""
    db = gain_to_db(gain)
    lo, hi = VOLUME_BAR_RANGE_DB
    if db == float("-inf"):
        return 0.0
    return min(1.0, max(0.0, (db - lo) / (hi - lo)))


def gain_at_fraction(frac: float) -> float:
    """The inverse of :func:`volume_fraction`, for clicking on a volume bar."""
    lo, hi = VOLUME_BAR_RANGE_DB
    if frac <= 0.0:
        return 0.0
    db = lo + min(1.0, frac) * (hi - lo)
    return min(db_to_gain(round(db)), VOLUME_MAX)


def peak_to_db(peak: float) -> float:
    """A linear peak as dBFS (``-inf`` for silence)."""
    return 20.0 * math.log10(peak) if peak > 1e-9 else float("-inf")


def meter_cells(level_db: float, width: int) -> int:
    """How many of ``width`` meter cells a level lights."""
    lo, hi = METER_RANGE_DB
    if width <= 0 or level_db == float("-inf") or level_db <= lo:
        return 0
    frac = min(1.0, (level_db - lo) / (hi - lo))
    return max(1, round(frac * width))


def meter_zone_edges(width: int) -> tuple[int, int]:
    """First cell index of the yellow and of the red zone of a ``width`` meter."""
    lo, hi = METER_RANGE_DB
    y = round((METER_YELLOW_DB - lo) / (hi - lo) * width)
    r = round((METER_RED_DB - lo) / (hi - lo) * width)
    return y, r


def fall(prev_db: float, new_db: float, dt: float) -> float:
    """Meter ballistics: jump up to a new peak, fall back at a fixed rate."""
    if new_db >= prev_db:
        return new_db
    fallen = prev_db - METER_FALL_DB_PER_S * dt
    if fallen <= METER_RANGE_DB[0]:
        return max(new_db, float("-inf"))
    return max(new_db, fallen)


#: Kinds of timeline cells, from :func:`timeline_cells`. ``PENDING``: not
#: separated yet (the song is still being separated while it plays).
PLAYED, AHEAD, LOOP_PLAYED, LOOP_AHEAD, HEAD, EDGE_A, EDGE_B, PENDING = range(8)


def _cell(t: float, duration: float, width: int) -> int:
    return min(width - 1, max(0, int(t / duration * width)))


def timeline_cells(
    width: int,
    duration: float,
    position: float,
    loop_a: float | None = None,
    loop_b: float | None = None,
    available: float | None = None,
) -> list[int]:
    """What each of ``width`` timeline cells shows.

    Cells before the playhead are ``PLAYED``, after it ``AHEAD`` (``LOOP_*``
    inside the loop region); the playhead cell is ``HEAD``; the loop's first
    and last cells are ``EDGE_A`` / ``EDGE_B`` (a lone edge is shown alone).
    The playhead wins over an edge. With ``available`` (seconds of audio
    ready so far), ``AHEAD`` cells that start at or after it are ``PENDING``.
    """
    if width <= 0:
        return []
    duration = max(duration, 1e-9)
    head = _cell(position, duration, width)
    a = _cell(loop_a, duration, width) if loop_a is not None else None
    b = _cell(max(loop_b - 1e-9, 0.0), duration, width) if loop_b is not None else None
    cells = []
    for i in range(width):
        inside = a is not None and b is not None and a <= i <= b
        if i < head:
            kind = LOOP_PLAYED if inside else PLAYED
        elif available is not None and i * duration / width >= available:
            kind = PENDING
        else:
            kind = LOOP_AHEAD if inside else AHEAD
        if i == a:
            kind = EDGE_A
        if i == b and (a is None or b > a):
            kind = EDGE_B
        if i == head:
            kind = HEAD
        cells.append(kind)
    return cells


def position_at_cell(x: int, width: int, duration: float) -> float:
    """The song time at the middle of timeline cell ``x`` (for clicks)."""
    if width <= 0:
        return 0.0
    x = min(max(x, 0), width - 1)
    return (x + 0.5) / width * duration
