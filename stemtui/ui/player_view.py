"""What the player shows: its widgets, set from the mixer's state.

:class:`PlayerView` is a helper the player screen makes in ``on_mount``
(once its widgets exist). It only writes the widgets' typed reactives,
which repaint only what changed; deciding what changed is the screen's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from textual.containers import Vertical

from stemtui.ui.fmt import fmt_length
from stemtui.ui.range_actions import range_marks
from stemtui.ui.widgets.stem_table import StemTable
from stemtui.ui.widgets.titlebar import TitleBar
from stemtui.ui.widgets.transport import StatusLine, Timeline, TimeRuler, TransportInfo

if TYPE_CHECKING:
    from textual.screen import Screen

    from stemtui.core.audio.engine import Engine
    from stemtui.core.audio.mixer import Mixer
    from stemtui.core.library.store import Entry
    from stemtui.ui.loop import LoopEditor
    from stemtui.ui.seprun import SeparationRun


def transport_state(m: Mixer) -> str:
    """``paused``, ``ended``, ``loading`` (waiting for audio) or ``playing``."""
    if not m.playing:
        return "paused"
    if m.ended:
        return "ended"
    if m.starved:
        return "loading"
    return "playing"


class PlayerView:
    """The player screen's widgets (found by id on ``screen``).

    Attributes:
        table: The stems (mute, solo, volume, meters).
        info: Transport state, position, loop edges.
        timeline: The song's timeline (playhead, loop, what is separated).
        status: Device, underruns, loop, practice and separation notes.
        transport: The transport panel (its border shows a saved loop's name).
    """

    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self.table = screen.query_one("#stems", StemTable)
        self.info = screen.query_one("#transport-info", TransportInfo)
        self.timeline = screen.query_one("#timeline", Timeline)
        self.status = screen.query_one("#status", StatusLine)
        self.transport = screen.query_one("#transport-panel", Vertical)

    def show_song(self, entry: Entry) -> None:
        """Title, artist, stem count and length (shown at once, before loading)."""
        bar = self.screen.query_one("#song-title", TitleBar)
        bar.title = entry.title
        bar.detail = f"— {entry.artist}" if entry.artist else ""
        bar.note = f"{len(entry.stems)} stems · {fmt_length(entry.duration)}"
        self.info.duration = self.timeline.duration = entry.duration
        self.screen.query_one("#ruler", TimeRuler).duration = entry.duration

    def show_engine(self, engine: Engine) -> None:
        """The output device, its rate, and why there is no sound (if so)."""
        self.status.device = engine.device_name
        self.status.sample_rate = engine.sample_rate
        if engine.notice:
            self.status.notice = engine.notice

    def show_playhead(self, m: Mixer, position_s: float, dt: float, underruns: int) -> None:
        """Transport state, playhead, meters (``dt`` s since the last call) and underruns."""
        state = transport_state(m)
        self.info.state = state
        self.info.position = self.timeline.position = position_s
        peaks = m.take_peaks()
        if state == "playing":
            with np.errstate(divide="ignore"):
                self.table.show_levels(20.0 * np.log10(np.maximum(peaks, 1e-9)), dt)
        else:
            self.table.show_levels(None, dt)
        self.status.underruns = underruns

    def show_separation(self, run: SeparationRun, m: Mixer) -> None:
        """``separating NN%`` in the status line, and how far the timeline is separated."""
        self.status.separating = run.label() if run.active or run.phase == "failed" else ""
        song = m.song
        self.timeline.available = None if song.complete.is_set() else song.available / song.sample_rate

    def show_mix(self, m: Mixer) -> None:
        """Mute, solo, volume and audibility of every stem, and their mute/solo ranges."""
        self.table.sync(m.mute, m.solo, m.volume, [m.audible(i) for i in range(m.stem_count)])
        self.table.show_ranges(range_marks(m.ranges, m.stem_count, m.sample_rate))

    def show_loop(self, lp: LoopEditor) -> None:
        """The loop's edges, whether it is on, the active edge and a saved loop's name."""
        self.transport.border_subtitle = lp.label()  # a recalled loop's name
        a, b = lp.seconds()
        self.timeline.loop_a, self.timeline.loop_b = a, b
        self.info.loop_on = self.status.loop_on = lp.enabled
        self.info.active_edge = lp.edge
        self.info.loop_a, self.info.loop_b = a, b

    def show_practice(self, text: str) -> None:
        """The practice part of the status line (``85% · -2 st · click``)."""
        self.status.practice = text
