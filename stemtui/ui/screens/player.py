"""The player: stem table, transport, status line; every practice key.

Keys and clicks call :class:`~stemtui.core.audio.mixer.Mixer` methods directly
(they are lock-free, so a key is heard within one audio block); a 20 Hz
timer polls the playhead, peaks and underruns and hands them to the
widgets, which repaint only what changed.

The song is opened and the engine loaded in a worker thread, so the screen
paints at once; playback starts as soon as the mixer exists (audio follows
as soon as the first chunk is decoded). The song's saved practice state
(mix, loops, playhead) is read in the same worker and applied before
playback starts; :class:`~stemtui.ui.practice_keeper.PracticeKeeper` saves it
again after changes and on leaving.

"Play now" during a separation hands the player the progressive song and
its :class:`~stemtui.ui.seprun.SeparationRun`: the mixer waits at the edge
of what is separated, the status line says ``separating NN%`` and the
timeline draws the part still to come differently.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static

from stemtui.core.audio.mixer import Mixer
from stemtui.core.library.practice import PracticeState
from stemtui.core.library.store import Entry
from stemtui.ui.fmt import fmt_length, step_gain
from stemtui.ui.guard import guarded
from stemtui.ui.keymap import PLAYER_KEYS, bindings
from stemtui.ui.loop import LoopEditor
from stemtui.ui.practice_keeper import PracticeKeeper
from stemtui.ui.practice_actions import PracticeActions
from stemtui.ui.screens.loops import LoopKeys
from stemtui.ui.widgets.keys import KeyReminder
from stemtui.ui.widgets.stem_table import StemTable
from stemtui.ui.widgets.titlebar import TitleBar
from stemtui.ui.widgets.transport import StatusLine, Timeline, TimeRuler, TransportInfo

if TYPE_CHECKING:
    from stemtui.core.audio.song import Song
    from stemtui.ui.seprun import SeparationRun

log = logging.getLogger("stemtui.ui")

#: Poll rate of playhead, meters and underruns (the brief caps it at 20 Hz).
POLL_HZ = 20.0


def pending_seek(mixer: Mixer) -> int | None:
    """Where a seek the audio thread has not applied yet goes, or ``None``.

    Until the next audio block runs, ``mixer.position`` still reports the
    old playhead; relative seeks and ``[``/``]`` must build on the target.
    """
    return mixer.pending_seek


class PlayerScreen(PracticeActions, LoopKeys, Screen):
    """Plays one song from the store; ``q``/``esc`` goes back to the library.

    The loop keys come from :class:`~stemtui.ui.screens.loops.LoopKeys`; the
    saved practice state (mix, loops, playhead) from :class:`PracticeKeeper`.
    """

    BINDINGS = bindings(PLAYER_KEYS)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    mixer: reactive[Mixer | None] = reactive(None, init=False)
    """The mixer once the song is loaded; ``None`` while loading."""

    def __init__(self, entry: Entry, autoplay: bool = True, song: Song | None = None,
                 run: SeparationRun | None = None) -> None:
        """Play ``entry``, or ``song`` while ``run`` separates it.

        Args:
            entry: The song (its title, stems and length show at once).
            autoplay: Start playing as soon as the mixer exists.
            song: Play this song instead of opening ``entry`` from the store
                (the progressive song of a running separation).
            run: The separation feeding ``song``, shown in the status line.
        """
        super().__init__(id="player")
        self.entry = entry
        self.autoplay = autoplay
        self.song = song
        self.run = run
        self.loop: LoopEditor | None = None
        # A song still separating has no final id yet: keep no state for it.
        self.practice = PracticeKeeper(self, entry.id if entry.ok and run is None else None)
        self._last_tick = time.monotonic()
        self._error_shown = False

    # -- layout -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield TitleBar(id="song-title")
        with Vertical(id="stems-panel", classes="panel") as panel:
            panel.border_title = "stems"
            yield StemTable(self.entry.stems, id="stems")
        with Vertical(id="transport-panel", classes="panel") as panel:
            panel.border_title = "transport"
            yield TransportInfo(id="transport-info")
            yield Timeline(id="timeline")
            yield TimeRuler(id="ruler")
        yield KeyReminder(id="cheatsheet")
        yield Static(id="spacer")
        yield StatusLine(id="status")
        yield Footer(compact=True, show_command_palette=False)

    def on_resize(self) -> None:
        self.query_one("#cheatsheet", KeyReminder).full = self.size.height >= 34

    def on_mount(self) -> None:
        self.table = self.query_one("#stems", StemTable)
        self.info = self.query_one("#transport-info", TransportInfo)
        self.timeline = self.query_one("#timeline", Timeline)
        self.status = self.query_one("#status", StatusLine)
        bar = self.query_one("#song-title", TitleBar)
        bar.title = self.entry.title
        bar.detail = f"— {self.entry.artist}" if self.entry.artist else ""
        bar.note = f"{len(self.entry.stems)} stems · {fmt_length(self.entry.duration)}"
        self.info.duration = self.timeline.duration = self.entry.duration
        self.query_one("#ruler", TimeRuler).duration = self.entry.duration
        self.transport = self.query_one("#transport-panel", Vertical)
        self.table.focus()
        self.practice.start()
        self._load()
        self.set_interval(1.0 / POLL_HZ, self._tick)

    # -- loading ----------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load(self) -> None:
        try:
            song = self.song if self.song is not None else self.app.store.open(self.entry)
            mixer = self.app.engine.load(song)
        except Exception as exc:
            log.exception("loading %s", self.entry.id)
            self.app.call_from_thread(self._load_failed, f"{self.entry.title}: {exc}")
            return
        # The saved state is read here too: a file read stays off the UI thread.
        state, message = self.practice.load(list(song.names), song.duration)
        self.app.call_from_thread(self._loaded, mixer, state, message)

    def _loaded(self, mixer: Mixer, state: PracticeState, message: str | None) -> None:
        # Mix, loop and playhead go in before the first play: no jump is heard.
        self.loop = self.practice.restore(mixer, state, message)
        self.mixer = mixer
        self._apply_practice_extras(state)
        engine = self.app.engine
        self.status.device = engine.device_name
        self.status.sample_rate = engine.sample_rate
        if engine.notice:
            self.status.notice = engine.notice
            self.app.show_notice(engine.notice)
        self._show_mix()
        self._show_loop()
        if self.autoplay:
            mixer.play()
        self._tick()

    def _load_failed(self, message: str) -> None:
        self.notify(message, severity="error", timeout=10)
        if self.is_current:
            self.dismiss()

    # -- polling --------------------------------------------------------------------------
    def playhead(self) -> int:
        """The playhead in frames, counting a seek the audio thread has not applied yet."""
        m = self.mixer
        if m is None:
            return 0
        target = pending_seek(m)
        return m.position if target is None else target

    def _tick(self) -> None:
        try:
            self._poll()
        except Exception as exc:
            if not self._error_shown:
                self._error_shown = True
                log.exception("player poll")
                self.notify(f"display error: {type(exc).__name__}: {exc} (see the log)", severity="error")

    def _poll(self) -> None:
        m = self.mixer
        now = time.monotonic()
        dt, self._last_tick = now - self._last_tick, now
        if m is None:
            return
        pos = self.playhead() / m.sample_rate
        if not m.playing:
            state = "paused"
        elif m.ended:
            state = "ended"
        elif m.starved:
            state = "loading"
        else:
            state = "playing"
        self.info.state = state
        self.info.position = self.timeline.position = pos
        peaks = m.take_peaks()
        if state == "playing":
            with np.errstate(divide="ignore"):
                self.table.show_levels(20.0 * np.log10(np.maximum(peaks, 1e-9)), dt)
        else:
            self.table.show_levels(None, dt)
        self.status.underruns = self.app.engine.underruns
        self._show_separation(m)
        if m.song.load_error and not self._error_shown:
            self._error_shown = True
            self.notify(f"{self.entry.title}: {m.song.load_error}", severity="error", timeout=10)

    def _show_separation(self, m: Mixer) -> None:
        """``separating NN%`` in the status line, and how far the timeline is separated."""
        run = self.run
        if run is None:
            return
        self.status.separating = run.label() if run.active or run.phase == "failed" else ""
        song = m.song
        self.timeline.available = None if song.complete.is_set() else song.available / song.sample_rate

    def _show_mix(self) -> None:
        """Show the mixer's mix (after every change to it, so the change is also saved)."""
        m = self.mixer
        if m is not None:
            self.table.sync(m.mute, m.solo, m.volume, [m.audible(i) for i in range(m.stem_count)])
            self.practice.touch()

    def _show_loop(self) -> None:
        """Show the loop (after every change to it, so the change is also saved)."""
        lp = self.loop
        if lp is None:
            return
        self.practice.touch()
        self.transport.border_subtitle = lp.label()  # a recalled loop's name
        a, b = lp.seconds()
        self.timeline.loop_a, self.timeline.loop_b = a, b
        on = lp.enabled
        self.info.loop_on = self.status.loop_on = on
        self.info.active_edge = lp.edge
        self.info.loop_a, self.info.loop_b = a, b

    # -- mix actions ----------------------------------------------------------------------
    def _stem(self, stem: int) -> bool:
        return self.mixer is not None and 0 <= stem < self.mixer.stem_count

    @guarded
    def action_mute(self, stem: int) -> None:
        if self._stem(stem):
            self.mixer.toggle_mute(stem)
            self._show_mix()

    @guarded
    def action_solo(self, stem: int) -> None:
        if self._stem(stem):
            self.mixer.toggle_solo(stem)
            self._show_mix()

    def action_select(self, delta: int) -> None:
        n = len(self.entry.stems)
        self.table.selected = (self.table.selected + delta) % n

    def action_mute_selected(self) -> None:
        self.action_mute(self.table.selected)

    def action_solo_selected(self) -> None:
        self.action_solo(self.table.selected)

    @guarded
    def action_volume(self, steps: int) -> None:
        i = self.table.selected
        if self._stem(i):
            self.mixer.set_volume(i, step_gain(float(self.mixer.volume[i]), steps))
            self._show_mix()

    @guarded
    def action_reset_mix(self) -> None:
        if self.mixer is not None:
            self.mixer.reset_mix()
            self._show_mix()
            self.notify("mix reset: every stem on, at 0 dB", timeout=2)

    # -- transport actions ----------------------------------------------------------------
    @guarded
    def action_toggle_play(self) -> None:
        if self.mixer is not None:
            self.mixer.toggle_play()
            self._tick()

    @guarded
    def action_seek(self, seconds: float) -> None:
        m = self.mixer
        if m is not None:
            m.seek(self.playhead() + int(round(seconds * m.sample_rate)))
            self.practice.touch()
            self._tick()

    @guarded
    def action_home(self) -> None:
        if self.mixer is not None and self.loop is not None:
            self.mixer.seek(self.loop.home())
            self._tick()

    def action_back(self) -> None:
        if self.mixer is not None:
            self.mixer.pause()
        # Saved now, not at unmount: the library may reopen the song at once.
        self.practice.close()
        self.dismiss()

    def on_unmount(self) -> None:
        if self.mixer is not None:
            self.mixer.pause()
        self.practice.close()
        if self.mixer is not None:
            self.mixer.close()  # tempo workers and their files

    # -- mouse -------------------------------------------------------------------------------
    @on(StemTable.MuteToggled, "#stems")
    def _clicked_mute(self, event: StemTable.MuteToggled) -> None:
        self.action_mute(event.stem)

    @on(StemTable.SoloToggled, "#stems")
    def _clicked_solo(self, event: StemTable.SoloToggled) -> None:
        self.action_solo(event.stem)

    @on(StemTable.VolumeSet, "#stems")
    @guarded
    def _clicked_volume(self, event: StemTable.VolumeSet) -> None:
        if self._stem(event.stem):
            self.mixer.set_volume(event.stem, event.gain)
            self._show_mix()

    @on(StemTable.Selected, "#stems")
    def _clicked_row(self, event: StemTable.Selected) -> None:
        self.table.selected = event.stem

    @on(Timeline.SeekRequested, "#timeline")
    def _clicked_timeline(self, event: Timeline.SeekRequested) -> None:
        if self.mixer is not None and math.isfinite(event.seconds):
            self.mixer.seek_seconds(event.seconds)
            self.practice.touch()
            self._tick()
