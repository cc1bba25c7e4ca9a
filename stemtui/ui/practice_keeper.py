"""The player's keeper of saved practice state: restore on open, save after changes and on leaving.

:class:`PracticeKeeper` is a small object the player screen owns. It reads
the song's state in the screen's load worker (a file read, off the UI
thread), applies the mix, loop and playhead to the mixer before playback
starts, and writes the state back:

* debounced, :attr:`PracticeKeeper.DELAY` seconds after the last change,
  from a screen timer (the UI thread captures the mixer; a one-thread writer
  does the fsync, so a slow disk never holds up a key);
* at once when the player is left (``q``/``esc``, the app exiting), waiting
  for a queued write first so writes land in order.

Nothing is written when nothing changed, and nothing at all for a song
still being separated (its id is not final). The audio thread is never
involved. Named loops live here too: the loop keys of
:class:`~stemtui.ui.screens.loops.LoopControl` go through :meth:`save_loop`,
:meth:`delete_loop` and :meth:`next_loop`.
"""

from __future__ import annotations

import copy
import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from stemtui.core.errors import BadInput, StemtuiError
from stemtui.core.library.practice import NamedLoop, PracticeState, PracticeStore
from stemtui.core.library.practicemix import apply, capture
from stemtui.ui.loop import LoopEditor

if TYPE_CHECKING:
    from textual.screen import Screen
    from textual.timer import Timer

    from stemtui.core.audio.mixer import Mixer

log = logging.getLogger("stemtui.ui")

#: Longest name a saved loop may have (it shows in the transport panel's border).
NAME_MAX = 40


