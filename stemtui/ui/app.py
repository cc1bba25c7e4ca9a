"""The stemtui Textual app: wiring of store, engine, library and player.

``run_app(settings, target)`` is what ``stemtui`` (no command) runs. The app
is built from a :class:`~stemtui.settings.Settings` and owns the long-lived
objects: the :class:`~stemtui.core.library.store.Store`, the
:class:`~stemtui.core.library.practice.PracticeStore`, the
:class:`~stemtui.core.audio.engine.Engine` and the
:class:`~stemtui.ui.separating.Separations` helper start in ``on_mount``;
the separation stops and the engine closes in ``on_unmount``. The store and
the engine are injectable (``store=``, ``engine_factory=``) so tests run the
real app on a temporary store with ``Engine(null=True)``, the engine's paced
device-free stream. Screens get what they use explicitly (the player: store,
engine, practice store; see :meth:`StemtuiApp.player_for`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from functools import partial
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App, SystemCommand
from textual.screen import Screen

from stemtui.core.audio.native_stderr import NativeStderr
from stemtui.ui.guard import guarded
from stemtui.ui.keymap import APP_KEYS, bindings
from stemtui.ui.paths import is_single_audio_file
from stemtui.ui.screens.help import HelpScreen
from stemtui.ui.screens.library_screen import LibraryScreen
from stemtui.ui.screens.player import PlayerScreen
from stemtui.ui.screens.separation_screen import SeparationScreen
from stemtui.ui.separating import Separations
from stemtui.ui.seprun import SeparationRun, base_options

if TYPE_CHECKING:
    from stemtui.core.audio.engine import Engine
    from stemtui.core.audio.song import Song
    from stemtui.core.library.practice import PracticeStore
    from stemtui.core.library.store import Entry, Store
    from stemtui.core.separation.splitter import SeparationOptions
    from stemtui.settings import Settings

log = logging.getLogger("stemtui.ui")


def engine_for(settings: Settings) -> Engine:
    """The engine the app uses: the settings' device (``None``: the default one)."""
    from stemtui.core.audio.engine import Engine

    return Engine(device=settings.device)


