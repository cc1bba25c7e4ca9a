"""The one-line title bar at the top of each screen: badge, title, details, right-hand note."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class TitleBar(Widget):
    """`` ♪ stemtui  Title — Artist   details ........ note``."""

    COMPONENT_CLASSES = {"titlebar--badge", "titlebar--title", "titlebar--detail", "titlebar--note"}

    title: reactive[str] = reactive("")
    """Main text, in bold (the song title, or ``library``)."""
    detail: reactive[str] = reactive("")
    """Dimmer text after the title (artist, counts)."""
    note: reactive[str] = reactive("")
    """Right-aligned text (sort order, what is running)."""

    def render(self) -> Text:
        style = self.get_component_rich_style
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" ♪ stemtui ", style("titlebar--badge"))
        text.append(f"  {self.title}", style("titlebar--title"))
        if self.detail:
            text.append(f"  {self.detail}", style("titlebar--detail"))
        if self.note:
            gap = self.content_size.width - text.cell_len - len(self.note) - 1
            if gap >= 2:
                text.append(" " * gap)
                text.append(self.note + " ", style("titlebar--note"))
        return text
