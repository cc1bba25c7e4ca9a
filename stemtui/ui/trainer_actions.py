"""The player's speed trainer key: ``T`` types a plan such as ``70:5:2:100``; ``T`` again stops it.

:class:`TrainerControl` is a helper the
:class:`~stemtui.ui.screens.player.PlayerScreen` owns; the screen's
``trainer(name)`` action delegates to it. The plan is parsed by
:func:`~stemtui.core.tempo.trainer.parse_trainer` (a typo is a notification
and the prompt stays open) and run by :meth:`Mixer.start_trainer`: each next
tempo is rendered ahead and taken at the loop wrap. The status line shows
``pass 3/14 · 80 %`` from the trainer's status, polled with the playhead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from stemtui.core.errors import BadInput
from stemtui.core.tempo.trainer import parse_trainer
from stemtui.ui.screens.dialogs import LoopInputScreen
from stemtui.ui.widgets.transport import StatusLine

if TYPE_CHECKING:
    from textual.screen import Screen

    from stemtui.core.audio.mixer import Mixer

#: What the prompt offers first: 70 % up to 100 % in 5 % steps, every 2 passes.
DEFAULT_SPEC = "70:5:2:100"


class TrainerInputScreen(LoopInputScreen):
    """The one-line prompt for a trainer plan (``START:STEP:EVERY[:END]``, percent)."""

    LABEL, PLACEHOLDER, INPUT_ID = "trainer ", "70:5:2:100", "trainer-input"
    HINT = " START:STEP:EVERY[:END] % · enter starts · esc cancels"


class TrainerControl:
    """Starts, stops and shows the speed trainer of one player.

    Args:
        screen: The player screen (its mixer, status line, app and notifications).
        tempo_changed: Called when the trainer changed the tempo heard (the practice part shows it).
    """

    def __init__(self, screen: Screen, tempo_changed: Callable[[], None]) -> None:
        self.screen = screen
        self.tempo_changed = tempo_changed
        self.last = DEFAULT_SPEC
        self._shown = ""
        self._tempo = 0.0
        self._done_told = False

    @property
    def mixer(self) -> Mixer | None:
        return getattr(self.screen, "mixer", None)

    @property
    def running(self) -> bool:
        m = self.mixer
        return m is not None and m.trainer is not None

    def toggle(self) -> None:
        """``T``: stop the trainer, or ask for a plan and start it."""
        m = self.mixer
        if m is None:
            return
        if m.trainer is not None:
            m.start_trainer(None)
            self.screen.notify("trainer stopped; the tempo stays", timeout=3)
            self.poll()
            return
        self.screen.app.push_screen(TrainerInputScreen(self.last, self.apply_text))

    def apply_text(self, text: str) -> None:
        """Start the trainer from ``70:5:2:100`` (raises BadInput: a typo, or no loop)."""
        m = self.mixer
        if m is None:
            raise BadInput("trainer", "the song is still loading")
        spec = parse_trainer(text.strip(), what="trainer")
        if not m.loop.enabled:
            raise BadInput("trainer", "set a loop first: [ at its start, ] at its end (or : to type one)")
        self.last = text.strip()
        m.start_trainer(spec)
        self._done_told = False
        if not m.playing:
            m.play()
        self.screen.notify(f"trainer {spec.label()}: {spec.total} passes", timeout=3)

    def poll(self) -> None:
        """Show where the trainer is (every player poll)."""
        m = self.mixer
        st = None if m is None else m.trainer
        line = "" if st is None else st.line
        if line != self._shown:
            self._shown = line
            self.screen.query_one("#status", StatusLine).trainer = line
        if st is not None and st.tempo != self._tempo:
            self._tempo = st.tempo
            self.tempo_changed()
        if st is not None and st.pass_no > st.total and not self._done_told:
            self._done_told = True
            self.screen.notify(f"trainer: all {st.total} passes played; looping on at the target", timeout=4)
