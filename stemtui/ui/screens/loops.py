"""The player's loop keys, and the dialogs for saved (named) loops.

:class:`LoopKeys` holds every loop action of the player screen (``[`` ``]``
``l`` ``<`` ``>`` ``tab`` ``:`` ``backspace``, and ``n`` ``L`` ``'`` for
saved loops), so the screen module stays about layout, loading and the
mix. :class:`LoopNameScreen` asks for a name, :class:`LoopListScreen` lists
the saved loops (enter recalls one, ``d`` deletes it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from stemtui.core.errors import BadInput
from stemtui.core.library.practice import NamedLoop
from stemtui.core.timefmt import format_time, parse_loop
from stemtui.ui.guard import guarded
from stemtui.ui.loop import NUDGE_MS, LoopEditor
from stemtui.ui.screens.dialogs import LoopInputScreen

if TYPE_CHECKING:
    from stemtui.core.audio.mixer import Mixer
    from stemtui.ui.practice_keeper import PracticeKeeper


def loop_row(loop: NamedLoop) -> str:
    """One line of the list: ``verse   0:30.000–0:45.000  (15.0 s)``."""
    return f"{loop.name:<16} {format_time(loop.start, 3)}–{format_time(loop.end, 3)}  ({loop.end - loop.start:.1f} s)"


class LoopKeys:
    """The loop actions of :class:`~stemtui.ui.screens.player.PlayerScreen` (a mixin).

    The screen provides ``mixer``, ``loop`` (a :class:`LoopEditor` once the
    song is loaded), ``practice`` (the :class:`PracticeKeeper`),
    ``playhead()``, ``_show_loop()`` and ``_tick()``.
    """

    mixer: Mixer | None
    loop: LoopEditor | None
    practice: PracticeKeeper

    # -- A–B loop ------------------------------------------------------------------------
    def _enter_loop(self) -> None:
        """After a loop is switched on: a playhead outside it jumps to its start."""
        lp, m = self.loop, self.mixer
        if lp is not None and m is not None and lp.outside(self.playhead()):
            m.seek(lp.home())

    def _loop_changed(self) -> None:
        self._enter_loop()
        self._show_loop()
        self._tick()

    @guarded
    def action_loop_start(self) -> None:
        if self.loop is not None:
            self.loop.set_start(self.playhead())
            self._loop_changed()
            if not self.loop.complete:
                self.notify(f"loop start at {format_time(self.loop.seconds()[0], 3)}: press ] at its end", timeout=3)

    @guarded
    def action_loop_end(self) -> None:
        if self.loop is not None:
            self.loop.set_end(self.playhead())
            self._loop_changed()
            if not self.loop.complete:
                self.notify(f"loop end at {format_time(self.loop.seconds()[1], 3)}: press [ at its start", timeout=3)

    @guarded
    def action_toggle_loop(self) -> None:
        if self.loop is not None:
            self.loop.toggle()
            self._loop_changed()

    @guarded
    def action_nudge(self, direction: int) -> None:
        if self.loop is not None:
            self.loop.nudge(direction * NUDGE_MS)
            self._show_loop()

    def action_switch_edge(self) -> None:
        if self.loop is not None:
            self.loop.switch_edge()
            self._show_loop()

    @guarded
    def action_clear_loop(self) -> None:
        if self.loop is not None:
            self.loop.clear()
            self._show_loop()

    def action_type_loop(self) -> None:
        if self.loop is None:
            return
        a, b = self.loop.seconds()
        initial = f"{format_time(a, 3)}-{format_time(b, 3)}" if a is not None and b is not None else ""
        self.app.push_screen(LoopInputScreen(initial, self.apply_loop_text))

    def apply_loop_text(self, text: str) -> None:
        """Set the loop from text such as ``0:30.250-0:45`` (raises BadInput)."""
        if self.loop is None:
            raise BadInput("loop", "the song is still loading")
        start, end = parse_loop(text)
        self.loop.set_seconds(start, end)
        self._loop_changed()

    # -- saved loops ---------------------------------------------------------------------------
    @guarded
    def action_save_loop(self) -> None:
        """``n``: save the current loop under a name (the recalled loop's name, or ``loop N``)."""
        lp = self.loop
        if lp is None:
            return
        if not lp.complete:
            raise BadInput("save loop", "set a loop first: [ at its start, ] at its end (or : to type one)")
        self.app.push_screen(LoopNameScreen(lp.name or self.practice.default_name(), self.save_loop_as))

    def save_loop_as(self, name: str) -> None:
        """Save the current loop as ``name`` (raises BadInput: the prompt stays open)."""
        lp = self.loop
        a, b = lp.seconds() if lp is not None else (None, None)
        if lp is None or a is None or b is None:
            raise BadInput("save loop", "there is no loop to save")
        lp.name, replaced = self.practice.save_loop(name, a, b)
        self._show_loop()
        self.notify(f"{'replaced' if replaced else 'saved'} {lp.label()} (' recalls saved loops, L lists them)",
                    timeout=3)

    @guarded
    def action_loop_list(self) -> None:
        """``L``: the saved loops; enter recalls one, ``d`` deletes one."""
        if self.loop is None:
            return
        if not self.practice.loops:
            raise BadInput("saved loops", "none yet: set a loop and press n to save it under a name")
        current = self.loop.name
        self.app.push_screen(LoopListScreen(self.practice.loops, current, self.practice.delete_loop),
                             self._recall_named)

    @guarded
    def action_next_loop(self) -> None:
        """``'``: recall the next saved loop (after the current one, wrapping)."""
        if self.loop is None:
            return
        nxt = self.practice.next_loop(self.loop.name)
        if nxt is None:
            raise BadInput("saved loops", "none yet: set a loop and press n to save it under a name")
        self._recall(nxt)

    @guarded
    def _recall_named(self, name: str | None) -> None:
        self._show_loop()  # a deletion may have unnamed the current loop
        loop = self.practice.state.find_loop(name) if name else None
        if loop is not None:
            self._recall(loop)

    def _recall(self, loop: NamedLoop) -> None:
        assert self.loop is not None
        self.loop.recall(loop.name, loop.start, loop.end)
        self._loop_changed()
        self.notify(self.loop.describe(), timeout=2)


class LoopNameScreen(LoopInputScreen):
    """The prompt at the bottom for a saved loop's name; the offered name is selected."""

    LABEL, PLACEHOLDER, INPUT_ID, HINT = "save loop as ", "verse", "loop-name", " enter saves · esc cancels"

    def on_mount(self) -> None:
        field = self.query_one("#loop-name")
        field.focus()
        field.select_all()  # typing replaces the offered name


class LoopListScreen(ModalScreen[str | None]):
    """The saved loops, by start time: enter dismisses with the chosen name, ``d`` deletes.

    Args:
        loops: The saved loops.
        current: The name of the loop playing now (highlighted first), or ``None``.
        delete: Called with a name when ``d`` deletes it.
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape,q", "close", "close", show=False),
        Binding("d,delete", "delete", "delete", show=False),
    ]

    def __init__(self, loops: list[NamedLoop], current: str | None, delete: Callable[[str], None]) -> None:
        super().__init__(classes="dialog-screen")
        self.loops = list(loops)
        self.current = current
        self.delete = delete

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="loops"):
            yield Label("Saved loops", classes="dialog-title")
            yield OptionList(*(Option(loop_row(lp), id=lp.name) for lp in self.loops), id="loop-list", markup=False)
            yield Label("enter recalls · d deletes · esc closes", classes="dialog-hint")

    def on_mount(self) -> None:
        options = self.query_one("#loop-list", OptionList)
        names = [lp.name for lp in self.loops]
        options.highlighted = names.index(self.current) if self.current in names else 0
        options.focus()

    @on(OptionList.OptionSelected, "#loop-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_delete(self) -> None:
        options = self.query_one("#loop-list", OptionList)
        option = options.highlighted_option
        if option is None or option.id is None:
            return
        self.delete(option.id)
        options.remove_option(option.id)
        self.loops = [lp for lp in self.loops if lp.name != option.id]
        self.notify(f"deleted the saved loop {option.id}", timeout=2)
        if not self.loops:
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
