"""The player's practice keys: tempo, transpose, tap tempo, click, count-in, export, drop-ins.

:class:`PracticeControl` is a helper the
:class:`~stemtui.ui.screens.player.PlayerScreen` owns; the screen's
``practice(name, ...)`` action delegates to it. Tempo and pitch changes go to
:meth:`Mixer.set_tempo`, which renders ahead in worker processes: the key
returns at once and the change is heard well within a second. The beat grid
for the click and count-in comes from the saved state, the drums (estimated
in a child process, one of the screen's thread workers), or tap tempo. The
drop-in keys (``M``/``S``: a stem muted or soloed over the loop only) are
:class:`~stemtui.ui.range_actions.RangeControl`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.worker import Worker, get_current_worker

from stemtui.core.analysis.beats import BeatGrid, TapTempo
from stemtui.core.tempo.stretch import SEMITONES_MAX, SEMITONES_MIN, TEMPO_MAX, TEMPO_MIN
from stemtui.ui.range_actions import RangeControl
from stemtui.ui.widgets.stem_table import StemTable

if TYPE_CHECKING:
    from textual.screen import Screen

    from stemtui.core.audio.mixer import Mixer
    from stemtui.core.library.practice import PracticeState
    from stemtui.core.library.store import Entry
    from stemtui.ui.practice_keeper import PracticeKeeper

#: Tempo step of `,` and `.`.
TEMPO_STEP = 0.05
#: Count-in choices `c` cycles through.
COUNT_INS = (0, 4, 2, 1, 8)


def describe_practice(tempo: float, semitones: int, grid: BeatGrid | None, click: bool, count_in: int) -> str:
    """The status line's practice part, e.g. ``85% · -2 st · 82 BPM · click · count-in 4`` (BPM as heard)."""
    parts = []
    if abs(tempo - 1.0) > 1e-6:
        parts.append(f"{tempo * 100:.0f}%")
    if semitones:
        parts.append(f"{semitones:+d} st")
    if grid is not None:
        parts.append(f"{grid.bpm * tempo:.0f} BPM")
    if click:
        parts.append("click")
    if count_in:
        parts.append(f"count-in {count_in}")
    return " · ".join(parts)


