"""The player's song map: made or loaded in the background, shown in the lane, and its keys.

:class:`MapControl` is a helper the
:class:`~stemtui.ui.screens.player.PlayerScreen` owns (made in its
``__init__``, started once the song is loaded, polled at 20 Hz, closed in
``on_unmount``); the screen's ``map(name)`` action only delegates to it.

On opening a stored song, a thread worker reads the cached map
(:class:`~stemtui.core.analysis.mapcache.SongMapCache`, beside the practice
state); a miss (none yet, damaged, old version: one warning line) waits for
the decode, then runs :class:`~stemtui.core.analysis.mapjob.MapJob` (a child
process: never the audio path, never the UI thread) and caches its result.
The poll shows the job's partial map as it comes (the bass line first) and
its progress. A job that dies or fails: one error line, the lane says
``no song map``, playback goes on.

The lane follows the playhead in song time (the mixer's position counts song
frames at any tempo) and shows chords and bass notes transposed by the
mixer's transpose. Keys: ``b`` ``f`` (or pgup / pgdn) jump to the previous / next section,
``A`` loops the current section and saves it as ``A1``, ``B2``… (letter and
occurrence).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from stemtui.core.analysis.basslines import bass_tab, midi_name
from stemtui.core.analysis.mapcache import SongMapCache
from stemtui.core.errors import BadInput
from stemtui.core.takes.takemix import is_take_row
from stemtui.core.timefmt import format_time
from stemtui.ui.widgets.map_lane import MapLane, chord_name

if TYPE_CHECKING:
    from pathlib import Path

    from textual.screen import Screen
    from textual.widget import Widget

    from stemtui.core.analysis.mapjob import MapJob
    from stemtui.core.analysis.songmap import SongMap, Span
    from stemtui.core.audio.mixer import Mixer
    from stemtui.core.audio.song import Song
    from stemtui.core.library.store import Entry, Store
    from stemtui.ui.practice_keeper import PracticeKeeper
    from stemtui.ui.screens.loops import LoopControl
    from stemtui.ui.widgets.stem_table import StemTable

log = logging.getLogger("stemtui.ui")

#: Seconds into a section after which ``(`` goes back to its start, not to the section before.
BACK_TO_START_S = 1.0
#: A bar without a beat grid (with one, a bar is 4 beats).
NO_GRID_BAR_S = 2.0
#: Cells of the bass tab (one bar).
TAB_WIDTH = 32
#: Longest analysis before the job is killed.
MAP_TIMEOUT_S = 600.0


def occurrence_names(sections: tuple[Span, ...]) -> list[str]:
    """``A1 B1 A2 B2 C1``: each section's letter and how many times it has come so far."""
    seen: dict[str, int] = {}
    out = []
    for s in sections:
        seen[s.label] = seen.get(s.label, 0) + 1
        out.append(f"{s.label}{seen[s.label]}")
    return out


def bar_bounds(song_map: SongMap, t: float) -> tuple[float, float]:
    """The bar around song time ``t``: 4 beats of the map's grid, else a 2-s window."""
    g = song_map.grid
    if g is None:
        a = math.floor(t / NO_GRID_BAR_S) * NO_GRID_BAR_S
        return a, a + NO_GRID_BAR_S
    k = g.beat_index(t)
    k0 = k - k % 4
    return g.beat_time(k0), g.beat_time(k0 + 4)


def warm_if_unmapped(store: Store, root: Path) -> None:
    """Start a warm song-analysis worker (librosa loaded) if a stored song has no cached map yet.

    Opening such a song then shows its first result seconds sooner. Reads
    only the library and which map files exist; call it off the UI thread.
    """
    from stemtui.core.analysis.mapjob import POOL

    cache = SongMapCache(root)
    if any(not cache.path(e.id).exists() for e in store.entries()):
        POOL.refill()


