"""Small modal dialogs: confirm a deletion, add a path, pick a model, type a loop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, DirectoryTree, Input, Label, Static

from stemtui.core.errors import StemtuiError
from stemtui.ui.paths import complete_path, importable


class ConfirmScreen(ModalScreen[bool]):
    """Ask yes or no; dismisses with ``True`` only for an explicit yes."""

    BINDINGS = [
        Binding("y", "answer(True)", "yes", show=False),
        Binding("n,escape", "answer(False)", "no", show=False),
    ]

    def __init__(self, question: str, detail: str = "", yes: str = "Delete") -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.detail = detail
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm"):
            yield Label(self.question, classes="dialog-title", markup=False)
            if self.detail:
                yield Static(self.detail, classes="dialog-detail", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes")
                yield Button("Cancel (n)", variant="default", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class AudioTree(DirectoryTree):
    """A directory tree showing only folders and audio files (plain-terminal icons)."""

    ICON_NODE = "▸ "
    ICON_NODE_EXPANDED = "▾ "
    ICON_FILE = "♪ "

    def filter_paths(self, paths):
        return [p for p in paths if importable(p)]


class AddPathScreen(ModalScreen[str | None]):
    """Pick a folder of stems, a ``.stem.mp4`` or an audio file to separate.

    Type a path (``tab`` completes it) or pick one in the tree below, then
    ``enter``. Dismisses with the path text, or ``None``.
    """

    BINDINGS = [
        Binding("escape", "cancel", "cancel", show=False),
        Binding("tab", "complete", "complete", show=False),
    ]

    def __init__(self, start_dir: Path | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.start_dir = Path(start_dir or Path.cwd())

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="add"):
            yield Label("Add a song", classes="dialog-title")
            yield Static(
                "A folder of stems (vocals.wav, drums.flac…), a .stem.mp4, or an audio file "
                "to separate. tab completes · enter adds · esc cancels",
                classes="dialog-detail",
            )
            yield Input(placeholder="path, e.g. ~/stems/my song/", id="path")
            yield Static("", id="matches", classes="dialog-hint", markup=False)
            yield AudioTree(self.start_dir, id="tree")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def action_complete(self) -> None:
        field = self.query_one("#path", Input)
        if not field.has_focus:
            self.focus_next()
            return
        done, names = complete_path(field.value, self.start_dir)
        field.value = done
        field.cursor_position = len(done)
        shown = "  ".join(names[:12]) + ("  …" if len(names) > 12 else "")
        self.query_one("#matches", Static).update(
            shown if len(names) > 1 else "" if names else "no folder or audio file matches"
        )

    @on(DirectoryTree.FileSelected)
    @on(DirectoryTree.DirectorySelected)
    def _picked(self, event) -> None:
        field = self.query_one("#path", Input)
        field.value = str(event.path)
        field.cursor_position = len(field.value)

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        text = self.query_one("#path", Input).value.strip()
        if not text:
            self.notify("type a path, or pick one in the tree", severity="warning")
            return
        if not Path(text).expanduser().exists():
            self.notify(f"{text}: no such file or folder", severity="error")
            return
        self.dismiss(text)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


#: Demucs models offered when separating again (any other name can be typed).
MODELS = ("htdemucs", "htdemucs_ft", "htdemucs_6s", "mdx_extra")


class ModelScreen(ModalScreen[tuple[str, str | None] | None]):
    """Pick the model to separate a song again with, and whether to keep two stems.

    Dismisses with ``(model, two_stems)`` (``two_stems`` is ``"vocals"`` or
    ``None``), or ``None`` when cancelled.
    """

    BINDINGS = [Binding("escape", "cancel", "cancel", show=False)]

    def __init__(self, title: str, current: str = "", two_stems: str | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.song_title = title
        self.current = current
        self.two_stems = two_stems

    def compose(self) -> ComposeResult:
        others = [m for m in MODELS if m != self.current]
        with Vertical(classes="dialog", id="model"):
            yield Label(f"Separate “{self.song_title}” again", classes="dialog-title", markup=False)
            now = f"Now: {self.current}. " if self.current else ""
            yield Static(
                f"{now}Models: {', '.join(MODELS)}, or any demucs name. enter separates · esc cancels",
                classes="dialog-detail",
                markup=False,
            )
            yield Input(value=others[0], placeholder="model", id="model-name", suggester=SuggestFromList(MODELS))
            yield Checkbox(
                "two stems: vocals + instrumental (--two-stems vocals)", self.two_stems == "vocals", id="two-stems"
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Separate", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        field = self.query_one("#model-name", Input)
        field.focus()
        field.select_all()

    @on(Input.Submitted, "#model-name")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        model = self.query_one("#model-name", Input).value.strip()
        if not model:
            self.notify("type a model name, e.g. htdemucs_ft", severity="warning")
            return
        self.dismiss((model, "vocals" if self.query_one("#two-stems", Checkbox).value else None))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class LoopInputScreen(ModalScreen[bool]):
    """A one-line prompt at the bottom to type a loop such as ``0:30.250-0:45``.

    ``apply`` gets the text; a :class:`StemtuiError` it raises becomes a
    notification and the prompt stays open to fix the typo. Subclasses
    prompt for other things by changing the class attributes.
    """

    BINDINGS = [Binding("escape", "cancel", "cancel", show=False)]
    #: The prompt's label, the field's placeholder and id, and the hint after it.
    LABEL, PLACEHOLDER, INPUT_ID, HINT = "loop ", "0:30.250-0:45", "loop-input", " enter sets · esc cancels"

    def __init__(self, initial: str, apply: Callable[[str], None]) -> None:
        super().__init__(classes="prompt-screen")
        self.initial = initial
        self.apply = apply

    def compose(self) -> ComposeResult:
        with Horizontal(id="loop-prompt"):
            yield Label(self.LABEL, classes="prompt-label")
            yield Input(value=self.initial, placeholder=self.PLACEHOLDER, id=self.INPUT_ID)
            yield Label(self.HINT, classes="prompt-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        try:
            self.apply(event.value)
        except StemtuiError as exc:
            self.notify(str(exc), severity="error")
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
