"""Separating single audio files from the app: a thread worker drives the core's job.

:class:`Separations` is the helper the app owns for this (one separation
at a time). :meth:`Separations.request` makes a
:class:`~stemtui.ui.seprun.SeparationRun`, shows it on a
:class:`~stemtui.ui.screens.separation_screen.SeparationScreen` and starts
:meth:`Separations._separate` in one of the app's thread workers, which drives
:class:`stemtui.core.separation.job.SeparationJob`:

1. the job hashes the file and looks it up in the store: a hit ends at once;
2. ``start()`` decodes the file and spawns the worker process;
3. ``song()`` waits for the model and returns the progressive song (play now);
4. short waits on the task, checking the worker's ``is_cancelled`` in between;
5. ``finish()`` writes the stems as FLAC and commits the entry.

Everything comes back to the UI thread as messages posted to the app
(:class:`Separations.Started`, ``Progressed``, ``SongReady``, ``Ended``),
whose ``@on`` handlers hand them back to the helper. ``Progressed``
defines ``can_replace``, so a flood of reports collapses into the latest.
Failures become a notification with their one-line reason. Esc
(:class:`~stemtui.ui.screens.separation_screen.SeparationScreen.CancelRequested`)
cancels the worker and the job: no entry and no temporary folder are left.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App
from textual.message import Message
from textual.screen import Screen
from textual.worker import get_current_worker

from stemtui.core.errors import StemtuiError
from stemtui.core.library.store import Entry
from stemtui.ui.screens.separation_screen import SeparationScreen
from stemtui.ui.seprun import SeparationRun, separation_options

if TYPE_CHECKING:
    from stemtui.core.audio.song import Song
    from stemtui.core.library.store import Store
    from stemtui.core.separation.job import SeparationJob
    from stemtui.core.separation.splitter import Progress, SeparationOptions
    from stemtui.ui.screens.library_screen import LibraryScreen

    #: Makes the player screen for a stored entry, or for a run's progressive song.
    PlayerFactory = Callable[[Entry, Song | None, SeparationRun | None], Screen]

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


class Separations:
    """The app's separations of single audio files, one at a time.

    Args:
        app: The app: its workers run the separation, its screens show it,
            its message queue carries the worker's reports (the app's ``@on``
            handlers pass them to :meth:`started`, :meth:`progressed`,
            :meth:`song_ready` and :meth:`ended`).
        store: Where separated songs are stored.
        base: Makes the options every separation starts from (raises
            :class:`~stemtui.core.errors.BadInput` for bad settings).
        player: Makes the player screen (see ``PlayerFactory``).
        library: The library screen, if it is up (to show the runs as rows).
    """

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
            return isinstance(message, Separations.Progressed) and message.run is self.run

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
        died: bool = False  # the worker process died: retry offered

    def __init__(
        self,
        app: App,
        store: Store,
        base: Callable[[], SeparationOptions],
        player: PlayerFactory,
        library: Callable[[], LibraryScreen | None],
    ) -> None:
        self.app = app
        self.store = store
        self.base = base
        self.player = player
        self.library = library
        #: The separation running (or the last one), shown by the screens.
        self.run: SeparationRun | None = None

    # -- requests ------------------------------------------------------------------------
    def request(self, path: Path, **changes) -> SeparationRun | None:
        """Separate a single audio file into stems (or find it in the cache), then open it.

        Args:
            path: The audio file.
            **changes: Options to change, e.g. ``model=``, ``two_stems=`` (``r`` in the library).

        Returns:
            The new run, or ``None`` when it could not start (a notification says why).
        """
        app = self.app
        running = self.run
        if running is not None and running.active:
            app.notify(f"already separating {running.title} ({running.label()}): one at a time", severity="warning")
            self.show(running)
            return None
        try:
            options = separation_options(self.base(), **changes)
        except StemtuiError as exc:
            app.notify(str(exc), severity="error", timeout=8)
            return None
        run = SeparationRun(Path(path), options)
        self.run = run
        app.push_screen(SeparationScreen(run, on_retry=self.retry))
        app.run_worker(
            partial(self._separate, run), thread=True, exclusive=True, group=SEPARATION_GROUP, exit_on_error=False
        )
        return run

    def show(self, run: SeparationRun) -> None:
        """Bring up the separation screen of a running separation."""
        screen = self.app.screen
        if not (isinstance(screen, SeparationScreen) and screen.run is run):
            self.app.push_screen(SeparationScreen(run, on_retry=self.retry))

    def retry(self, run: SeparationRun) -> SeparationRun | None:
        """Separate ``run``'s file again with the same options (after its worker died).

        Its screen, if showing, shows the new run.
        """
        if run.active:
            return None
        fields = {f.name: getattr(run.options, f.name) for f in dataclasses.fields(run.options)}
        new = SeparationRun(run.path, separation_options(self.base(), **fields))
        self.run = new
        screen = self.app.screen
        if isinstance(screen, SeparationScreen) and screen.run is run:
            screen.run = new
            screen.show_run()
        else:
            self.app.push_screen(SeparationScreen(new, on_retry=self.retry))
        self.app.run_worker(
            partial(self._separate, new), thread=True, exclusive=True, group=SEPARATION_GROUP, exit_on_error=False
        )
        return new

    def play(self, run: SeparationRun) -> None:
        """Open the player on the part separated so far; separation goes on behind it.

        Once the run is stored, this opens the stored song instead.
        """
        if run.phase == "done" and run.entry is not None:
            player = self.player(run.entry, None, None)
        elif run.playable:
            player = self.player(run.as_entry(), run.song, run)
        else:
            return
        if isinstance(self.app.screen, SeparationScreen):
            self.app.switch_screen(player)
        else:
            self.app.push_screen(player)

    def cancel(self, run: SeparationRun) -> None:
        """Stop a separation: the worker and the job (which kills its process)."""
        if not run.active or run.phase == "cancelling":
            return
        run.phase = "cancelling"
        self.app.workers.cancel_group(self.app, SEPARATION_GROUP)
        if run.job is not None:
            run.job.cancel()
        self._changed(run)

    def stop(self) -> None:
        """Cancel a running separation as the app closes (no screen is updated)."""
        run = self.run
        if run is not None and run.active:
            self.app.workers.cancel_group(self.app, SEPARATION_GROUP)
            if run.job is not None:
                run.job.cancel()

    def rows(self) -> list[Entry]:
        """Library rows for this app's running separation."""
        run = self.run
        return [run.as_entry()] if run is not None and run.active else []

    def run_for(self, entry: Entry) -> SeparationRun | None:
        """This app's running separation shown as ``entry`` in the library, if any."""
        run = self.run
        if run is not None and run.active and entry.id in (run.song_id, run.key):
            return run
        return None

    # -- the worker (a thread) ----------------------------------------------------------------
    def _post(self, message: Message) -> None:
        """Post to the app from any thread; dropped once the app is closing."""
        try:
            self.app.post_message(message)
        except RuntimeError:  # the event loop is gone
            pass

    def _separate(self, run: SeparationRun) -> None:
        from stemtui.core.separation.job import SeparationJob
        from stemtui.core.separation.splitter import SeparationCancelled
        from stemtui.core.separation.task import SeparationWorkerDied

        worker = get_current_worker()

        def check() -> None:
            if worker.is_cancelled:
                raise SeparationCancelled("separation cancelled")

        job = None
        try:
            job = SeparationJob(
                self.store,
                run.path,
                run.options,
                nice=SEPARATION_NICE,
                on_progress=lambda p: self._post(self.Progressed(run, p)),
            )
            run.job, run.song_id = job, job.id
            hit = job.lookup()
            if hit is not None:
                self._post(self.Ended(run, entry=hit, cached=True))
                return
            check()
            from stemtui.core.separation.budget import check_disk

            check_disk(str(run.path), job.budget(), self.store.tmp_dir)  # one notification, nothing written
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
        except SeparationWorkerDied as exc:
            if job is not None:
                job.discard()
            self._post(self.Ended(run, error=exc.user_message, died=True))
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

    # -- reports (UI thread, from the app's handlers) ------------------------------------------
    def _changed(self, run: SeparationRun) -> None:
        for screen in self.app.screen_stack:
            if isinstance(screen, SeparationScreen) and screen.run is run:
                screen.show_run()
        lib = self.library()
        if lib is not None:
            lib.refresh_separations()

    def started(self, event: Started) -> None:
        """The file is decoded and the model is loading."""
        run = event.run
        run.title, run.artist = event.title or run.title, event.artist
        if run.phase == "starting":
            run.phase = "loading"
        self._changed(run)

    def progressed(self, event: Progressed) -> None:
        """A progress report."""
        run = event.run
        run.progress, run.progress_at = event.progress, time.monotonic()
        if run.phase in ("starting", "loading"):
            run.phase = "separating"
        if run.phase == "separating" and event.progress.fraction >= 1.0:
            run.phase = "storing"
        self._changed(run)

    def song_ready(self, event: SongReady) -> None:
        """The progressive song exists: play now can start once a chunk is done."""
        event.run.song = event.song
        self._changed(event.run)

    def ended(self, event: Ended) -> None:
        """The run is over: notify, refresh the library, and leave its screen for the player (or go back)."""
        app = self.app
        run, entry = event.run, event.entry
        here = isinstance(app.screen, SeparationScreen) and app.screen.run is run
        if event.cancelled:
            run.phase = "cancelled"
            app.notify(f"{run.title}: separation cancelled, nothing stored", severity="warning", timeout=5)
        elif event.died:
            # Stay on its screen (r retries there); elsewhere the library's a does.
            run.phase, run.error = "failed", event.error
            how = "press r to retry" if here else "add the file again (a in the library) to retry"
            app.notify(f"{run.path.name}: {event.error}; nothing stored; {how}", severity="error", timeout=30)
        elif event.error:
            run.phase, run.error = "failed", event.error
            app.notify(event.error, title=f"could not separate {run.path.name}", severity="error", timeout=15)
        else:
            run.phase, run.entry = "done", entry
            what = "already separated" if event.cached else "stored"
            app.notify(f"{what}: {entry.title} ({', '.join(entry.stems)}; {entry.model})", timeout=6)
        self._changed(run)
        lib = self.library()
        if lib is not None:
            lib.reload(select=entry.id if entry is not None else None)
        if here and event.died:  # its screen stays, offering r
            return
        if here:
            if entry is not None:
                app.switch_screen(self.player(entry, None, None))
            else:
                app.pop_screen()
