"""The separation screen: progress of one file being separated; play now, background, cancel.

It shows a :class:`~stemtui.ui.seprun.SeparationRun` (the app's
:class:`~stemtui.ui.separating.Separations` calls
:meth:`SeparationScreen.show_run` as the worker reports) and asks the app,
through messages, to play the song now or to cancel. ``b`` just leaves:
the separation goes on and the library shows it as ``separating NN%``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from stemtui.ui.keymap import SEPARATION_KEYS, bindings
from stemtui.ui.seprun import SeparationRun
from stemtui.ui.widgets.separation_panel import SeparationPanel
from stemtui.ui.widgets.titlebar import TitleBar

#: Under the panel: what the three choices do.
HINT = (
    "p plays what is separated so far; the rest follows as it comes. "
    "b goes back to the library and keeps separating (the song shows as separating NN%). "
    "esc cancels: nothing is stored."
)


class SeparationScreen(Screen):
    """One separation in progress: ``p`` plays what is ready, ``b`` backgrounds, ``esc`` cancels.

    Its messages go straight to the app (the screen may be gone by the time
    they are handled); their ``control`` is the screen, id ``separation``.
    """

    BINDINGS = [*bindings(SEPARATION_KEYS), Binding("r", "retry", "retry", show=False)]

    composed: var[bool] = var(False)
    """Whether the widgets exist (a report before that is shown on mount)."""

    @dataclass
    class PlayNow(Message):
        """Open the player on the part separated so far."""

        screen: SeparationScreen
        run: SeparationRun

        @property
        def control(self) -> SeparationScreen:
            return self.screen

    @dataclass
    class CancelRequested(Message):
        """Stop the separation; nothing is stored."""

        screen: SeparationScreen
        run: SeparationRun

        @property
        def control(self) -> SeparationScreen:
            return self.screen

    def __init__(self, run: SeparationRun, on_retry: Callable[[SeparationRun], object] | None = None) -> None:
        super().__init__(id="separation")
        #: The separation shown (the app's, changed by its message handlers).
        self.run = run
        #: Starts the same separation again (``r`` once its worker died).
        self.on_retry = on_retry

    def compose(self) -> ComposeResult:
        yield TitleBar(id="sep-title")
        with Vertical(id="sep-box", classes="panel") as box:
            box.border_title = "separation"
            yield SeparationPanel(self.run.path, self.run.options.model, id="sep-panel")
            with Horizontal(classes="dialog-buttons", id="sep-buttons"):
                yield Button("Play now (p)", variant="primary", id="play-now", disabled=True)
                yield Button("Background (b)", id="background")
                yield Button("Cancel (esc)", variant="error", id="cancel")
        yield Static(HINT, id="sep-hint", markup=False)
        yield Static(id="spacer")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        for button in self.query(Button):
            button.can_focus = False  # keys go to the screen's bindings, whatever was clicked
        self.composed = True
        self.show_run()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        """Between two reports (a segment can take seconds), keep the clock and the ETA moving."""
        self.panel.since = self.run.since_report(time.monotonic())

    @property
    def panel(self) -> SeparationPanel:
        """The panel with the progress bar."""
        return self.query_one("#sep-panel", SeparationPanel)

    def show_run(self) -> None:
        """Show the run's latest state (the app calls this on every report)."""
        if not self.composed:
            return
        run = self.run
        panel = self.panel
        panel.phase = run.phase
        panel.playable_s = run.playable_s
        stored = run.phase == "done" and run.entry is not None
        panel.can_play = run.playable or stored
        if run.song is not None:
            panel.stems = tuple(run.song.names)
        if run.progress is not panel.progress:
            panel.progress = run.progress
        panel.since = run.since_report(time.monotonic())
        self.query_one("#play-now", Button).disabled = not (run.playable or stored)
        self.query_one("#cancel", Button).disabled = not run.active or run.phase == "cancelling"
        bar = self.query_one("#sep-title", TitleBar)
        bar.title = run.title
        bar.detail = f"— {run.artist}" if run.artist else ""
        bar.note = f"{run.label()}"

    # -- actions -----------------------------------------------------------------------
    def action_play_now(self) -> None:
        if self.run.playable or (self.run.phase == "done" and self.run.entry is not None):
            self.app.post_message(self.PlayNow(self, self.run))
        elif self.run.active:
            self.notify("play now opens once the first chunk is separated", timeout=3)

    def action_background(self) -> None:
        if self.run.active:
            self.notify(f"{self.run.title}: separating in the background", timeout=3)
        self.dismiss()

    def action_cancel(self) -> None:
        if self.run.active and self.run.phase != "cancelling":
            self.app.post_message(self.CancelRequested(self, self.run))
        self.dismiss()

    def action_retry(self) -> None:
        if self.run.phase == "failed" and self.on_retry is not None:
            self.on_retry(self.run)

    @on(Button.Pressed, "#play-now")
    def _play_now_pressed(self) -> None:
        self.action_play_now()

    @on(Button.Pressed, "#background")
    def _background_pressed(self) -> None:
        self.action_background()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
