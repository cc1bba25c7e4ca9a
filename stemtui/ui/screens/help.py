"""The ``?`` help screen: every key of the app, from :mod:`stemtui.ui.keymap`."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from stemtui.ui.keymap import HELP_LEFT, HELP_SECTIONS, help_rows


def key_table(title: str, rows: list[tuple[str, str]]) -> Table:
    """A two-column table of keys for one section."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, min_width=10)
    table.add_column()
    table.add_row(Text(title.upper(), style="bold"), "")
    for key, what in rows:
        table.add_row(key, what)
    table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    """Every key, by section (two columns on wide terminals); scrolls with ↑/↓ on small ones."""

    BINDINGS = [Binding("escape,q,question_mark,enter", "close", "close", show=False)]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog"):
            yield Label("stemtui keys", classes="dialog-title")
            with VerticalScroll(id="help-body"), Horizontal(id="help-columns"):
                for left in (True, False):
                    with Vertical(classes="help-column"):
                        for title, keys in HELP_SECTIONS:
                            if (title in HELP_LEFT) == left:
                                yield Static(key_table(title, help_rows(keys)), classes="help-section")
            yield Label("esc closes · ctrl+p searches every command", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