class StemtuiApp(App[int]):
    """The terminal practice player.

    Args:
        settings: Where the store, the practice state and the log live; the
            device and the model separations use.
        entry: A song to open in the player at once (``stemtui SONG``).
        path: A path to add (or an audio file to separate) at once, then open
            (``stemtui FOLDER``, ``stemtui FILE``).
        store: The song store (default: one at ``settings.cache_dir``).
        engine_factory: Makes the audio engine (default: :func:`engine_for` the settings).
        autoplay: Start playing when a song opens.
        start_dir: Where the add dialog's tree starts (default: the cwd).
        install_demo: Put the demo song in the library on first run.
        separation_options: Options separations start from (default: the
            settings' model and model folder).
    """

    CSS_PATH = "stemtui.tcss"
    TITLE = "stemtui"
    BINDINGS = bindings(APP_KEYS)

    def __init__(
        self,
        settings: Settings,
        entry: Entry | None = None,
        path: Path | None = None,
        *,
        store: Store | None = None,
        engine_factory: Callable[[], Engine] | None = None,
        autoplay: bool = True,
        start_dir: Path | None = None,
        install_demo: bool = True,
        separation_options: SeparationOptions | None = None,
    ) -> None:
        super().__init__()
        #: What this app was started with (read-only).
        self.settings = settings
        self._open_entry = entry
        self._open_path = path
        self._store = store
        self._engine_factory = engine_factory or (lambda: engine_for(settings))
        self._separation_base = separation_options
        self.autoplay = autoplay
        self.start_dir = Path(start_dir or Path.cwd())
        self.install_demo = install_demo
        #: The song store (from ``on_mount``).
        self.store: Store | None = None
        #: The saved practice states (from ``on_mount``).
        self.practice_store: PracticeStore | None = None
        #: The audio engine (from ``on_mount`` until ``on_unmount``).
        self.engine: Engine | None = None
        #: Separating single audio files, one at a time (from ``on_mount``).
        self.separations: Separations | None = None
        #: Every notification shown, as ``(severity, message)``: the log and tests read it.
        self.messages: list[tuple[str, str]] = []
        self._notice_shown = False

    # -- lifecycle ---------------------------------------------------------------------
    def on_mount(self) -> None:
        self.store = self._store if self._store is not None else self.settings.store()
        self.practice_store = self.settings.practice_store()
        self.engine = self._engine_factory()
        self.separations = Separations(
            self, self.store, self._separation_options, self.player_for, lambda: self.library
        )
        self.push_screen(LibraryScreen(self.store, self.separations, self.start_dir))
        if self.install_demo:
            self._ensure_demo()
        if self._open_entry is not None:
            self.open_entry(self._open_entry)
        elif self._open_path is not None:
            self.add_path(self._open_path, open_after=True)

    def on_unmount(self) -> None:
        if self.separations is not None:
            self.separations.stop()
        if self.engine is not None:
            self.engine.close()

    def first_paint(self) -> None:
        """Called once the library has painted; the startup benchmark hooks in here."""
        out = self.settings.bench_first_paint
        if out is not None:
            out.write_text(f"{time.time():.6f}\n")
            self.exit(0)
            return
        # The decoders (PyAV, mutagen) load now, while the library shows: an
        # import holds the GIL for up to a tenth of a second at a time, and
        # the first separation started during playback would make the audio
        # callback wait for it.
        self.run_worker(self._preload, thread=True, group="preload", exit_on_error=False)

    def _preload(self) -> None:
        """The library's background start: decoders, and a warm song-analysis worker if a song needs one."""
        import stemtui.core.library.audiofiles  # noqa: F401
        from stemtui.ui.map_actions import warm_if_unmapped

        if self.settings.warm_workers and self.store is not None and self.practice_store is not None:
            warm_if_unmapped(self.store, self.practice_store.root)

    def _separation_options(self) -> SeparationOptions:
        """The options separations start from (raises BadInput for a missing model folder)."""
        if self._separation_base is not None:
            return self._separation_base
        return base_options(self.settings.model, self.settings.model_repo)

    def player_for(self, entry: Entry, song: Song | None = None, run: SeparationRun | None = None) -> PlayerScreen:
        """A player screen for ``entry`` (or for ``song`` while ``run`` separates it)."""
        assert self.store is not None and self.engine is not None and self.practice_store is not None
        return PlayerScreen(
            entry,
            store=self.store,
            engine=self.engine,
            states=self.practice_store,
            autoplay=self.autoplay,
            song=song,
            run=run,
        )

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity="information",
        timeout=None,
        markup: bool = False,  # noqa: ARG002 -- accepted like App.notify's, never used
    ) -> None:
        """Show a toast and log it. Markup is always off: paths, reasons and
        key names such as ``[`` are shown as they are, never parsed."""
        self.messages.append((severity, message))
        log.log(
            logging.ERROR if severity == "error" else logging.WARNING if severity == "warning" else logging.INFO,
            "%s",
            message,
        )
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def show_notice(self, notice: str) -> None:
        """The engine's reason for having no sound, once per session."""
        if not self._notice_shown:
            self._notice_shown = True
            self.notify(notice, title="no sound", severity="warning", timeout=10)

    @property
    def library(self) -> LibraryScreen | None:
        """The library screen (the bottom of the stack)."""
        for screen in self.screen_stack:
            if isinstance(screen, LibraryScreen):
                return screen
        return None

    # -- demo ----------------------------------------------------------------------------
    def _ensure_demo(self) -> None:
        from stemtui.core.library.catalog import DEMO_MARKER, demo_id

        existing = self.store.get(demo_id())
        if existing is not None and existing.ok:
            return
        if existing is None and (self.store.root / DEMO_MARKER).exists():
            return  # deleted on purpose: `stemtui demo` brings it back
        if self.library is not None:
            self.library.busy = "preparing the demo song…"
        self._install_demo()

    @work(thread=True, group="demo", exit_on_error=False)
    def _install_demo(self) -> None:
        from stemtui.core.library.catalog import ensure_demo

        try:
            entry = ensure_demo(self.store)
        except Exception as exc:
            log.exception("demo")
            self.call_from_thread(self.notify, f"could not prepare the demo song: {exc}", severity="error")
            entry = None
        self.call_from_thread(self._demo_ready, entry.id if entry else None)

    def _demo_ready(self, song_id: str | None) -> None:
        lib = self.library
        if lib is not None:
            lib.busy = ""
            lib.reload(select=song_id)

    # -- songs ---------------------------------------------------------------------------
    @on(LibraryScreen.SongChosen)
    def _song_chosen(self, event: LibraryScreen.SongChosen) -> None:
        self.open_entry(event.entry)

    @on(LibraryScreen.PathChosen)
    def _path_chosen(self, event: LibraryScreen.PathChosen) -> None:
        self.add_path(event.path)

    @on(LibraryScreen.ReseparateChosen)
    def _reseparate_chosen(self, event: LibraryScreen.ReseparateChosen) -> None:
        self.request_separation(Path(event.entry.source).expanduser(), model=event.model, two_stems=event.two_stems)

    @guarded
    def open_entry(self, entry: Entry) -> None:
        """Open a song in the player; a running separation shows its progress.

        A damaged entry, or one another process is separating, only gets a notification.
        """
        if entry.state == "separating":
            run = self.separations.run_for(entry)
            if run is not None:
                self.separations.show(run)
            else:
                self.notify(
                    f"{entry.title}: another stemtui is separating it ({entry.reason}); it opens here once stored",
                    timeout=6,
                )
            return
        if not entry.ok:
            self.notify(f"{entry.title}: {entry.state} entry ({entry.reason})", severity="error", timeout=8)
            return
        self.push_screen(self.player_for(entry))

    def add_path(self, path: Path, open_after: bool = False) -> None:
        """Add a folder of stems or a ``.stem.mp4``; a single audio file asks for separation."""
        if is_single_audio_file(path):
            self.request_separation(path)
            return
        self.notify(f"adding {path.name or path}…", timeout=3)
        self._import(path, open_after)

    @work(thread=True, group="import", exit_on_error=False)
    def _import(self, path: Path, open_after: bool) -> None:
        from stemtui.core.errors import StemtuiError
        from stemtui.core.library.catalog import import_path

        try:
            entry, new = import_path(self.store, path)
        except StemtuiError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=8)
            return
        except Exception as exc:
            log.exception("import %s", path)
            self.call_from_thread(self.notify, f"{path}: {type(exc).__name__}: {exc}", severity="error", timeout=8)
            return
        self.call_from_thread(self._imported, entry, new, open_after)

    def _imported(self, entry: Entry, new: bool, open_after: bool) -> None:
        what = "added" if new else "already in the library:"
        self.notify(f"{what} {entry.title} ({len(entry.stems)} stems: {', '.join(entry.stems)})")
        lib = self.library
        if lib is not None:
            lib.reload(select=entry.id)
        if open_after:
            self.open_entry(entry)

    # -- separations (the helper does the work) ---------------------------------------------
    def request_separation(self, path: Path, **changes) -> SeparationRun | None:
        """Separate a single audio file (see :meth:`Separations.request`)."""
        return self.separations.request(path, **changes)

    @on(Separations.Started)
    def _separation_started(self, event: Separations.Started) -> None:
        self.separations.started(event)

    @on(Separations.Progressed)
    def _separation_progressed(self, event: Separations.Progressed) -> None:
        self.separations.progressed(event)

    @on(Separations.SongReady)
    def _separation_song_ready(self, event: Separations.SongReady) -> None:
        self.separations.song_ready(event)

    @on(Separations.Ended)
    def _separation_ended(self, event: Separations.Ended) -> None:
        self.separations.ended(event)

    @on(SeparationScreen.PlayNow, "#separation")
    def _play_now(self, event: SeparationScreen.PlayNow) -> None:
        self.separations.play(event.run)

    @on(SeparationScreen.CancelRequested, "#separation")
    def _cancel_requested(self, event: SeparationScreen.CancelRequested) -> None:
        self.separations.cancel(event.run)

    # -- actions and commands -------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Keys", "Show every key (?)", self.action_help)
        if isinstance(screen, SeparationScreen):
            yield SystemCommand("Play now", "Play what is separated so far (p)", screen.action_play_now)
            yield SystemCommand("Separate in the background", "Back to the library (b)", screen.action_background)
            yield SystemCommand("Cancel the separation", "Nothing is stored (esc)", screen.action_cancel)
        if isinstance(screen, PlayerScreen):
            yield SystemCommand("Play / pause", "Start or stop playback (space)", screen.action_toggle_play)
            yield SystemCommand("Reset the mix", "Unmute, unsolo, every volume to 0 dB (0)", screen.action_reset_mix)
            yield SystemCommand(
                "Type a loop",
                "Set the loop as START-END, e.g. 0:30.250-0:45 (:)",
                partial(screen.action_loop, "type_loop"),
            )
            yield SystemCommand(
                "Clear the loop", "Forget the loop points (backspace)", partial(screen.action_loop, "clear")
            )
            yield SystemCommand("Back to the library", "Leave the player (q)", screen.action_back)
        if isinstance(screen, LibraryScreen):
            yield SystemCommand(
                "Add a song", "A folder of stems, a .stem.mp4 or an audio file to separate (a)", screen.action_add
            )
            yield SystemCommand(
                "Separate again", "The highlighted song, with another model (r)", screen.action_reseparate
            )
            yield SystemCommand("Sort by the next column", "Cycle the sort column (s)", screen.action_cycle_sort)


