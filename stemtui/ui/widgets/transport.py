"""The transport: play state, position / duration, loop, and the timeline bar.

Every widget here keeps typed reactives that the player screen sets from
its 20 Hz poll; each repaints only when the text or the cells it draws
change (the clock at 0.1 s, the timeline when the playhead changes cell).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from stemtui.core.timefmt import format_time
from stemtui.ui.fmt import (
    AHEAD,
    EDGE_A,
    EDGE_B,
    HEAD,
    LOOP_AHEAD,
    LOOP_PLAYED,
    PENDING,
    PLAYED,
    position_at_cell,
    timeline_cells,
)

#: What the transport shows for each state, and the style class it uses.
STATES = {
    "playing": ("▶", "playing"),
    "paused": ("▮▮", "paused"),
    "ended": ("■", "at the end"),
    "loading": ("…", "loading"),
}


class TransportInfo(Widget):
    """One line: ``▶ playing  0:12.3 / 0:31.2`` on the left, the loop on the right."""

    COMPONENT_CLASSES = {
        "transport--state",
        "transport--time",
        "transport--dim",
        "transport--loop-on",
        "transport--loop-off",
        "transport--edge",
    }

    state: reactive[str] = reactive("loading")
    """``playing``, ``paused``, ``ended`` or ``loading`` (waiting for audio)."""
    position: reactive[float] = reactive(0.0, repaint=False)
    """Playhead in seconds; repaints when the tenth of a second changes."""
    duration: reactive[float] = reactive(0.0)
    """Song length in seconds."""
    loop_a: reactive[float | None] = reactive(None)
    """Loop start (A) in seconds, or ``None``."""
    loop_b: reactive[float | None] = reactive(None)
    """Loop end (B) in seconds, or ``None``."""
    loop_on: reactive[bool] = reactive(False)
    """Whether the loop is playing."""
    active_edge: reactive[str] = reactive("b")
    """The loop edge that ``<``/``>`` move (``a`` or ``b``)."""

    def watch_position(self, old: float, new: float) -> None:
        if format_time(old) != format_time(new):
            self.refresh()

    def render(self) -> Text:
        icon, word = STATES.get(self.state, ("?", self.state))
        style = self.get_component_rich_style
        text = Text()
        text.append(f" {icon} {word:<10}", style("transport--state"))
        text.append(f" {format_time(self.position)}", style("transport--time"))
        text.append(f" / {format_time(self.duration)}", style("transport--dim"))
        if self.loop_a is not None or self.loop_b is not None:
            right = self._loop_text()
            gap = self.content_size.width - text.cell_len - right.cell_len
            if gap >= 2:
                text.append(" " * gap)
                text.append_text(right)
        return text

    def _loop_text(self) -> Text:
        """``loop A 0:08.000 → B 0:16.000 on``; the edge ``<``/``>`` move is underlined."""
        style = self.get_component_rich_style
        body = style("transport--loop-on" if self.loop_on else "transport--loop-off")
        text = Text()
        text.append("loop ", style("transport--dim"))
        for name, value in (("a", self.loop_a), ("b", self.loop_b)):
            if name == "b":
                text.append(" → ", body)
            label = f"{name.upper()} {format_time(value, 3) if value is not None else '…'}"
            text.append(label, body + style("transport--edge") if name == self.active_edge else body)
        text.append("  on " if self.loop_on else "  off ", body)
        return text


class Timeline(Widget):
    """The song as a bar: played part, playhead ``●``, loop region ``[…]`` highlighted.

    Clicking on it seeks there.
    """

    COMPONENT_CLASSES = {
        "timeline--played",
        "timeline--ahead",
        "timeline--loop-played",
        "timeline--loop-ahead",
        "timeline--head",
        "timeline--edge",
        "timeline--pending",
    }

    position: reactive[float] = reactive(0.0, repaint=False)
    """Playhead in seconds; repaints only when it moves to another cell."""
    available: reactive[float | None] = reactive(None, repaint=False)
    """Seconds of audio separated so far while the song is still separating; ``None`` when all of it is."""
    duration: reactive[float] = reactive(1.0)
    """Song length in seconds."""
    loop_a: reactive[float | None] = reactive(None)
    """Loop start in seconds, or ``None``."""
    loop_b: reactive[float | None] = reactive(None)
    """Loop end in seconds, or ``None``."""

    @dataclass
    class SeekRequested(Message):
        """The timeline was clicked: seek to ``seconds``."""

        timeline: Timeline
        seconds: float

        @property
        def control(self) -> Timeline:
            return self.timeline

    GLYPHS = {
        PLAYED: "━",
        AHEAD: "─",
        LOOP_PLAYED: "━",
        LOOP_AHEAD: "─",
        HEAD: "●",
        EDGE_A: "[",
        EDGE_B: "]",
        PENDING: "╌",
    }
    STYLES = {
        PLAYED: "timeline--played",
        AHEAD: "timeline--ahead",
        LOOP_PLAYED: "timeline--loop-played",
        LOOP_AHEAD: "timeline--loop-ahead",
        HEAD: "timeline--head",
        EDGE_A: "timeline--edge",
        EDGE_B: "timeline--edge",
        PENDING: "timeline--pending",
    }

    def _cells(self, position: float) -> list[int]:
        return timeline_cells(
            self.content_size.width, self.duration, position, self.loop_a, self.loop_b, self.available
        )

    def _cell_of(self, seconds: float | None) -> int:
        return -1 if seconds is None else int(seconds / max(self.duration, 1e-9) * self.content_size.width)

    def watch_position(self, old: float, new: float) -> None:
        if self.content_size.width and self._cell_of(old) != self._cell_of(new):
            self.refresh()

    def watch_available(self, old: float | None, new: float | None) -> None:
        if self.content_size.width and self._cell_of(old) != self._cell_of(new):
            self.refresh()

    def render(self) -> Text:
        text = Text()
        cells = self._cells(self.position)
        i = 0
        while i < len(cells):
            j = i
            while j < len(cells) and cells[j] == cells[i]:
                j += 1
            kind = cells[i]
            text.append(self.GLYPHS[kind] * (j - i), self.get_component_rich_style(self.STYLES[kind]))
            i = j
        return text

    def on_click(self, event: events.Click) -> None:
        event.stop()
        seconds = position_at_cell(event.x, self.content_size.width, self.duration)
        self.post_message(self.SeekRequested(self, seconds))


#: Candidate spacings of the ruler's labels, in seconds.
RULER_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800)


def ruler_labels(width: int, duration: float, min_gap: int = 9) -> list[tuple[int, str]]:
    """``(column, label)`` pairs for a time ruler under a ``width``-cell timeline."""
    if width <= 0 or duration <= 0:
        return []
    step = next((s for s in RULER_STEPS if s / duration * width >= min_gap), RULER_STEPS[-1])
    out, t = [], 0
    while t <= duration:
        col = int(t / duration * width)
        label = format_time(t, 0)
        if col + len(label) <= width:
            out.append((col, label))
        t += step
    return out


class TimeRuler(Widget):
    """Times under the timeline (``0:00    0:05    0:10``), so loop edges can be read off."""

    COMPONENT_CLASSES = {"ruler--label"}

    duration: reactive[float] = reactive(0.0)
    """Song length in seconds."""

    def render(self) -> Text:
        width = self.content_size.width
        line = [" "] * width
        for col, label in ruler_labels(width, self.duration):
            line[col : col + len(label)] = list(label)
        return Text("".join(line), style=self.get_component_rich_style("ruler--label"))


class StatusLine(Widget):
    """Device, sample rate, underruns and loop state; a notice (no sound) in warning colour."""

    COMPONENT_CLASSES = {"status--dim", "status--value", "status--warn", "status--busy"}

    device: reactive[str] = reactive("")
    """Output device name (``null (no sound)`` without one)."""
    sample_rate: reactive[int] = reactive(0)
    """Output sample rate in Hz."""
    underruns: reactive[int] = reactive(0)
    """Output underruns since the song was loaded."""
    loop_on: reactive[bool] = reactive(False)
    """Whether the loop is playing."""
    notice: reactive[str] = reactive("")
    """Why there is no sound, or empty."""
    separating: reactive[str] = reactive("")
    """``separating 42%`` while the song is still being separated, else empty."""
    practice: reactive[str] = reactive("")
    """Tempo, transpose, BPM, click and count-in when any is set, else empty."""
    trainer: reactive[str] = reactive("")
    """The speed trainer, ``pass 3/12 · 80 %``, while it runs; else empty."""

    def render(self) -> Text:
        dim = self.get_component_rich_style("status--dim")
        val = self.get_component_rich_style("status--value")
        warn = self.get_component_rich_style("status--warn")
        text = Text()
        text.append(" out ", dim)
        text.append(self.device or "…", warn if self.notice else val)
        # At 80 columns the practice settings need the room more than the rate.
        if self.sample_rate and not ((self.practice or self.trainer) and self.size.width < 100):
            text.append(" · ", dim)
            text.append(f"{self.sample_rate} Hz", val)
        text.append(" · underruns ", dim)
        text.append(str(self.underruns), warn if self.underruns else val)
        text.append(" · loop ", dim)
        text.append("on" if self.loop_on else "off", val)
        if self.trainer:
            text.append(" · ", dim)
            text.append(self.trainer, val)
        if self.practice:
            text.append(" · ", dim)
            text.append(self.practice, val)
        if self.separating:
            text.append(" · ", dim)
            text.append(self.separating, self.get_component_rich_style("status--busy"))
        if self.notice:
            text.append(" · ", dim)
            text.append(self.notice, warn)
        return text
