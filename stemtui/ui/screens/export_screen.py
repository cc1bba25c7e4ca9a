"""`e` in the player: export the backing track as it sounds now, with a progress bar.

The export runs ``stemtui --cache-dir STORE export ... --progress-json`` in a
child process (the worker protocol of :mod:`stemtui.core.procs.protocol`)
with the player's current state as flags (mutes, solos, volumes, master,
tempo, transpose, the loop region, the click). The same code as the CLI
writes the file, and a stretched export, which keeps the GIL for seconds per
stem, never stalls the audio callback of the song still playing. Cancelling
sends the child SIGTERM, so it deletes its half-written file (SIGKILL follows
if it has not ended within :data:`CANCEL_GRACE_S`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, ProgressBar, Static
from textual.worker import get_current_worker

from stemtui.core.library.export import FORMATS, backing_name
from stemtui.core.procs.protocol import Child, Event, WorkerCancelled

#: Seconds the export child has to remove its half-written file after SIGTERM.
CANCEL_GRACE_S = 5.0


def export_args(entry_id: str, mixer, path: Path, loop_only: bool, click: bool) -> list[str]:
    """``stemtui export`` arguments that reproduce what the mixer plays now."""
    song = mixer.song
    args = ["export", entry_id, "-o", str(path), "--progress-json"]
    for i, name in enumerate(song.names):
        if mixer.mute[i]:
            args += ["--mute", name]
        if mixer.solo[i]:
            args += ["--solo", name]
        if abs(float(mixer.volume[i]) - 1.0) > 1e-6:
            args += ["--volume", f"{name}={float(mixer.volume[i]) * 100:.4f}%"]
    for r in mixer.ranges:  # mute and solo ranges, to the frame
        args += [
            f"--{r.kind}",
            f"{song.names[r.stem]}@{r.start / mixer.sample_rate:.6f}-{r.end / mixer.sample_rate:.6f}",
        ]
    if abs(mixer.master - 1.0) > 1e-6:
        args += ["--master", f"{mixer.master * 100:.4f}%"]
    if abs(mixer.tempo - 1.0) > 1e-6:
        args += ["--tempo", f"{mixer.tempo:.4f}"]
    if mixer.semitones:
        args += ["--transpose", str(mixer.semitones)]
    a, b, _on = mixer.loop
    if loop_only and b > a:
        sr = mixer.sample_rate
        args += ["--loop", f"{a / sr:.4f}-{b / sr:.4f}"]
    grid = mixer.metronome.grid
    if click and grid is not None:
        args += ["--click", "--bpm", f"{grid.bpm:.6f}@{grid.offset:.6f}"]
    return args


class ExportScreen(ModalScreen[Path | None]):
    """Where to write the backing track, what to include, then a progress bar."""

    BINDINGS = [Binding("escape", "cancel", "cancel", show=False)]

    @dataclass
    class Progress(Message):
        """How far the export is (0–1); a newer one replaces an unhandled older one."""

        fraction: float

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ExportScreen.Progress)

    @dataclass
    class Finished(Message):
        """The export ended: the path written, or an error line."""

        path: Path | None
        error: str

    def __init__(self, entry, mixer) -> None:
        super().__init__(classes="dialog-screen")
        self.entry = entry
        self.mixer = mixer
        self._child: Child | None = None

    def _default_path(self, loop_only: bool, click: bool) -> Path:
        m = self.mixer
        audible = [m.audible(i) for i in range(m.stem_count)]
        a, b, _ = m.loop
        sr = m.sample_rate
        name = backing_name(
            self.entry.title,
            m.song.names,
            audible,
            m.tempo,
            m.semitones,
            (a / sr, b / sr) if loop_only and b > a else None,
            ".wav",
            click=click,
            ranges=[(r.kind, m.song.names[r.stem], r.start / sr, r.end / sr) for r in m.ranges],
        )
        return Path.cwd() / name

    def compose(self) -> ComposeResult:
        has_loop = self.mixer.loop[1] > self.mixer.loop[0]
        has_grid = self.mixer.metronome.grid is not None
        with Vertical(classes="dialog", id="export"):
            yield Label("Export the backing track as you hear it", classes="dialog-title")
            yield Input(str(self._default_path(has_loop and self.mixer.loop[2], False)), id="export-path")
            yield Checkbox(
                "only the loop (A–B)", value=has_loop and self.mixer.loop[2], id="loop-only", disabled=not has_loop
            )
            yield Checkbox("with the click", value=False, id="with-click", disabled=not has_grid)
            yield ProgressBar(total=1.0, show_eta=False, id="export-progress")
            yield Static(
                ".wav, .flac or .mp3 · enter exports · esc cancels", id="export-status", classes="dialog-detail"
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export (enter)", variant="primary", id="go")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    @on(Checkbox.Changed)
    def _options(self) -> None:
        loop_only = self.query_one("#loop-only", Checkbox).value
        click = self.query_one("#with-click", Checkbox).value
        inp = self.query_one("#export-path", Input)
        old = Path(inp.value)
        new = self._default_path(loop_only, click)
        inp.value = str(old.parent / new.with_suffix(old.suffix or ".wav").name)

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        if self._child is not None:
            return
        path = Path(self.query_one("#export-path", Input).value).expanduser()
        status = self.query_one("#export-status", Static)
        if path.suffix.lower() not in FORMATS:
            status.update(f"{path.name}: use .wav, .flac or .mp3")
            return
        if not path.parent.is_dir():
            status.update(f"{path.parent}: no such folder")
            return
        args = export_args(
            self.entry.id,
            self.mixer,
            path,
            self.query_one("#loop-only", Checkbox).value,
            self.query_one("#with-click", Checkbox).value,
        )
        status.update(f"exporting to {path.name} …")
        self.query_one("#go", Button).disabled = True
        self._run(args)

    @work(thread=True, exclusive=True, group="export")
    def _run(self, args: list[str]) -> None:
        worker = get_current_worker()
        store = getattr(self.app, "store", None)
        flags = ["--cache-dir", str(store.root)] if store is not None else []

        def on_event(ev: Event) -> None:
            if ev.kind == "progress":
                self.post_message(self.Progress(ev.fraction))

        child = self._child = Child("stemtui", [*flags, *args], name="export", on_event=on_event)
        while not child.wait(0.2):
            if worker.is_cancelled:  # the screen went away: stop the child too
                child.cancel(grace=CANCEL_GRACE_S)
        err = child.error
        path = Path(child.result["path"]) if child.result and "path" in child.result else None
        error = "" if err is None or isinstance(err, WorkerCancelled) else str(err)
        self.post_message(self.Finished(path, error))

    @on(Progress)
    def _progress(self, event: Progress) -> None:
        self.query_one("#export-progress", ProgressBar).update(progress=event.fraction)

    @on(Finished)
    def _finished(self, event: Finished) -> None:
        self._child = None
        if event.path is not None and not event.error:
            self.app.notify(f"exported {event.path.name}", timeout=6)
            self.dismiss(event.path)
            return
        self.query_one("#export-status", Static).update(event.error or "export cancelled")
        self.query_one("#go", Button).disabled = False

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if self._child is not None and self._child.running:
            # SIGTERM: the child's export removes its temporary file on the way out.
            self._child.cancel(grace=CANCEL_GRACE_S, wait=False)
            self.query_one("#export-status", Static).update("cancelling …")
            return
        self.dismiss(None)
