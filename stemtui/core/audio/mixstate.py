"""The mixer's shared state: immutable records the UI side replaces whole.

The control side (UI thread, tempo thread) never edits one of these in place:
it builds a new record and stores it in one attribute. The audio thread reads
that attribute once per block and then only the record's fields, so it always
sees one consistent command. Reading a field of a ``NamedTuple`` allocates
nothing; building one happens only on the control side.

Commands the audio thread must act on once (:class:`Seek`, :class:`Switch`)
carry a version number: the audio thread remembers the last version it
applied and acts when a newer one appears.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from stemtui.core.audio.source import Source


class Seek(NamedTuple):
    """Jump to ``frame`` of the song itself (the identity source)."""

    version: int
    frame: int


class Switch(NamedTuple):
    """Play ``source`` from now on (the tempo code's command).

    ``at < 0``: jump to the source's ``frame`` as soon as it has audio there
    (a seek). ``at >= 0``: take over when the playhead reaches song frame
    ``at``, at the same song time (a tempo change; ``frame`` is then unused).
    """

    version: int
    source: Source
    frame: int
    at: int


class Loop(NamedTuple):
    """The A–B loop in song frames; ``end == 0`` means no loop points."""

    start: int
    end: int
    enabled: bool


NO_LOOP = Loop(0, 0, False)


class Click(NamedTuple):
    """The metronome: a click every ``period`` song frames from ``offset``.

    ``normal`` and ``accent`` are ``(n, 2)`` float32 samples with the click
    gain applied; every ``beats_per_bar``-th beat gets the accent.
    """

    period: float
    offset: float
    beats_per_bar: int
    normal: np.ndarray
    accent: np.ndarray
    on: bool


class CountIn(NamedTuple):
    """The count-in clicks, ``(n, 2)`` float32, played before playback and each loop restart."""

    audio: np.ndarray
    on: bool


#: The kinds of :class:`Range`.
MUTE, SOLO = "mute", "solo"


class Range(NamedTuple):
    """A "drop-in": mute or solo stem ``stem`` over song frames ``[start, end)`` only.

    ``kind`` is :data:`MUTE` (the stem is silent inside) or :data:`SOLO`
    (inside, only the stems soloed there or for the whole song are heard).
    """

    stem: int
    start: int
    end: int
    kind: str


class RangeGains(NamedTuple):
    """The gain schedule the ranges make, in song frames (built on the control side).

    Each stem's gain is piecewise linear in song time: ``gains[j]`` at song
    frame ``points[j]``, linear up to ``points[j + 1]`` (``flat[j]`` when it
    stays put; ``inv_span[j]`` is ``1 / (points[j + 1] - points[j])``),
    constant after the last point. ``points[0]`` is 0. The gains include
    volumes, master, mutes and solos; ``rows`` holds the rows of ``gains``
    as views, for the audio thread (indexing a tuple makes no array view).
    """

    ranges: tuple[Range, ...]
    points: tuple[int, ...]
    gains: np.ndarray
    rows: tuple[np.ndarray, ...]
    inv_span: tuple[float, ...]
    flat: tuple[bool, ...]


class NextPass(NamedTuple):
    """The speed trainer's next pass (the tempo code's command; see ``core/tempo/trainplay``).

    At the loop wrap that makes the published wrap count reach ``at_wrap`` or
    more, the loop restarts from ``source`` (a run of the loop at the next
    tempo, or the song itself at 100 %) if it has 2 s ready from the loop
    start; else the wrap plays the current tempo once more and counts a late
    pass. ``count_in`` (at the new tempo) then replaces the mixer's count-in.
    Applied once per ``version``.
    """

    version: int
    source: Source
    at_wrap: int
    count_in: CountIn | None
