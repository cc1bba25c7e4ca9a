"""The player's take keys: record, stop, discard, compare, rename, delete.

:class:`TakeControl` is a helper the
:class:`~stemtui.ui.screens.player.PlayerScreen` owns (made in its
``__init__``, started in ``on_mount``, closed in ``on_unmount``); the
screen's ``take(name)`` action only delegates to it. ``R`` starts a take:
the count-in plays first (as for playback), then the backing, while the
recorder copies the input. ``R`` or ``space`` stops it: the take is saved,
and the song is opened again with the take appended as a stem (``take:ID``),
the mix and playhead kept. ``esc`` discards it. On a take's row, ``C``
compares it with a stem (in a worker process) and opens the comparison view;
a note picked there is looped. ``F2`` renames a take, ``x`` deletes it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from textual.worker import get_current_worker

from stemtui.core.errors import BadInput, StemtuiError
from stemtui.core.takes.takemix import is_take_row, take_id_of, take_row
from stemtui.ui.fmt import fall, fmt_length, fmt_take
from stemtui.ui.guard import guarded
from stemtui.ui.takeseams import begin_recording, open_take_store, run_compare, song_with_takes
from stemtui.ui.widgets.keys import KeyReminder
from stemtui.ui.widgets.rec_indicator import RecordIndicator, RecState
from stemtui.ui.widgets.titlebar import TitleBar

if TYPE_CHECKING:
    import numpy as np
    from textual.screen import Screen

    from stemtui.core.analysis.comparison import CompareResult, NoteResult
    from stemtui.core.audio.engine import Engine
    from stemtui.core.audio.mixer import Mixer
    from stemtui.core.audio.song import Song
    from stemtui.core.library.store import Entry
    from stemtui.core.takes.takestore import Take, TakeStore
    from stemtui.ui.practice_keeper import PracticeKeeper
    from stemtui.ui.screens.loops import LoopControl
    from stemtui.ui.takeseams import Recording
    from stemtui.ui.widgets.stem_table import StemTable

log = logging.getLogger("stemtui.ui")

#: Seconds of song either side of a note looped from the comparison view.
NOTE_MARGIN_S = 0.25


class TakeControl:
    """Recording and the takes of one player's song.

    Args:
        screen: The player: notifications, thread workers, dialogs, and
            :meth:`load_song` to open the song again with a new take.
        entry: The song (takes need it stored).
        engine: The engine whose input is recorded.
        keeper: Saves the mix and playhead before the song is opened again.
        loops: Loops a note picked in the comparison view.
    """

    def __init__(
        self, screen: Screen, entry: Entry, engine: Engine, keeper: PracticeKeeper, loops: LoopControl
    ) -> None:
        self.screen = screen
        self.entry = entry
        self.engine = engine
        self.keeper = keeper
        self.loops = loops
        #: The takes store, from :meth:`start` (``None`` for a song not stored).
        self.store: TakeStore | None = None
        #: The song's takes by id, as listed when the song was (re)opened.
        self.takes: dict[str, Take] = {}
        self.mixer: Mixer | None = None
        #: The take being recorded, or ``None``.
        self.recording: Recording | None = None
        #: What the device-free input records (the null engine's): silence, or this (tests).
        self.null_feed: np.ndarray | None = None
        self._level = float("-inf")
        self._problems: list[str] = []
        self._indicator: RecordIndicator | None = None

    def notify(self, message: str, **kwargs) -> None:
        self.screen.notify(message, **kwargs)

    # -- lifecycle -------------------------------------------------------------
    @property
    def state(self) -> RecState:
        """``idle``, ``counting`` (the count-in plays) or ``recording``."""
        if self.recording is None:
            return "idle"
        return "counting" if self.recording.counting_in else "recording"

    def start(self) -> None:
        """Open the takes store (the screen's ``on_mount``)."""
        if self.entry.ok and self.store is None:
            self.store = open_take_store(self.screen.app.settings)

    def close(self) -> None:
        """Stop a take still recording and keep it (the screen's ``on_unmount``): nothing is lost."""
        rec, self.recording = self.recording, None
        if rec is not None:
            try:
                rec.stop()
            except Exception:
                log.exception("stopping a take on leaving")

    def with_takes(self, song: Song) -> Song:
        """``song`` with its takes appended as stems (from the screen's load worker)."""
        if self.store is None or not song.id:
            return song
        takes, song, problems = song_with_takes(self.store, song)
        self.takes = {t.id: t for t in takes}
        self._problems = problems
        return song

    def attach(self, mixer: Mixer, table: StemTable) -> None:
        """The song was (re)opened: show its takes as rows."""
        self.mixer = mixer
        if self._problems:
            self.notify("; ".join(self._problems), severity="warning", timeout=8)
            self._problems = []
        labels = {take_row(t.id): fmt_take(t.name, t.start_s, t.duration_s) for t in self.takes.values()}
        n = len(self.takes)
        counts = f"{mixer.stem_count - n} stems" + (f" · {n} take{'s' if n > 1 else ''}" if n else "")
        self.screen.query_one("#song-title", TitleBar).note = f"{counts} · {fmt_length(mixer.song.duration)}"
        self.screen.run_worker(table.set_stems(list(mixer.song.names), labels), group="stem-rows")
        reminder = self.screen.query_one("#cheatsheet", KeyReminder)
        reminder.full = KeyReminder.fits(*self.screen.size, len(mixer.song.names))  # a take's row takes room

    # -- polling (the screen's 20 Hz tick) -----------------------------------------
    def poll(self, dt: float) -> None:
        """Start the backing once the input flows, stop at the song's end; show state, time and level."""
        rec = self.recording
        if rec is not None:
            try:
                if rec.poll():
                    self.stop()
                    return
            except StemtuiError as exc:
                self.recording = None
                rec.discard()
                self.notify(str(exc), severity="error", timeout=8)
        bar = self._bar()
        bar.state = self.state
        rec = self.recording
        if rec is None:
            self._level = float("-inf")
            return
        self._level = fall(self._level, rec.take_peak_db(), dt)
        bar.level_db = self._level
        bar.elapsed = rec.elapsed_s

    # -- record / stop / discard -----------------------------------------------
    @guarded
    def record(self) -> None:
        """``R``: start a take, or stop the one recording (and keep it)."""
        if self.recording is not None:
            self.stop()
            return
        m = self.mixer
        if m is None:
            return
        if self.store is None or not self.entry.ok:
            raise BadInput("record", "only a stored song can take recordings (wait for the separation)")
        m.pause()
        reference = next((n for i, n in enumerate(m.song.names) if m.mute[i] and not is_take_row(n)), "")
        try:
            self.recording = begin_recording(
                self.engine, m, self.store, reference, self.screen.app.settings, self.null_feed
            )
        except StemtuiError as exc:
            self.notify(str(exc), severity="error", timeout=8)  # playback is unaffected
            return
        self.poll(0.0)  # the backing (and its count-in) starts once the input flows

    def stop(self) -> bool:
        """``space`` or ``R`` while recording: keep the take; whether there was one."""
        rec, self.recording = self.recording, None
        if rec is None:
            return False
        if self.mixer is not None:
            self.mixer.pause()
        self.poll(0.0)
        self.screen.run_worker(lambda: self._finish(rec), thread=True, group="take-finish")
        return True

    def _finish(self, rec: Recording) -> None:
        """Save the take (a thread worker: it writes the file), then open the song again."""
        try:
            take = rec.stop()
        except Exception as exc:
            log.exception("saving a take")
            self.screen.app.call_from_thread(self.screen.notify, f"take not saved: {exc}", severity="error")
            return
        self.screen.app.call_from_thread(self._saved, take)

    def _saved(self, take: Take | None) -> None:
        if take is None:
            self.notify("nothing was recorded (the input delivered no audio)", severity="warning", timeout=5)
            return
        self.screen.notify(f"{fmt_take(take.name, take.start_s, take.duration_s)} saved", timeout=3)
        self.reopen()

    def discard(self) -> bool:
        """``esc`` while recording: throw the take away; whether there was one."""
        rec, self.recording = self.recording, None
        if rec is None:
            return False
        if self.mixer is not None:
            self.mixer.pause()
        rec.discard()
        self.poll(0.0)
        self.screen.notify("take discarded", timeout=2)
        return True

    def reopen(self) -> None:
        """Open the song again (its takes changed), keeping the mix and the playhead."""
        self.keeper.save_now()
        self.screen.autoplay = False
        self.screen.load_song()

    # -- takes: the selected row ----------------------------------------------------
    def selected(self) -> Take | None:
        """The take on the table's selected row (``None`` and a hint when it is a stem)."""
        m = self.mixer
        if m is None:
            return None
        i = self.screen.table.selected
        name = m.song.names[i] if 0 <= i < m.stem_count else ""
        tid = take_id_of(name)
        take = self.takes.get(tid) if tid is not None else None
        if take is None:
            raise BadInput("takes", "select a take's row first (↑ ↓); R records one")
        return take

    @guarded
    def compare(self) -> None:
        """``C``: pick the stem to compare the selected take with, then compare."""
        take = self.selected()
        if take is None or self.mixer is None:
            return
        from stemtui.ui.screens.take_dialogs import ReferenceScreen

        stems = [n for n in self.mixer.song.names if not is_take_row(n)]
        self.screen.app.push_screen(
            ReferenceScreen(take.name, stems, take.reference), lambda ref: self._compare(take, ref)
        )

    def _compare(self, take: Take, reference: str | None) -> None:
        if not reference or self.store is None or self.mixer is None:
            return
        self.notify(f"comparing {take.name} with the {reference} …", timeout=3)
        self._show_busy(f"comparing {take.name} …")
        self.screen.run_worker(lambda: self._run_compare(take, reference), thread=True, exclusive=True, group="compare")

    def _run_compare(self, take: Take, reference: str) -> None:
        """The analysis, in a worker process this thread waits on; then the view."""
        worker = get_current_worker()
        call = self.screen.app.call_from_thread

        def progress(fraction: float, stage: str) -> None:
            call(self._show_busy, f"comparing {fraction * 100:3.0f}% {stage}")

        try:
            result = run_compare(self.entry, take, reference, progress, lambda: worker.is_cancelled)
        except Exception as exc:
            log.exception("comparing take %s", take.id)
            call(self._compared, None, f"compare {take.name} with the {reference}: {exc}")
            return
        call(self._compared, result, "")

    def _show_busy(self, text: str) -> None:
        self._bar().note = text

    def _bar(self) -> RecordIndicator:
        """The player's recording indicator (found once)."""
        if self._indicator is None:
            self._indicator = self.screen.query_one("#rec", RecordIndicator)
        return self._indicator

    def _compared(self, result: CompareResult | None, error: str) -> None:
        self._show_busy("")
        if error:
            self.notify(error, severity="error", timeout=8)
        elif result is not None and self.screen.is_current:
            self.show_comparison(result)

    def show_comparison(self, result: CompareResult) -> None:
        """Open the comparison view; a note picked there is looped."""
        from stemtui.ui.screens.compare_screen import CompareScreen

        self.screen.app.push_screen(CompareScreen(result, self.entry.title), self.loop_note)

    @guarded
    def loop_note(self, note: NoteResult | None) -> None:
        """Loop a note picked in the comparison view (with a little room either side), from its start."""
        if note is None or self.mixer is None:
            return
        start = max(0.0, note.ref_start - NOTE_MARGIN_S)
        self.loops.set_span(start, note.ref_end + NOTE_MARGIN_S)
        self.mixer.play()

    @guarded
    def rename(self) -> None:
        """``F2``: rename the selected take."""
        take = self.selected()
        if take is None:
            return
        from stemtui.ui.screens.take_dialogs import TakeNameScreen

        self.screen.app.push_screen(TakeNameScreen(take.name, lambda name: self._rename(take, name)))

    def _rename(self, take: Take, name: str) -> None:
        name = name.strip()
        if not name:
            raise BadInput("take name", "empty")
        assert self.store is not None and self.mixer is not None
        self.takes[take.id] = self.store.rename(take.song_id, take.id, name)
        self.attach(self.mixer, self.screen.table)

    @guarded
    def delete(self) -> None:
        """``x``: delete the selected take (asks first)."""
        take = self.selected()
        if take is None:
            return
        from stemtui.ui.screens.dialogs import ConfirmScreen

        question = f"Delete {fmt_take(take.name, take.start_s, take.duration_s)}?"
        self.screen.app.push_screen(
            ConfirmScreen(question, "The recording is removed from disk."), lambda yes: self._delete(take, yes)
        )

    @guarded
    def _delete(self, take: Take, yes: bool | None) -> None:
        if not yes or self.store is None:
            return
        self.store.remove(take.song_id, take.id)
        self.takes.pop(take.id, None)
        self.screen.notify(f"{take.name} deleted", timeout=2)
        self.reopen()
