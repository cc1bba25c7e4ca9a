"""The take keys' dialogs: name a take (``F2``), pick the stem to compare it with (``C``)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from stemtui.ui.screens.dialogs import LoopInputScreen


class TakeNameScreen(LoopInputScreen):
    """The prompt at the bottom for a take's new name (``apply`` raises BadInput: the prompt stays)."""

    LABEL, PLACEHOLDER, INPUT_ID, HINT = "rename take ", "take 1", "take-name", " enter renames · esc cancels"

    def on_mount(self) -> None:
        field = self.query_one("#take-name")
        field.focus()
        field.select_all()


class ReferenceScreen(ModalScreen[str | None]):
    """Pick the stem a take is compared with; ``default`` (the one muted while recording) is highlighted.

    Dismisses with the stem's name, or ``None`` (esc).
    """

    BINDINGS = [Binding("escape", "cancel", "cancel", show=False)]

    def __init__(self, take_name: str, stems: list[str], default: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.take_name = take_name
        self.stems = list(stems)
        self.default = default if default in stems else (stems[0] if stems else "")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="reference"):
            yield Label(f"Compare “{self.take_name}” with", classes="dialog-title", markup=False)
            yield OptionList(*(Option(name, id=name) for name in self.stems), id="reference-list")
            yield Label("enter compares · esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        if self.default:
            options.highlighted = self.stems.index(self.default)

    @on(OptionList.OptionSelected, "#reference-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
