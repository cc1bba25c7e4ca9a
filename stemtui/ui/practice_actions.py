"""The player's practice keys: tempo, transpose, tap tempo, click, count-in, export.

A mixin of :class:`~stemtui.ui.screens.player.PlayerScreen` (which owns
``mixer``, ``practice`` and ``status``), kept apart so the screen stays
small. Tempo and pitch changes go to :meth:`Mixer.set_tempo`, which renders
ahead in worker processes: the key returns at once and the change is heard
well within a second. The beat grid for the click and count-in comes from
the saved state, the drums (estimated in a child process), or tap tempo.
"""

from __future__ import annotations

import time

from textual import work
from textual.worker import get_current_worker

from stemtui.core.analysis.beats import BeatGrid, TapTempo
from stemtui.core.tempo.stretch import SEMITONES_MAX, SEMITONES_MIN, TEMPO_MAX, TEMPO_MIN

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


class PracticeActions:
    """Actions for the practice keys; mixed into the player screen."""

    _tap: TapTempo | None = None
    _grid_job = None

    # -- state <-> mixer -----------------------------------------------------
    def _apply_practice_extras(self, state) -> None:
        """Apply the saved tempo, transpose, beat grid, count-in and click.

        Called once per opened song, after the mixer exists and the mix, loop
        and playhead are restored, before playback starts.
        """
        from stemtui.core.tempo.stretchworker import POOL

        # Two idle render workers, started now, make the first tempo key as
        # quick as the later ones (a worker takes ~0.15 s to start).
        POOL.refill()
        m = self.mixer
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
        self._show_practice()

    def _show_practice(self) -> None:
        m = self.mixer
        if m is None:
            return
        met = m.metronome
        self.status.practice = describe_practice(m.tempo, m.semitones, met.grid, met.click, met.count_in)

    def _remember(self) -> None:
        m = self.mixer
        st = self.practice.state
        st.tempo, st.transpose = m.tempo, m.semitones
        met = m.metronome
        st.grid = met.grid.to_dict() if met.grid is not None else None
        st.click, st.count_in = met.click, met.count_in
        self.practice.touch()
        self._show_practice()

    # -- tempo and pitch -----------------------------------------------------
    def action_tempo(self, steps: int) -> None:
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

    def action_transpose(self, steps: int) -> None:
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
    def action_tap(self) -> None:
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

    def _need_grid(self, then: str) -> bool:
        """Whether a grid exists; if not, start finding one and run ``then`` after."""
        m = self.mixer
        if m.metronome.grid is not None:
            return True
        if self._grid_job is None:
            self.notify("finding the beat … (or tap it with t)", timeout=3)
            self._grid_job = self._find_grid(then)
        return False

    @work(thread=True, exclusive=True, group="beat-grid")
    def _find_grid(self, then: str) -> None:
        """Estimate the beat grid in a child process (librosa keeps the GIL)."""
        from stemtui.core.analysis.beatjob import EstimateJob
        from stemtui.core.analysis.beats import grid_audio

        m = self.mixer
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
        self.app.call_from_thread(self._grid_found, job.result, job.error, then)

    def _grid_found(self, grid: BeatGrid | None, error: str | None, then: str) -> None:
        self._grid_job = None
        if self.mixer is None:
            return
        if grid is None:
            self.notify(error or "no steady beat found: tap it with t", severity="warning", timeout=5)
            return
        self.mixer.metronome.set_grid(grid)
        self.notify(f"beat: {grid.bpm:.1f} BPM (from the {grid.source})", timeout=3)
        getattr(self, f"action_{then}")()

    def action_toggle_click(self) -> None:
        """Metronome click on / off."""
        if self.mixer is None or not self._need_grid("toggle_click"):
            return
        met = self.mixer.metronome
        met.set_click(not met.click)
        self._remember()

    def action_count_in(self) -> None:
        """Cycle the count-in: off, 4, 2, 1, 8 beats."""
        if self.mixer is None or not self._need_grid("count_in"):
            return
        met = self.mixer.metronome
        i = COUNT_INS.index(met.count_in) if met.count_in in COUNT_INS else 0
        met.set_count_in(COUNT_INS[(i + 1) % len(COUNT_INS)])
        self.notify(f"count-in {met.count_in or 'off'}", timeout=1.5)
        self._remember()

    # -- export ----------------------------------------------------------------
    def action_export(self) -> None:
        """Export the backing track as you hear it (opens the export dialog)."""
        if self.mixer is None or not self.entry.ok:
            return
        from stemtui.ui.screens.export_screen import ExportScreen

        self.practice.save_now()
        self.app.push_screen(ExportScreen(self.entry, self.mixer))