# -- entry point ---------------------------------------------------------------------------
def setup_logging(folder: Path) -> Path | None:
    """Log to ``stemtui.log`` in ``folder`` (``Settings.log_dir``).

    Returns:
        The log file, or ``None`` if it cannot be written (logging then stays off).
    """
    path = Path(folder).expanduser() / "stemtui.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=1 << 20, backupCount=2, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("stemtui")
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, RotatingFileHandler)]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
    return path


def run_app(settings: Settings, target: str | None = None) -> int:
    """Run the app: the library, or ``target`` (a song in the library, or a path) in the player.

    A ``target`` that names no song raises :class:`~stemtui.core.errors.BadInput`
    before the screen changes, so the CLI prints it as one line.
    """
    logfile = setup_logging(settings.log_dir)
    log.info("stemtui starting (target=%r, log=%s)", target, logfile)
    store = settings.store()
    entry = path = None
    if target:
        candidate = Path(target).expanduser()
        if candidate.exists():
            path = candidate
        else:
            from stemtui.core.library.catalog import find_song

            entry = find_song(store, target)
    app = StemtuiApp(settings, entry, path, store=store)
    # PortAudio/ALSA write to fd 2 from C: to the log folder, never over the screen.
    try:
        with NativeStderr(settings.log_dir):
            result = app.run()
    finally:
        log.info("stemtui stopped")
    return int(result or 0)