class PracticeControl:
    """Tempo, transpose, the beat grid, click, count-in and export for one player.

    Args:
        screen: The player screen: its notifications, its thread workers (the
            beat-grid estimate) and its app (the export dialog).
        entry: The song (export needs it stored).
        keeper: Saves what the keys change.
        show: Shows the practice part of the status line (``85% · click``).
    """

    def __init__(self, screen: Screen, entry: Entry, keeper: PracticeKeeper, show: Callable[[str], None]) -> None:
        self.screen = screen
        self.entry = entry
        self.keeper = keeper
        self.show = show
        #: The mixer once the song is loaded (:meth:`attach`).
        self.mixer: Mixer | None = None
        self._tap: TapTempo | None = None
        self._grid_job: Worker | None = None
        #: ``M``/``S``: mute or solo ranges over the loop.
        self.ranges = RangeControl(lambda: screen.query_one("#stems", StemTable), self.notify, keeper.touch)

    def notify(self, message: str, **kwargs) -> None:
        self.screen.notify(message, **kwargs)

    # -- state <-> mixer -----------------------------------------------------
    def attach(self, mixer: Mixer, state: PracticeState) -> None:
        """Apply the saved tempo, transpose, beat grid, count-in and click to ``mixer``.

        Called once per opened song, after the mixer exists and the mix, loop
        and playhead are restored, before playback starts.
        """
        from stemtui.core.tempo.stretchworker import POOL

        self.mixer = self.ranges.mixer = m = mixer
        # Two idle render workers, started now, make the first tempo key as
        # quick as the later ones (a worker takes ~0.15 s to start).
        POOL.refill()
        if state.grid:
            try:
                m.metronome.grid = BeatGrid.from_dict(state.grid)
            except ValueError:
                state.grid = None
        m.metronome.click = bool(state.click) and m.metronome.grid is not None
        m.metronome.count_in = int(state.count_in) if m.metronome.grid is not None else 0
        m.metronome.apply()
        if abs(state.tempo - 1.0) > 1e-6 or state.transpose:
            try:
                m.set_tempo(state.tempo, state.transpose)
            except Exception as exc:  # noqa: BLE001 -- a bad saved value must not stop the song
                self.notify(f"saved tempo not applied: {exc}", severity="warning")
        self._show()

    def show_now(self) -> None:
        """Show the practice part again (the trainer changed the tempo)."""
        self._show()

    def _show(self) -> None:
        m = self.mixer
        if m is None:
            return
        met = m.metronome
        self.show(describe_practice(m.tempo, m.semitones, met.grid, met.click, met.count_in))

    def _remember(self) -> None:
        m = self.mixer
        st = self.keeper.state
        st.tempo, st.transpose = m.tempo, m.semitones
        met = m.metronome
        st.grid = met.grid.to_dict() if met.grid is not None else None
        st.click, st.count_in = met.click, met.count_in
        self.keeper.touch()
        self._show()

    # -- tempo and pitch -----------------------------------------------------
    def tempo(self, steps: int) -> None:
        """Tempo ±5 % (50–150 %), pitch unchanged."""
        m = self.mixer
        if m is None:
            return
        t = round(min(TEMPO_MAX, max(TEMPO_MIN, m.tempo + steps * TEMPO_STEP)), 2)
        if t == m.tempo:
            self.notify(f"tempo {t * 100:.0f}% is the limit", timeout=2)
            return
        m.set_tempo(t, m.semitones)
        self._remember()

    def transpose(self, steps: int) -> None:
        """Transpose ±1 semitone (−12…+12), tempo unchanged."""
        m = self.mixer
        if m is None:
            return
        s = min(SEMITONES_MAX, max(SEMITONES_MIN, m.semitones + steps))
        if s == m.semitones:
            self.notify(f"transpose {s:+d} is the limit", timeout=2)
            return
        m.set_tempo(m.tempo, s)
        self._remember()

    # -- beat grid: tap, estimate --------------------------------------------
    def tap(self) -> None:
        """Tap tempo: three taps or more set the beat grid (and the click's phase)."""
        m = self.mixer
        if m is None:
            return
        if self._tap is None:
            self._tap = TapTempo()
        grid = self._tap.tap(time.monotonic(), song_time=m.position / m.sample_rate, rate=m.tempo)
        if grid is None:
            self.notify(f"tap {self._tap.count}: keep tapping on the beat", timeout=1.5)
            return
        m.metronome.set_grid(grid)
        self.notify(f"tapped {grid.bpm:.1f} BPM", timeout=2)
        self._remember()

    def _need_grid(self, then: Callable[[], None]) -> bool:
        """Whether a grid exists; if not, start finding one and run ``then`` after."""
        m = self.mixer
        if m.metronome.grid is not None:
            return True
        if self._grid_job is None:
            self.notify("finding the beat … (or tap it with t)", timeout=3)
            self._grid_job = self.screen.run_worker(
                partial(self._find_grid, m, then), thread=True, exclusive=True, group="beat-grid"
            )
        return False

    def _find_grid(self, m: Mixer, then: Callable[[], None]) -> None:
        """Estimate the beat grid in a child process (librosa keeps the GIL); a thread worker."""
        from stemtui.core.analysis.beatjob import EstimateJob
        from stemtui.core.analysis.beats import grid_audio

        song = m.song
        if not song.complete.wait(timeout=600):
            return
        audio, source = grid_audio(song)
        job = EstimateJob(audio, song.sample_rate, source)
        worker = get_current_worker()
        while not job.wait(0.2):
            if worker.is_cancelled:
                job.cancel()
                return
        self.screen.app.call_from_thread(self._grid_found, job.result, job.error, then)

    def _grid_found(self, grid: BeatGrid | None, error: str | None, then: Callable[[], None]) -> None:
        self._grid_job = None
        if self.mixer is None:
            return
        if grid is None:
            # A failed estimate (its worker died, say) is an error; no beat found is a hint. The
            # click and count-in stay off either way; pressing the key again tries again.
            if error:
                self.notify(f"{error}: click off", severity="error", timeout=8)
            else:
                self.notify("no steady beat found: tap it with t", severity="warning", timeout=5)
            return
        self.mixer.metronome.set_grid(grid)
        self.notify(f"beat: {grid.bpm:.1f} BPM (from the {grid.source})", timeout=3)
        then()

    def toggle_click(self) -> None:
        """Metronome click on / off."""
        if self.mixer is None or not self._need_grid(self.toggle_click):
            return
        met = self.mixer.metronome
        met.set_click(not met.click)
        self._remember()

    def count_in(self) -> None:
        """Cycle the count-in: off, 4, 2, 1, 8 beats."""
        if self.mixer is None or not self._need_grid(self.count_in):
            return
        met = self.mixer.metronome
        i = COUNT_INS.index(met.count_in) if met.count_in in COUNT_INS else 0
        met.set_count_in(COUNT_INS[(i + 1) % len(COUNT_INS)])
        self.notify(f"count-in {met.count_in or 'off'}", timeout=1.5)
        self._remember()

    def range(self, kind: str) -> None:
        """``M``/``S``: mute or solo the selected stem over the loop only (again: remove it)."""
        self.ranges.toggle(kind)

    # -- export ----------------------------------------------------------------
    def export(self) -> None:
        """Export the backing track as you hear it (opens the export dialog)."""
        if self.mixer is None or not self.entry.ok:
            return
        from stemtui.ui.screens.export_screen import ExportScreen

        self.keeper.save_now()
        self.screen.app.push_screen(ExportScreen(self.entry, self.mixer))
