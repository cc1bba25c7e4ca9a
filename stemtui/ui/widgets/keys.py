"""The key reminder under the player's transport."""

from __future__ import annotations

from itertools import zip_longest

from rich.console import Console
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from stemtui.ui.keymap import PLAYER_KEYS, help_rows

#: Four short lines for small terminals.
COMPACT = [
    [
        ("1-9", "mute"),
        ("shift+1-9", "solo"),
        ("↑↓", "stem"),
        ("m s", "mute/solo"),
        ("M S", "in loop"),
        ("+-", "volume"),
    ],
    [("space", "play/pause"), ("←→", "±5 s"), ("shift+←→", "±1 s"), ("home", "to loop start"), ("0", "reset mix")],
    [
        ("[ ]", "loop A/B"),
        ("l", "loop on/off"),
        ("< >", "nudge"),
        ("n", "name it"),
        ("'", "next saved"),
        ("R", "record"),
    ],
    [
        (", .", "tempo"),
        ("{ }", "transpose"),
        ("t", "tap"),
        ("k", "click"),
        ("c", "count-in"),
        ("e", "export"),
        ("?", "all keys"),
    ],
]


#: The player's rows besides the stem rows and the key table: title, the panels' borders and
#: headers, the transport's five lines (with the song map lane), the table's border and margin, status line, footer.
OTHER_ROWS = 17


class KeyReminder(Static):
    """Four lines of reminders, or every player key in two columns on tall terminals."""

    @classmethod
    def fits(cls, width: int, height: int, stems: int) -> bool:
        """Whether every key fits in a ``width`` × ``height`` player showing ``stems`` rows (takes too)."""
        console = Console(width=max(20, width - 4))
        lines = len(console.render_lines(cls.full_table(), console.options))
        return height >= OTHER_ROWS + stems + lines

    full: reactive[bool] = reactive(False)
    """Show every player key (a bordered two-column table) instead of four lines."""

    def on_mount(self) -> None:
        self.watch_full(self.full)

    def watch_full(self, full: bool) -> None:
        self.set_class(full, "-full")
        self.border_title = "keys" if full else ""
        self.update(self.full_table() if full else self.compact_text())

    @staticmethod
    def compact_text() -> Text:
        text = Text()
        for i, line in enumerate(COMPACT):
            if i:
                text.append("\n")
            for key, what in line:
                text.append(f" {key}", style="bold")
                text.append(f" {what} ", style="dim")
        return text

    @staticmethod
    def full_table() -> Table:
        rows = help_rows(PLAYER_KEYS)
        half = (len(rows) + 1) // 2
        table = Table.grid(padding=(0, 1), expand=True)
        for _ in range(2):
            table.add_column(style="bold", no_wrap=True)
            table.add_column(style="dim", ratio=1)
        for left, right in zip_longest(rows[:half], rows[half:], fillvalue=("", "")):
            table.add_row(*left, *right)
        return table
