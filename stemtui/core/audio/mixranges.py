"""Per-stem mute and solo ranges ("drop-ins"): the gain schedule and its callback half.

A :class:`~stemtui.core.audio.mixstate.Range` mutes or solos one stem over
``[start, end)`` song frames. :func:`build_schedule` (control side) turns the
ranges and the base mix into a :class:`~stemtui.core.audio.mixstate.RangeGains`
record: each stem's gain as a piecewise-linear function of song time.

Every edge ramps over ``ramp`` song frames (the mixer's crossfade), always
*outside* the span where a stem is silenced: a stem going quiet fades out
over the ``ramp`` frames before the edge, and one coming back fades in over
the ``ramp`` frames after it. So a muted range is exactly silent on
``[start, end)``, and the mix outside differs from the full mix only within
``ramp`` frames of an edge. Formally, a stem's multiplier at song time ``t``
is ``1 - |[t - ramp, t) ∩ Z'| / ramp``, where ``Z'`` is the set it is silent
on with every interval ``[a, b)`` widened to ``[a - ramp, b - 1)``: a
continuous function for any set of ranges, however close their edges.

:class:`RangeMix` is the audio-thread half :class:`~stemtui.core.audio.mixcore.MixCore`
inherits: :meth:`RangeMix._mix_ranges` mixes one segment through the schedule,
split where a breakpoint falls inside it, a linear gain ramp (two mixes and a
crossfade) where the gains move; a segment with one gain vector (nearly every
block) is one matrix product, as without ranges. It works in any source's frames: a
breakpoint's run frame is ``(point - src.start) / src.rate``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from stemtui.core.audio.mixstate import MUTE, SOLO, Range, RangeGains

#: Far beyond any song, for "before the first edge" and "after the last one".
_FAR = 1 << 50


def check_range(r: Range, stems: int, frames: int) -> Range:
    """``r`` with plain ints, or ``ValueError`` saying what is wrong with it."""
    stem, start, end = int(r.stem), int(r.start), int(r.end)
    if not 0 <= stem < stems:
        raise ValueError(f"no stem {stem}")
    if r.kind not in (MUTE, SOLO):
        raise ValueError(f"a range is {MUTE!r} or {SOLO!r}, not {r.kind!r}")
    if not 0 <= start < end <= frames:
        raise ValueError(f"range {start}-{end} is empty or outside the song (0-{frames})")
    return Range(stem, start, end, r.kind)


def _silent_spans(ranges: Sequence[Range], mute: np.ndarray, solo: np.ndarray) -> list[list[list[int]]]:
    """Per stem, the merged ``[a, b)`` spans of song frames where it is not heard."""
    s = len(mute)
    edges = sorted({r.start for r in ranges} | {r.end for r in ranges})
    bounds = [-_FAR, *edges, _FAR]
    spans: list[list[list[int]]] = [[] for _ in range(s)]
    for lo, hi in pairwise(bounds):
        m, so = mute.copy(), solo.copy()
        for r in ranges:
            if r.start <= lo and hi <= r.end:
                (m if r.kind == MUTE else so)[r.stem] = True
        heard = ~m & (so if so.any() else True)
        for i in np.flatnonzero(~heard):
            if spans[i] and spans[i][-1][1] == lo:
                spans[i][-1][1] = hi
            else:
                spans[i].append([lo, hi])
    return spans


def _widened(spans: list[list[int]], ramp: int) -> list[tuple[int, int]]:
    """``[a, b)`` → ``[a - ramp, b - 1)``, overlaps merged (see the module docstring)."""
    out: list[list[int]] = []
    for a, b in spans:
        lo, hi = a - ramp, b - 1
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(a, b) for a, b in out]


def build_schedule(
    ranges: Sequence[Range],
    volume: np.ndarray,
    mute: np.ndarray,
    solo: np.ndarray,
    master: float,
    frames: int,
    ramp: int,
) -> RangeGains | None:
    """The gain schedule of ``ranges`` over the base mix, or ``None`` without ranges (control side).

    Args:
        ranges: Checked ranges (:func:`check_range`).
        volume, mute, solo: The per-stem base mix.
        master: Master volume.
        frames: Song length in frames.
        ramp: Song frames each edge ramps over (at least 1).
    """
    if not ranges:
        return None
    ramp = max(1, int(ramp))
    s = len(volume)
    zones = [_widened(sp, ramp) for sp in _silent_spans(ranges, np.asarray(mute, bool), np.asarray(solo, bool))]
    pts = {0, frames}
    for zone in zones:
        for a, b in zone:
            pts.update(p for p in (a, a + ramp, b, b + ramp) if 0 < p < frames)
    points = sorted(pts)
    mult = np.ones((len(points), s), dtype=np.float64)
    for i, zone in enumerate(zones):
        for j, t in enumerate(points):
            covered = sum(max(0, min(t, b) - max(t - ramp, a)) for a, b in zone)
            mult[j, i] = 1.0 - covered / ramp
    gains = (mult * (np.asarray(volume, np.float64) * float(master))).astype(np.float32)
    inv_span = (*(1.0 / (b - a) for a, b in pairwise(points)), 0.0)
    flat = (*(bool(np.array_equal(gains[j], gains[j + 1])) for j in range(len(points) - 1)), True)
    return RangeGains(tuple(ranges), tuple(points), gains, tuple(gains), inv_span, flat)


class RangeMix:
    """The audio-thread half of the ranges, mixed into :class:`~stemtui.core.audio.mixcore.MixCore`."""

    _s: int

    def _init_ranges(self, block_max: int) -> None:
        """The control record and the callback's buffers, allocated once."""
        #: The schedule the control side published (``None``: no ranges); swapped whole.
        self._ranges: RangeGains | None = None
        # The schedules the audio thread mixes with: before and after a gain
        # change (a ramp renders the block with both), and the one in use now.
        self._rg_cur: RangeGains | None = None
        self._rg_new: RangeGains | None = None
        self._rg_use: RangeGains | None = None
        self._rbuf = np.zeros((block_max, 2), dtype=np.float32)
        self._rramp = np.zeros((block_max, 2), dtype=np.float32)
        # k for k = 0..block_max-1, per channel (a (F, 1) view would make numpy allocate).
        self._rbase = np.repeat(np.arange(block_max, dtype=np.float32)[:, None], 2, axis=1)

    def _mix_segment(self, seg: np.ndarray, block: np.ndarray, g: np.ndarray, src, pos: int) -> np.ndarray:
        """Mix ``block`` into ``seg`` with gains ``g``, or through the ranges in use; the gains used."""
        rg = self._rg_use
        if rg is None:
            np.matmul(g, block.reshape(self._s, -1), out=seg.reshape(-1))
            return g
        return self._mix_ranges(seg, block, rg, src, pos)

    def _mix_ranges(self, seg: np.ndarray, block: np.ndarray, rg: RangeGains, src, pos: int) -> np.ndarray:
        """Mix ``block`` (source frames ``pos…``) into ``seg`` through ``rg``; the gains at its start.

        Allocates no buffers: views, BLAS with ``out=`` and ufuncs with ``out=``.
        """
        n = seg.shape[0]
        start, rate = src.start, src.rate
        pts, rows, flat = rg.points, rg.rows, rg.flat
        last = len(pts) - 1
        t = start + pos * rate
        j = bisect_right(pts, t) - 1  # pts[j] <= t < pts[j + 1] (pts[0] is 0 and t >= 0)
        e = n if j >= last else min(n, max(1, math.ceil((pts[j + 1] - start) / rate) - pos))
        gm = rows[j]
        if e == n and flat[j]:  # the common case: one gain vector for the whole segment
            np.matmul(gm, block.reshape(self._s, -1), out=seg.reshape(-1))
            return gm
        o = 0
        while True:
            sub = seg[o:e]
            sb = block[:, o:e].reshape(self._s, -1)
            if flat[j]:
                np.matmul(rows[j], sb, out=sub.reshape(-1))
            else:
                # The gains move linearly from rows[j] at pts[j] to rows[j + 1] at
                # pts[j + 1]: mix with both and crossfade by the song time's place
                # between them, frame by frame (mixing is linear in the gains).
                m = e - o
                b, r = self._rbuf[:m], self._rramp[:m]
                np.matmul(rows[j], sb, out=sub.reshape(-1))
                np.matmul(rows[j + 1], sb, out=b.reshape(-1))
                np.subtract(b, sub, out=b)
                inv = rg.inv_span[j]
                np.multiply(self._rbase[:m], rate * inv, out=r)
                np.add(r, (t - pts[j]) * inv, out=r)
                np.multiply(b, r, out=b)
                np.add(sub, b, out=sub)
            o = e
            if o >= n:
                return gm
            t = start + (pos + o) * rate
            j = bisect_right(pts, t) - 1
            e = n if j >= last else min(n, max(o + 1, math.ceil((pts[j + 1] - start) / rate) - pos))
