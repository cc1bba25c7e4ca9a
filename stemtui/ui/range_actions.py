"""The player's drop-in keys: mute (``M``) or solo (``S``) the selected stem over the loop only.

:class:`RangeControl` is a helper the player's
:class:`~stemtui.ui.practice_actions.PracticeControl` owns (the keys are
``practice('range', 'mute')``). A press sets a range over the current A–B
loop points on the selected stem; another press on a stem that has that
exact range removes it. The range goes to :meth:`Mixer.toggle_range
<stemtui.core.audio.mixer.Mixer.toggle_range>` (heard within one block, its
edges ramped in the mixer), the stem table shows it, and the practice keeper
saves it. :func:`range_marks` is what the stem table shows per stem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from stemtui.core.audio.mixstate import Range
from stemtui.core.timefmt import format_time

if TYPE_CHECKING:
    from stemtui.core.audio.mixer import Mixer
    from stemtui.ui.widgets.stem_table import StemTable

#: The mark of a mute range and of a solo range in the stem table.
MARK = {"mute": "◐", "solo": "◑"}


def describe_range(r: Range, sample_rate: int) -> str:
    """``◐ 0:30–0:45``: a range's kind and span (whole seconds unless it needs tenths)."""

    def t(frames: int) -> str:
        s = frames / sample_rate
        return format_time(s, 0 if abs(s - round(s)) < 0.05 else 1)

    return f"{MARK[r.kind]} {t(r.start)}–{t(r.end)}"


def range_marks(ranges: tuple[Range, ...], stems: int, sample_rate: int) -> list[str]:
    """Per stem, what the table shows: its first range and how many more (``◐ 0:30–0:45 +2``), or ``""``."""
    marks = []
    for i in range(stems):
        mine = sorted((r for r in ranges if r.stem == i), key=lambda r: (r.start, r.end))
        more = f" +{len(mine) - 1}" if len(mine) > 1 else ""
        marks.append(describe_range(mine[0], sample_rate) + more if mine else "")
    return marks


class RangeControl:
    """``M`` and ``S``: a mute or solo range over the loop on the selected stem.

    Args:
        table: The stem table (its selected row; it shows the ranges).
        notify: Shows one line.
        changed: Called after a change (saves the state).
    """

    def __init__(
        self, table: Callable[[], StemTable], notify: Callable[..., None], changed: Callable[[], None]
    ) -> None:
        self.table = table
        self.notify = notify
        self.changed = changed
        #: The mixer once the song is loaded.
        self.mixer: Mixer | None = None

    def toggle(self, kind: str) -> None:
        """Add a ``kind`` range over the loop points on the selected stem, or remove that one."""
        m = self.mixer
        table = self.table()
        stem = table.selected
        if m is None or not 0 <= stem < m.stem_count:
            return
        a, b, _ = m.loop
        if b <= a:
            self.notify(f"set a loop first ([ and ]): {kind[0].upper()} {kind}s the stem over it only", timeout=3)
            return
        on = m.toggle_range(stem, a, b, kind)
        span = describe_range(Range(stem, a, b, kind), m.sample_rate)
        self.notify(f"{m.song.label(m.song.names[stem])}: {kind} {span}{'' if on else ' removed'}", timeout=2)
        table.show_ranges(range_marks(m.ranges, m.stem_count, m.sample_rate))
        self.changed()