class MapControl:
    """The song map of one player's song.

    Args:
        screen: The player: notifications, its thread workers.
        entry: The song (only a stored song gets a map).
        root: The data root (the practice store's), where maps are cached.
        keeper: The saved loops (``A`` saves the section's loop).
        loops: The loop editor and its display.
    """

    def __init__(self, screen: Screen, entry: Entry, root: Path, keeper: PracticeKeeper, loops: LoopControl) -> None:
        self.screen = screen
        self.entry = entry
        self.root = root
        self.keeper = keeper
        self.loops = loops
        self.mixer: Mixer | None = None
        #: The finished map (cached or just made), or ``None``.
        self.map: SongMap | None = None
        #: The running analysis, or ``None``.
        self.job: MapJob | None = None
        #: Why there is no map (one line), once the job failed.
        self.error: str | None = None
        self.closed = False
        self._started = False
        #: The lines notified (each once).
        self.told: set[str] = set()
        self._warnings: list[str] = []
        self._shown: tuple[SongMap, int] | None = None  # (the map, semitones) last transposed
        self._heard: SongMap | None = None  # the map transposed as heard
        self.lane: MapLane | None = None
        self.spacer: Widget | None = None

    # -- making the map ---------------------------------------------------------------
    def start(self, song: Song, mixer: Mixer, song_id: str | None) -> None:
        """Once per player: load or make the map of ``song`` (``song_id`` ``None``: not stored, no map)."""
        self.mixer = mixer
        self.lane = self.screen.query_one("#map-lane", MapLane)
        self.spacer = self.screen.query_one("#spacer")
        if self._started:
            return
        self._started = True
        if song_id is None:  # a song still separating: no map yet, and nothing wrong
            self.lane.note = "no song map until the song is stored"
            return
        self.lane.note = "song map…"
        self.screen.run_worker(
            lambda: self._compute(song, song_id), thread=True, group="songmap", exit_on_error=False, name="song map"
        )

    def _compute(self, song: Song, song_id: str) -> None:
        """The thread worker: the cached map, else a MapJob once the song is decoded."""
        from stemtui.core.analysis.mapjob import MapJob, SharedStems

        try:
            cache = SongMapCache(self.root)
            hit, why = cache.load(song_id)
            if hit is not None:
                self.map = hit
                return
            if why:
                self._warnings.append(why)

            def decoded() -> dict | None:
                # The child warms up while the song decodes.
                while not song.complete.wait(0.05):
                    if self.closed:
                        return None
                if song.load_error or self.closed:
                    return None
                rows = {n: i for i, n in enumerate(song.names) if not is_take_row(n)}
                path = song.shared_path
                if path and song.data.flags.c_contiguous and song.data.ndim == 3:
                    # Decoded into shared memory: the child maps it, nothing is copied here.
                    return SharedStems(path, tuple(song.data.shape), rows)
                return {n: song.data[i] for n, i in rows.items()}

            grid = self.mixer.metronome.grid if self.mixer is not None else None
            if self.closed:
                return
            job = self.job = MapJob(decoded, song.sample_rate, grid, timeout=MAP_TIMEOUT_S)
            if song.load_error:
                self.error = f"no song map: {song.load_error}"
                return
            while not job.wait(0.2):
                if self.closed:
                    job.cancel()
                    job.wait(5.0)
                    return
            if job.result is None:
                self.error = job.error or "song analysis was cancelled"
                return
            self.map = job.result
            try:
                cache.save(song_id, job.result)
            except Exception as exc:  # noqa: BLE001 -- the map is shown anyway
                self._warnings.append(f"song map not cached: {exc}")
        except Exception as exc:  # told on the next poll, playback goes on
            log.exception("song map of %s", song_id)
            self.error = f"song map failed: {exc}"

    def close(self) -> None:
        """Stop a running analysis (its child is killed; the worker thread ends)."""
        self.closed = True
        job = self.job
        if job is not None:
            job.cancel()

    # -- showing it -----------------------------------------------------------------------
    def current(self) -> SongMap | None:
        """The map to show: the finished one, else the job's partial map."""
        if self.map is not None:
            return self.map
        job = self.job
        return None if job is None else job.partial

    def heard(self) -> SongMap | None:
        """:meth:`current` transposed as the mixer plays it."""
        m = self.current()
        semis = 0 if self.mixer is None else int(self.mixer.semitones)
        if m is None:
            return None
        if self._shown is None or self._shown[0] is not m or self._shown[1] != semis:
            self._shown, self._heard = (m, semis), m.transposed(semis)
        return self._heard

    def poll(self, position_s: float, table: StemTable) -> None:
        """Show the map at the playhead (the bass tab if the bass is ``table``'s selected row)."""
        lane = self.lane
        if lane is None:
            return
        names = table.names
        selected = names[table.selected] if 0 <= table.selected < len(names) else None
        while self._warnings:
            self._tell(self._warnings.pop(0), "warning")
        if self.error:
            self._tell(self.error, "error")
            lane.sections, lane.section_name, lane.chord, lane.tab, lane.bass = (), "", "", (), ""
            lane.note = "no song map"
            return
        m = self.heard()
        job = self.job
        if m is None and job is None:
            return  # reading the cache, waiting for the decode, or no map for this song
        lane.note = (
            ""
            if self.map is not None or job is None
            else f"analysing… {job.analysis.replace('_', ' ')} {job.fraction:.0%}"
        )
        if m is None:
            return
        spans = tuple((s.start, s.end, s.label) for s in m.sections)
        if lane.sections != spans:
            lane.sections = spans
        lane.duration = m.duration or self.entry.duration
        sec = m.section_at(position_s)
        idx = m.sections.index(sec) if sec is not None else -1
        lane.current = idx
        lane.section_name = occurrence_names(m.sections)[idx] if idx >= 0 else ""
        now, nxt = m.chord_at(position_s), m.next_chord(position_s)
        chord = "" if now is None else chord_name(now.label)
        if nxt is not None:
            chord = f"{chord or '·'}  → {chord_name(nxt.label)}"
        lane.chord = chord
        tab, names = self._bass(m, position_s) if selected == "bass" else ((), "")
        # The tab takes 4 rows where the screen has them to spare (the spacer's, counting a tab shown now).
        room = self.spacer.size.height + len(lane.tab) if self.spacer is not None else 0
        if tab and room >= len(tab):
            lane.tab, lane.bass = tab, ""
        else:
            lane.tab, lane.bass = (), names

    def _bass(self, m: SongMap, t: float) -> tuple[tuple[str, ...], str]:
        """The tab lines of the bar around ``t`` and the note names (``bass A1 A1 C2``)."""
        if not m.bass_notes:
            return (), "bass: no notes found" if self.map is not None else "bass: analysing…"
        a, b = bar_bounds(m, t)
        notes = m.notes_between(a, b)
        lines = bass_tab([(n.start, n.end, n.midi) for n in notes], a, b, TAB_WIDTH)
        names = " ".join(midi_name(n.midi) for n in notes) or "(rest)"
        lines[0] += f"  bar {format_time(a, 1)}"
        lines[1] += f"  {names}"
        return tuple(lines), f"bass {names}"

    def _tell(self, line: str, severity: str) -> None:
        if line not in self.told:
            self.told.add(line)
            self.screen.notify(line, severity=severity, timeout=6)  # type: ignore[arg-type]

    # -- keys ---------------------------------------------------------------------------------
    def _sections(self) -> tuple[Span, ...]:
        m = self.current()
        if m is None or not m.sections:
            why = self.error or ("still analysing" if self.error is None and self.map is None else "no sections found")
            raise BadInput("song map", why)
        return m.sections

    def _seek(self, t: float) -> None:
        mixer = self.mixer
        if mixer is not None:
            mixer.seek(round(t * mixer.sample_rate))
            self.keeper.touch()
            self.loops.moved()

    def _now(self) -> float:
        mixer = self.mixer
        return 0.0 if mixer is None else self.loops.playhead() / mixer.sample_rate

    def next_section(self) -> None:
        """``f``: jump to the start of the next section."""
        t = self._now()
        nxt = next((s for s in self._sections() if s.start > t + 1e-3), None)
        if nxt is None:
            raise BadInput("next section", "this is the last section")
        self._seek(nxt.start)

    def prev_section(self) -> None:
        """``b``: back to this section's start, or to the one before within its first second."""
        t = self._now()
        secs = self._sections()
        starts = [s.start for s in secs if s.start <= t + 1e-3]
        if not starts:
            self._seek(0.0)
            return
        here = starts[-1]
        self._seek(starts[-2] if t - here < BACK_TO_START_S and len(starts) > 1 else here)

    def loop_section(self) -> None:
        """``A``: loop the current section and save it as ``A1``, ``B2``…"""
        t = self._now()
        secs = self._sections()
        lp = self.loops.editor
        sec = next((s for s in secs if s.start <= t < s.end), None)
        if lp is None or sec is None:
            raise BadInput("loop section", "the playhead is in no section")
        name = occurrence_names(secs)[secs.index(sec)]
        lp.set_seconds(sec.start, sec.end)
        a, b = lp.seconds()
        assert a is not None and b is not None
        lp.name, replaced = self.keeper.save_loop(name, a, b)
        if lp.outside(self.loops.playhead()):
            lp.mixer.seek(lp.home())
        self.loops.shown()
        self.loops.moved()
        what = "replaced" if replaced else "saved"
        self.screen.notify(f"looping {name} {format_time(a, 1)}–{format_time(b, 1)} ({what})", timeout=3)
