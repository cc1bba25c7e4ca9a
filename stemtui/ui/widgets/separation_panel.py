"""The separation panel: file, model, device, a progress bar with percent and ETA, audio done of total.

It shows whatever :class:`~stemtui.core.separation.splitter.Progress` it is fed
(:attr:`SeparationPanel.progress`), so a live job and a fixed report (the
snapshot tests, the screenshots) render the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Label, ProgressBar, Static

from stemtui.ui.fmt import fmt_length
from stemtui.ui.rows import tilde
from stemtui.ui.seprun import PHASE_TEXT

if TYPE_CHECKING:
    from stemtui.core.separation.splitter import Progress

#: Width of the labels on the left of each line.
LABEL_WIDTH = 10


def line(label: str, *parts: tuple[str, str]) -> Text:
    """``label     value…``: a dim label, then ``(text, style)`` parts."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(label.ljust(LABEL_WIDTH), style="dim")
    for part, style in parts:
        text.append(part, style=style)
    return text


def eta_text(progress: Progress | None, since: float = 0.0) -> str:
    """``ETA 0:52`` (``since`` seconds after the report), ``ETA …`` before the first segment is done."""
    if progress is None or progress.eta_s is None:
        return "ETA …"
    return f"ETA {fmt_length(max(0.0, progress.eta_s - since))}"


class SeparationPanel(Vertical):
    """Everything about one running separation, fed a ``Progress`` at a time."""

    progress: reactive[Progress | None] = reactive(None, always_update=True, init=False)
    """The latest report; ``None`` until the model is loaded (the bar then pulses)."""
    phase: reactive[str] = reactive("starting", init=False)
    """``starting``, ``loading``, ``separating``, ``storing``, ``cancelling``…"""
    playable_s: reactive[float] = reactive(0.0, init=False)
    """Seconds from the start that can be played already."""
    can_play: reactive[bool] = reactive(False, init=False)
    """Whether "play now" is offered."""
    stems: reactive[tuple[str, ...]] = reactive((), init=False)
    """The stems the model makes, once it is loaded."""
    since: reactive[float] = reactive(0.0, init=False)
    """Seconds since :attr:`progress` was reported: the elapsed time and the ETA move on by it."""

    def __init__(self, source: Path, model: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source = Path(source)
        self.model = model
        self._composed = False

    def compose(self) -> ComposeResult:
        yield Static(id="sep-file", markup=False)
        yield Static(id="sep-model", markup=False)
        yield Static(id="sep-device", markup=False)
        yield Static(id="sep-stems", markup=False)
        with Horizontal(id="sep-bar-row"):
            yield ProgressBar(total=None, show_eta=False, id="sep-bar")
            yield Label("", id="sep-eta", markup=False)
        yield Static(id="sep-audio", markup=False)
        yield Static(id="sep-status", markup=False)

    def on_mount(self) -> None:
        self._composed = True
        self.show()

    def watch_progress(self) -> None:
        self.show()

    def watch_phase(self) -> None:
        self.show()

    def watch_playable_s(self) -> None:
        self.show()

    def watch_can_play(self) -> None:
        self.show()

    def watch_stems(self) -> None:
        self.show()

    def watch_since(self) -> None:
        self.show()

    def show(self) -> None:
        """Repaint every line from the reactives."""
        if not self._composed:
            return
        p = self.progress
        self.query_one("#sep-file", Static).update(line("file", (tilde(self.source), "bold")))
        self.query_one("#sep-model", Static).update(line("model", (self.model, "bold")))
        device = (
            line("device", (p.device, "bold"), (f" · {p.precision}", ""))
            if p is not None
            else line("device", ("…", "dim"))
        )
        self.query_one("#sep-device", Static).update(device)
        stems = " · ".join(self.stems)
        self.query_one("#sep-stems", Static).update(line("stems", (stems, "cyan") if stems else ("…", "dim")))
        bar = self.query_one("#sep-bar", ProgressBar)
        if p is None:
            bar.update(total=None)
        else:
            bar.update(total=100, progress=round(p.fraction * 100, 1))
        self.query_one("#sep-eta", Label).update(eta_text(p, self.since) if self.phase == "separating" else "")
        if p is None:
            audio = line("audio", ("…", "dim"))
        else:
            audio = line(
                "audio",
                (f"{fmt_length(p.audio_done_s)} of {fmt_length(p.audio_total_s)}", "bold"),
                (f" separated · {fmt_length(p.elapsed_s + self.since)} elapsed", ""),
            )
        self.query_one("#sep-audio", Static).update(audio)
        self.query_one("#sep-status", Static).update(self._status())

    def _status(self) -> Text:
        what = PHASE_TEXT.get(self.phase, self.phase)
        if self.phase == "done" and self.can_play:
            return line("status", ("stored · ", ""), ("press p to play", "bold cyan"))
        if self.phase != "separating":
            return line("status", (what, "italic"))
        if self.can_play:
            return line("status", (f"{fmt_length(self.playable_s)} ready · ", ""), ("press p to play now", "bold cyan"))
        return line("status", ("play now once the first chunk is separated", "dim"))