class PracticeKeeper:
    """Restores and saves one song's practice state for the player screen.

    Args:
        screen: The player screen (its timers and notifications are used).
        states: Where the state files are.
        song_id: The song's id, or ``None`` to keep nothing (a song still
            separating: its id is not final yet).
    """

    #: Seconds after the last change before the state is written.
    DELAY = 2.0
    #: Seconds between looks at a background write still running.
    POLL = 0.25

    def __init__(self, screen: Screen, states: PracticeStore, song_id: str | None) -> None:
        self.screen = screen
        self.states = states
        self.song_id = song_id
        #: The state as last restored or captured; named loops and the
        #: settings other code owns (tempo, transpose, grid…) live here.
        self.state = PracticeState()
        self.mixer: Mixer | None = None
        self.loop: LoopEditor | None = None
        self._saved: PracticeState | None = None
        self._timer: Timer | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future | None = None
        self._failed = False

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def armed(self) -> bool:
        """Whether changes are being saved (the song is restored and the keeper not closed)."""
        return self.mixer is not None and self._writer is not None and self.song_id is not None

    def start(self) -> None:
        """Start the writer thread (the screen's ``on_mount``)."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stemtui-practice")

    def close(self) -> None:
        """Save what changed, then stop the writer; later changes are not saved.

        Called on leaving the player and from the screen's ``on_unmount``
        (the second call does nothing).
        """
        self._cancel_timer()
        if self.armed:
            self._wait()
            self._save(background=False)
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    # -- restoring -----------------------------------------------------------------------
    def load(self, stems: list[str], duration: float) -> tuple[PracticeState, str | None]:
        """Read the saved state (from the screen's load worker thread; never raises)."""
        if self.song_id is None:
            return PracticeState(), None
        return self.states.load(self.song_id, stems, duration)

    def restore(self, mixer: Mixer, state: PracticeState, message: str | None) -> LoopEditor:
        """Apply ``state`` to ``mixer`` (before playback starts); returns the loop editor.

        ``message`` (what :meth:`PracticeStore.load` found wrong) and anything that
        did not fit the song are shown once, as a warning.
        """
        problem = apply(mixer, state)
        self.state, self.mixer = state, mixer
        self.loop = LoopEditor(mixer)
        if state.loop is not None and self.loop.complete:
            self.loop.name = state.loop.name
        # What is on disk now: a save with nothing changed is skipped.
        self._saved = capture(mixer, state, self.loop.name)
        note = "; ".join(m for m in (message, problem) if m)
        if note:
            self.screen.notify(note, severity="warning", timeout=8)
        return self.loop

    # -- saving ---------------------------------------------------------------------------
    def save_now(self) -> None:
        """Write the state at once (before an export reads it)."""
        self._save(background=False)

    def touch(self) -> None:
        """Something changed: save :attr:`DELAY` seconds after the last such call."""
        if not self.armed:
            return
        self._cancel_timer()
        self._timer = self.screen.set_timer(self.DELAY, self._save, name="practice-save")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _save(self, background: bool = True) -> None:
        """Capture the mixer (UI thread) and write the state if it changed."""
        self._timer = None
        if not self.armed:
            return
        assert self.mixer is not None and self.song_id is not None and self._writer is not None
        self.state = capture(self.mixer, self.state, self.loop.name if self.loop else None)
        self._report()
        if self.state == self._saved:
            return
        # The writer gets its own copy: the UI goes on changing self.state.
        self._saved = snapshot = copy.deepcopy(self.state)
        if background:
            self._pending = self._writer.submit(self.states.save, self.song_id, snapshot)
            self.screen.set_timer(self.POLL, self._poll, name="practice-save-check")
            return
        try:
            self.states.save(self.song_id, snapshot)
        except (StemtuiError, OSError, ValueError) as exc:
            self._failed_once(exc)
        else:
            self._failed = False

    def _poll(self) -> None:
        """Tell a background write's failure soon after it happened, not at the next change."""
        self._report()
        if self._pending is not None and self._writer is not None:
            self.screen.set_timer(self.POLL, self._poll, name="practice-save-check")

    def _wait(self) -> None:
        """Let a queued background write finish (so the final one lands last)."""
        if self._pending is not None:
            wait([self._pending])
            self._report()

    def _report(self) -> None:
        """Say once if a background write failed (checked on the UI thread, never from the writer)."""
        fut = self._pending
        if fut is None or not fut.done():
            return
        self._pending = None
        exc = fut.exception()
        if exc is not None:
            self._failed_once(exc)
        else:
            self._failed = False  # saving works again: a new failure is told again

    def _failed_once(self, exc: BaseException) -> None:
        """Log every failure; tell the first of a run of them in one line (the old file stays as it was)."""
        log.warning("saving practice state of %s: %s", self.song_id, exc)
        self._saved = None  # try again after the next change
        if not self._failed:
            self._failed = True
            self.screen.notify(f"could not save the practice state: {exc}", severity="error", timeout=8)

    # -- named loops -------------------------------------------------------------------------
    @property
    def loops(self) -> list[NamedLoop]:
        """The saved loops, by start time."""
        return self.state.loops

    def default_name(self) -> str:
        """A free name to offer when saving: ``loop 1``, ``loop 2``…"""
        n = 1
        while self.state.find_loop(f"loop {n}") is not None:
            n += 1
        return f"loop {n}"

    def save_loop(self, name: str, start: float, end: float) -> tuple[str, bool]:
        """Save the loop ``start``–``end`` under ``name`` (spaces tidied).

        Returns:
            The name as saved, and whether a loop of that name was replaced.

        Raises:
            BadInput: If the name is empty or too long.
        """
        name = " ".join(name.split())
        if not name:
            raise BadInput("loop name", "type a name, e.g. verse")
        if len(name) > NAME_MAX:
            raise BadInput(f"loop name {name[:NAME_MAX]}…", f"too long (at most {NAME_MAX} characters)")
        replaced = self.state.put_loop(name, start, end)
        self.touch()
        return name, replaced

    def delete_loop(self, name: str) -> None:
        """Forget the saved loop ``name`` (the active loop stays as it is, unnamed)."""
        if self.state.drop_loop(name):
            if self.loop is not None and self.loop.name == name:
                self.loop.name = None
            self.touch()

    def next_loop(self, current: str | None) -> NamedLoop | None:
        """The saved loop after ``current`` (wrapping), the first one, or ``None`` without any."""
        loops = self.state.loops
        if not loops:
            return None
        names = [lp.name for lp in loops]
        return loops[(names.index(current) + 1) % len(loops)] if current in names else loops[0]
