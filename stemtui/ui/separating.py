"""Separating single audio files from the app: a thread worker drives the core's job.

:class:`SeparatingApp` is the part of :class:`~stemtui.ui.app.StemtuiApp`
that separates. :meth:`SeparatingApp.request_separation` makes a
:class:`~stemtui.ui.seprun.SeparationRun`, shows it on a
:class:`~stemtui.ui.screens.separation_screen.SeparationScreen` and starts
:meth:`SeparatingApp._separate`, a thread worker that drives
:class:`stemtui.core.separation.job.SeparationJob`:

1. the job hashes the file and looks it up in the store: a hit ends at once;
2. ``start()`` decodes the file and spawns the worker process;
3. ``song()`` waits for the model and returns the progressive song (play now);
4. short waits on the task, checking the worker's ``is_cancelled`` in between;
5. ``finish()`` writes the stems as FLAC and commits the entry.

Everything comes back to the UI thread as messages. :class:`SeparatingApp.Progressed`
defines ``can_replace``, so a flood of reports collapses into the latest.
Failures become a notification with their one-line reason. Esc
(:class:`~stemtui.ui.screens.separation_screen.SeparationScreen.CancelRequested`)
cancels the worker and the job: no entry and no temporary folder are left.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App
from textual.message import Message
from textual.worker import get_current_worker

from stemtui.core.errors import StemtuiError
from stemtui.core.library.store import Entry
from stemtui.ui.screens.player import PlayerScreen
from stemtui.ui.screens.separation_screen import SeparationScreen
from stemtui.ui.seprun import SeparationRun, separation_options

if TYPE_CHECKING:
    from stemtui.core.separation.job import SeparationJob
    from stemtui.core.separation.splitter import Progress, SeparationOptions
    from stemtui.core.audio.song import Song

log = logging.getLogger("stemtui.ui")

#: The worker group: one separation at a time.
SEPARATION_GROUP = "separation"
#: Niceness of the separation process: the player may play meanwhile.
SEPARATION_NICE = 10
#: How long the worker waits on the job between two looks at ``is_cancelled``.
POLL_S = 0.1


def finished(job: SeparationJob, timeout: float) -> bool:
    """Wait up to ``timeout`` s for the job's worker process to end.

    Raises:
        The job's failure (ModelUnavailable, SeparationFailed…) once it ended with one.
    """
    try:
        job.task.wait(timeout)
    except TimeoutError:
        return False
    return True


def one_line(exc: BaseException) -> str:
    """An exception's message, first line only."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class SeparatingApp(App[int]):
    """An app that separates audio files in a thread worker (a base of ``StemtuiApp``)."""

    @dataclass
    class Started(Message):
        """The file is decoded and the worker process runs (the model is loading)."""

        run: SeparationRun
        title: str
        artist: str

    @dataclass
    class Progressed(Message):
        """A progress report; a newer one for the same run replaces it in the queue."""

        run: SeparationRun
        progress: Progress

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, SeparatingApp.Progressed) and message.run is self.run

    @dataclass
    class SongReady(Message):
        """The model is loaded: the progressive song exists (play now, once a chunk is done)."""

        run: SeparationRun
        song: Song

    @dataclass
    class Ended(Message):
        """The run is over: stored (``entry``), found in the cache, failed (``error``) or cancelled."""

        run: SeparationRun
        entry: Entry | None = None
        error: str = ""
        cancelled: bool = False
        cached: bool = False

    def __init__(self, separation_base: SeparationOptions | None = None) -> None:
        super().__init__()
        #: Options every separation starts from (default: the environment's, see ``separation_options``).
        self.separation_base = separation_base
        #: The separation running (or the last one), shown by the screens.
        self.separation: SeparationRun | None = None

    # -- requests ------------------------------------------------------------------------
    def request_separation(self, path: Path, **changes) -> SeparationRun | None:
        """Separate a single audio file into stems (or find it in the cache), then open it.

        Args:
            path: The audio file.
            **changes: Options to change, e.g. ``model=``, ``two_stems=`` (``r`` in the library).

        Returns:
            The new run, or ``None`` when it could not start (a notification says why).
        """
        running = self.separation
        if running is not None and running.active:
            self.notify(f"already separating {running.title} ({running.label()}): one at a time", severity="warning")
            self.show_separation(running)
            return None
        try:
            options = separation_options(self.separation_base, **changes)
        except StemtuiError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return None
        run = SeparationRun(Path(path), options)
        self.separation = run
        self.push_screen(SeparationScreen(run))
        self._separate(run)
        return run

    def show_separation(self, run: SeparationRun) -> None:
        """Bring up the separation screen of a running separation."""
        screen = self.screen
        if not (isinstance(screen, SeparationScreen) and screen.run is run):
            self.push_screen(SeparationScreen(run))

    def play_separating(self, run: SeparationRun) -> None:
        """Open the player on the part separated so far; separation goes on behind it.

        Once the run is stored, this opens the stored song instead.
        """
        if run.phase == "done" and run.entry is not None:
            player = PlayerScreen(run.entry, autoplay=self.autoplay)
        elif run.playable:
            player = PlayerScreen(run.as_entry(), autoplay=self.autoplay, song=run.song, run=run)
        else:
            return
        if isinstance(self.screen, SeparationScreen):
            self.switch_screen(player)
        else:
            self.push_screen(player)

    def cancel_separation(self, run: SeparationRun) -> None:
        """Stop a separation: the worker and the job (which kills its process)."""
        if not run.active or run.phase == "cancelling":
            return
        run.phase = "cancelling"
        self.workers.cancel_group(self, SEPARATION_GROUP)
        if run.job is not None:
            run.job.cancel()
        self._separation_changed(run)

    def stop_separation(self) -> None:
        """Cancel a running separation as the app closes (no screen is updated)."""
        run = self.separation
        if run is not None and run.active:
            self.workers.cancel_group(self, SEPARATION_GROUP)
            if run.job is not None:
                run.job.cancel()

    def separation_rows(self) -> list[Entry]:
        """Library rows for this app's running separation."""
        run = self.separation
        return [run.as_entry()] if run is not None and run.active else []

    def separation_for(self, entry: Entry) -> SeparationRun | None:
        """This app's running separation shown as ``entry`` in the library, if any."""
        run = self.separation
        if run is not None and run.active and entry.id in (run.song_id, run.key):
            return run
        return None

    # -- the worker ------------------------------------------------------------------------
    def _post(self, message: Message) -> None:
        """Post from any thread; dropped once the app is closing."""
        try:
            self.post_message(message)
        except RuntimeError:  # the event loop is gone
            pass

    @work(thread=True, exclusive=True, group=SEPARATION_GROUP, exit_on_error=False)
    def _separate(self, run: SeparationRun) -> None:
        from stemtui.core.separation.job import SeparationJob
        from stemtui.core.separation.splitter import SeparationCancelled

        worker = get_current_worker()

        def check() -> None:
            if worker.is_cancelled:
                raise SeparationCancelled("separation cancelled")

        job = None
        try:
            job = SeparationJob(self.store, run.path, run.options, nice=SEPARATION_NICE,
                                on_progress=lambda p: self._post(self.Progressed(run, p)))
            run.job, run.song_id = job, job.id
            hit = job.lookup()
            if hit is not None:
                self._post(self.Ended(run, entry=hit, cached=True))
                return
            check()
            job.start()
            self._post(self.Started(run, job.meta.title, job.meta.artist))
            check()
            self._post(self.SongReady(run, job.song()))
            while not finished(job, POLL_S):
                check()
            entry = job.finish()
            if worker.is_cancelled:  # Esc while the stems were being written
                self.store.remove(entry)
                raise SeparationCancelled("separation cancelled")
        except SeparationCancelled:
            if job is not None:
                job.discard()
            self._post(self.Ended(run, cancelled=True))
        except StemtuiError as exc:
            if job is not None:
                job.discard()
            self._post(self.Ended(run, error=one_line(exc)))
        except Exception as exc:
            log.exception("separating %s", run.path)
            if job is not None:
                job.discard()
            self._post(self.Ended(run, error=f"separation failed: {type(exc).__name__}: {one_line(exc)} (see the log)"))
        else:
            self._post(self.Ended(run, entry=entry))

    # -- reports (UI thread) ---------------------------------------------------------------
    def _separation_changed(self, run: SeparationRun) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, SeparationScreen) and screen.run is run:
                screen.show_run()
        lib = self.library
        if lib is not None:
            lib.refresh_separations()

    @on(Started)
    def _separation_started(self, event: Started) -> None:
        run = event.run
        run.title, run.artist = event.title or run.title, event.artist
        if run.phase == "starting":
            run.phase = "loading"
        self._separation_changed(run)

    @on(Progressed)
    def _separation_progressed(self, event: Progressed) -> None:
        run = event.run
        run.progress, run.progress_at = event.progress, time.monotonic()
        if run.phase in ("starting", "loading"):
            run.phase = "separating"
        if run.phase == "separating" and event.progress.fraction >= 1.0:
            run.phase = "storing"
        self._separation_changed(run)

    @on(SongReady)
    def _separation_song_ready(self, event: SongReady) -> None:
        event.run.song = event.song
        self._separation_changed(event.run)

    @on(SeparationScreen.PlayNow, "#separation")
    def _play_now(self, event: SeparationScreen.PlayNow) -> None:
        self.play_separating(event.run)

    @on(SeparationScreen.CancelRequested, "#separation")
    def _cancel_requested(self, event: SeparationScreen.CancelRequested) -> None:
        self.cancel_separation(event.run)

    @on(Ended)
    def _separation_ended(self, event: Ended) -> None:
        run, entry = event.run, event.entry
        here = isinstance(self.screen, SeparationScreen) and self.screen.run is run
        if event.cancelled:
            run.phase = "cancelled"
            self.notify(f"{run.title}: separation cancelled, nothing stored", severity="warning", timeout=5)
        elif event.error:
            run.phase, run.error = "failed", event.error
            self.notify(event.error, title=f"could not separate {run.path.name}", severity="error", timeout=15)
        else:
            run.phase, run.entry = "done", entry
            what = "already separated" if event.cached else "stored"
            self.notify(f"{what}: {entry.title} ({', '.join(entry.stems)}; {entry.model})", timeout=6)
        self._separation_changed(run)
        lib = self.library
        if lib is not None:
            lib.reload(select=entry.id if entry is not None else None)
        if here:
            if entry is not None:
                self.switch_screen(PlayerScreen(entry, autoplay=self.autoplay))
            else:
                self.pop_screen()
