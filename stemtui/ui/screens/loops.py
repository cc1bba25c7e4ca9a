"""The player's loop keys, and the dialogs for saved (named) loops.

:class:`LoopControl`, a helper the player screen owns, does every loop
action (``[`` ``]`` ``l`` ``<`` ``>`` ``tab`` ``:`` ``backspace``, and ``n``
``L`` ``'`` for saved loops); the screen's ``action_*`` methods delegate to
it, so the screen module stays about layout, loading and the mix.
:class:`LoopNameScreen` asks for a name, :class:`LoopListScreen` lists the
saved loops (enter recalls one, ``d`` deletes it).
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
    from textual.screen import Screen

    from stemtui.ui.practice_keeper import PracticeKeeper


def loop_row(loop: NamedLoop) -> str:
    """One line of the list: ``verse   0:30.000–0:45.000  (15.0 s)``."""
    return f"{loop.name:<16} {format_time(loop.start, 3)}–{format_time(loop.end, 3)}  ({loop.end - loop.start:.1f} s)"


class LoopControl:
    """The loop actions of one player (its ``action_*`` methods call these).

    The methods raise :class:`~stemtui.core.errors.BadInput` for an edit
    that cannot be made; the screen's guarded actions show it as a warning.

    Args:
        screen: The player screen: notifications, and its app for the dialogs.
        keeper: The saved loops (and saving after changes).
        playhead: The playhead in frames, counting a seek not yet applied.
        shown: Shows the loop (and has the change saved).
        moved: Shows the playhead again (after a jump into the loop).
    """

    def __init__(
        self,
        screen: Screen,
        keeper: PracticeKeeper,
        playhead: Callable[[], int],
        shown: Callable[[], None],
        moved: Callable[[], None],
    ) -> None:
        self.screen = screen
        self.keeper = keeper
        self.playhead = playhead
        self.shown = shown
        self.moved = moved
        #: The loop editor once the song is loaded (:meth:`attach`).
        self.editor: LoopEditor | None = None

    def attach(self, editor: LoopEditor) -> None:
        """Edit the loop of the song just loaded (its saved loop restored)."""
        self.editor = editor

    def notify(self, message: str, **kwargs) -> None:
        self.screen.notify(message, **kwargs)

    # -- A–B loop ------------------------------------------------------------------------
    def _enter_loop(self) -> None:
        """After a loop is switched on: a playhead outside it jumps to its start."""
        lp = self.editor
        if lp is not None and lp.outside(self.playhead()):
            lp.mixer.seek(lp.home())

    def _changed(self) -> None:
        self._enter_loop()
        self.shown()
        self.moved()

    def set_start(self) -> None:
        if self.editor is not None:
            self.editor.set_start(self.playhead())
            self._changed()
            if not self.editor.complete:
                self.notify(f"loop start at {format_time(self.editor.seconds()[0], 3)}: press ] at its end", timeout=3)

    def set_end(self) -> None:
        if self.editor is not None:
            self.editor.set_end(self.playhead())
            self._changed()
            if not self.editor.complete:
                self.notify(f"loop end at {format_time(self.editor.seconds()[1], 3)}: press [ at its start", timeout=3)

    def toggle(self) -> None:
        if self.editor is not None:
            self.editor.toggle()
            self._changed()

    def nudge(self, direction: int) -> None:
        if self.editor is not None:
            self.editor.nudge(direction * NUDGE_MS)
            self.shown()

    def switch_edge(self) -> None:
        if self.editor is not None:
            self.editor.switch_edge()
            self.shown()

    def clear(self) -> None:
        if self.editor is not None:
            self.editor.clear()
            self.shown()

    def type_loop(self) -> None:
        if self.editor is None:
            return
        a, b = self.editor.seconds()
        initial = f"{format_time(a, 3)}-{format_time(b, 3)}" if a is not None and b is not None else ""
        self.screen.app.push_screen(LoopInputScreen(initial, self.apply_text))

    def apply_text(self, text: str) -> None:
        """Set the loop from text such as ``0:30.250-0:45`` (raises BadInput)."""
        if self.editor is None:
            raise BadInput("loop", "the song is still loading")
        start, end = parse_loop(text)
        self.editor.set_seconds(start, end)
        self._changed()

    def set_span(self, start: float, end: float) -> None:
        """Loop ``start``–``end`` (seconds) and jump to its start: a note picked in the comparison view."""
        if self.editor is None:
            return
        self.editor.set_seconds(start, end)
        self.editor.mixer.seek(self.editor.home())
        self._changed()

    # -- saved loops ---------------------------------------------------------------------------
    def save(self) -> None:
        """``n``: save the current loop under a name (the recalled loop's name, or ``loop N``)."""
        lp = self.editor
        if lp is None:
            return
        if not lp.complete:
            raise BadInput("save loop", "set a loop first: [ at its start, ] at its end (or : to type one)")
        self.screen.app.push_screen(LoopNameScreen(lp.name or self.keeper.default_name(), self.save_as))

    def save_as(self, name: str) -> None:
        """Save the current loop as ``name`` (raises BadInput: the prompt stays open)."""
        lp = self.editor
        a, b = lp.seconds() if lp is not None else (None, None)
        if lp is None or a is None or b is None:
            raise BadInput("save loop", "there is no loop to save")
        lp.name, replaced = self.keeper.save_loop(name, a, b)
        self.shown()
        self.notify(
            f"{'replaced' if replaced else 'saved'} {lp.label()} (' recalls saved loops, L lists them)", timeout=3
        )

    def list_saved(self) -> None:
        """``L``: the saved loops; enter recalls one, ``d`` deletes one."""
        if self.editor is None:
            return
        if not self.keeper.loops:
            raise BadInput("saved loops", "none yet: set a loop and press n to save it under a name")
        current = self.editor.name
        self.screen.app.push_screen(
            LoopListScreen(self.keeper.loops, current, self.keeper.delete_loop), self._recall_named
        )

    def next_saved(self) -> None:
        """``'``: recall the next saved loop (after the current one, wrapping)."""
        if self.editor is None:
            return
        nxt = self.keeper.next_loop(self.editor.name)
        if nxt is None:
            raise BadInput("saved loops", "none yet: set a loop and press n to save it under a name")
        self._recall(nxt)

    @guarded
    def _recall_named(self, name: str | None) -> None:
        self.shown()  # a deletion may have unnamed the current loop
        loop = self.keeper.state.find_loop(name) if name else None
        if loop is not None:
            self._recall(loop)

    def _recall(self, loop: NamedLoop) -> None:
        assert self.editor is not None
        self.editor.recall(loop.name, loop.start, loop.end)
        self._changed()
        self.notify(self.editor.describe(), timeout=2)


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
