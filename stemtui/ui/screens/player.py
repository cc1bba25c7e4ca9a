"""The player: stem table, transport, status line; every practice key.

Helpers do the work: ``PracticeKeeper`` (saved state; writer started in ``on_mount``, closed in ``on_unmount``),
``LoopControl``, ``PracticeControl`` (tempo, transpose, click, count-in, export), ``TakeControl``, ``MapControl``,
``LyricsControl``, ``TrainerControl``, ``PlayerView``; actions only delegate (``take('record')`` names the method).
Keys call the :class:`~stemtui.core.audio.mixer.Mixer` directly (lock-free); a 20 Hz timer polls the widgets.
The song opens, the engine loads and the saved state is read in a worker thread (the screen paints at once;
the state applies before playback). "Play now" during a separation plays the growing song (``SeparationRun``).
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive, var
from textual.screen import Screen
from textual.widgets import Footer, Static

from stemtui.core.audio.mixer import Mixer
from stemtui.core.library.practice import PracticeState, PracticeStore
from stemtui.core.library.store import Entry, Store
from stemtui.ui.fault_notices import FaultNotices
from stemtui.ui.fmt import step_gain
from stemtui.ui.guard import guarded
from stemtui.ui.keymap import PLAYER_KEYS, bindings
from stemtui.ui.loop import LoopEditor
from stemtui.ui.lyrics_actions import LyricsControl
from stemtui.ui.map_actions import MapControl
from stemtui.ui.player_view import PlayerView
from stemtui.ui.practice_actions import PracticeControl
from stemtui.ui.practice_keeper import PracticeKeeper
from stemtui.ui.screens.loops import LoopControl
from stemtui.ui.take_actions import TakeControl
from stemtui.ui.trainer_actions import TrainerControl
from stemtui.ui.widgets.keys import KeyReminder
from stemtui.ui.widgets.lyrics_lane import LyricsLane
from stemtui.ui.widgets.map_lane import MapLane
from stemtui.ui.widgets.rec_indicator import RecordIndicator
from stemtui.ui.widgets.stem_table import StemTable
from stemtui.ui.widgets.titlebar import TitleBar
from stemtui.ui.widgets.transport import StatusLine, Timeline, TimeRuler, TransportInfo

if TYPE_CHECKING:
    from stemtui.core.audio.engine import Engine
    from stemtui.core.audio.song import Song
    from stemtui.ui.seprun import SeparationRun

log = logging.getLogger("stemtui.ui")

#: Poll rate of playhead, meters and underruns (the brief caps it at 20 Hz).
POLL_HZ = 20.0


def pending_seek(mixer: Mixer) -> int | None:
    """Where a seek the audio thread has not applied yet goes (relative seeks build on it), or ``None``."""
    return mixer.pending_seek


class PlayerScreen(Screen):
    """Plays one song from the store; ``q``/``esc`` goes back to the library.

    Helpers: :attr:`loops` (loop keys), :attr:`practice_keys` (practice keys), :attr:`takes` (take keys),
    :attr:`lyrics`, :attr:`practice` (the saved state), :attr:`view` (the widgets), :attr:`faults` (notified).
    """

    BINDINGS = bindings(PLAYER_KEYS)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    mixer: reactive[Mixer | None] = reactive(None, init=False)
    """The mixer once the song is loaded; ``None`` while loading."""
    error_shown: var[bool] = var(False)
    """Whether a fault (a decode error, a display error) was shown already: once is enough."""

    def __init__(
        self,
        entry: Entry,
        *,
        store: Store,
        engine: Engine,
        states: PracticeStore,
        autoplay: bool = True,
        song: Song | None = None,
        run: SeparationRun | None = None,
    ) -> None:
        """Play ``entry``, or ``song`` while ``run`` separates it.

        Args:
            entry: The song (its title, stems and length show at once).
            store: Where ``entry`` is opened from.
            engine: The audio engine that plays it.
            states: The saved practice states.
            autoplay: Start playing as soon as the mixer exists.
            song: Play this song instead of opening ``entry`` from the store
                (the progressive song of a running separation).
            run: The separation feeding ``song``, shown in the status line.
        """
        super().__init__(id="player")
        self.entry = entry
        self.store = store
        self.engine = engine
        self.autoplay = autoplay
        self.song = song
        self.run = run
        # A song still separating has no final id yet: keep no state for it.
        self.practice = PracticeKeeper(self, states, entry.id if entry.ok and run is None else None)
        self.loops = LoopControl(self, self.practice, self.playhead, self._show_loop, self._tick)
        self.practice_keys = PracticeControl(self, entry, self.practice, lambda text: self.view.show_practice(text))
        self.takes = TakeControl(self, entry, engine, self.practice, self.loops)
        self.song_map = MapControl(self, entry, states.root, self.practice, self.loops)
        self.lyrics = LyricsControl(self, entry, states.root, self.loops)
        self.trainer = TrainerControl(self, self.practice_keys.show_now)
        self._last_tick = time.monotonic()
        self.faults = FaultNotices(engine, self.notify)

    @property
    def loop(self) -> LoopEditor | None:
        """The loop editor once the song is loaded."""
        return self.loops.editor

    # -- layout -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield TitleBar(id="song-title")
        with Vertical(id="stems-panel", classes="panel") as panel:
            panel.border_title = "stems"
            yield StemTable(self.entry.stems, id="stems")
        with Vertical(id="transport-panel", classes="panel") as panel:
            panel.border_title = "transport"
            with Horizontal(id="transport-row"):
                yield TransportInfo(id="transport-info")
                yield RecordIndicator(id="rec")
            yield Timeline(id="timeline")
            yield TimeRuler(id="ruler")
            yield MapLane(id="map-lane")
            yield LyricsLane(id="lyrics")
        yield KeyReminder(id="cheatsheet")
        yield Static(id="spacer")
        yield StatusLine(id="status")
        yield Footer(compact=True, show_command_palette=False)

    def on_resize(self) -> None:
        stems = len(self.query_one("#stems", StemTable).names)
        self.query_one("#cheatsheet", KeyReminder).full = KeyReminder.fits(*self.size, stems)

    def on_mount(self) -> None:
        self.view = view = PlayerView(self)
        self.table, self.info, self.timeline, self.status = view.table, view.info, view.timeline, view.status
        self.transport = view.transport
        view.show_song(self.entry)
        self.table.focus()
        self.practice.start()
        self.takes.start()
        self.load_song()
        self.set_interval(1.0 / POLL_HZ, self._tick)

    # -- loading ----------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_song(self) -> None:
        """Open the song (again, once its takes change) and load it in the engine; a thread worker."""
        try:
            song = self.takes.with_takes(self.song if self.song is not None else self.store.open(self.entry))
            mixer = self.engine.load(song)
        except Exception as exc:
            log.exception("loading %s", self.entry.id)
            self.app.call_from_thread(self._load_failed, f"{self.entry.title}: {exc}")
            return
        # The saved state is read here too: a file read stays off the UI thread.
        state, message = self.practice.load(list(song.names), song.duration)
        self.app.call_from_thread(self._loaded, mixer, state, message)

    def _loaded(self, mixer: Mixer, state: PracticeState, message: str | None) -> None:
        # Mix, loop and playhead go in before the first play: no jump is heard.
        self.loops.attach(self.practice.restore(mixer, state, message))
        self.mixer = mixer
        self.practice_keys.attach(mixer, state)
        self.takes.attach(mixer, self.table)
        self.song_map.start(mixer.song, mixer, self.practice.song_id)
        self.lyrics.start(mixer, self.practice.song_id)
        self.view.show_engine(self.engine)
        if self.engine.notice:
            self.app.show_notice(self.engine.notice)
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
            if not self.error_shown:
                self.error_shown = True
                log.exception("player poll")
                self.notify(f"display error: {type(exc).__name__}: {exc} (see the log)", severity="error")

    def _poll(self) -> None:
        m = self.mixer
        now = time.monotonic()
        dt, self._last_tick = now - self._last_tick, now
        if m is None:
            return
        self.view.show_playhead(m, self.playhead() / m.sample_rate, dt, self.engine.underruns)
        self.takes.poll(dt)
        self.trainer.poll()
        self.song_map.poll(self.playhead() / m.sample_rate, self.table)
        self.lyrics.poll(self.playhead() / m.sample_rate)
        if self.run is not None:
            self.view.show_separation(self.run, m)
        self._report_faults(m)

    def _report_faults(self, m: Mixer) -> None:
        """Faults to notify, looked at on every poll: each is told once, in one line."""
        if m.song.load_error and not self.error_shown:
            self.error_shown = True
            self.notify(f"{self.entry.title}: {m.song.load_error}", severity="error", timeout=10)
        self.faults.poll(m)

    def _show_mix(self) -> None:
        """Show the mixer's mix (after every change to it, so the change is also saved)."""
        m = self.mixer
        if m is not None:
            self.view.show_mix(m)
            self.practice.touch()

    def _show_loop(self) -> None:
        """Show the loop (after every change to it, so the change is also saved)."""
        lp = self.loop
        if lp is None:
            return
        self.practice.touch()
        self.view.show_loop(lp)

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
        n = len(self.table.names)
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
            n = self.mixer.reset_mix()
            self._show_mix()
            gone = f"; {n} mute/solo range{'s' if n != 1 else ''} removed" if n else ""
            self.notify(f"mix reset: every stem on, at 0 dB{gone}", timeout=2)

    # -- transport actions ----------------------------------------------------------------
    @guarded
    def action_toggle_play(self) -> None:
        if self.mixer is not None and not self.takes.stop():  # space also stops a take
            self.mixer.toggle_play()
            self._tick()

    @guarded
    def action_seek(self, seconds: float) -> None:
        m = self.mixer
        if m is not None:
            m.seek(self.playhead() + round(seconds * m.sample_rate))
            self.practice.touch()
            self._tick()

    @guarded
    def action_home(self) -> None:
        if self.mixer is not None and self.loop is not None:
            self.mixer.seek(self.loop.home())
            self._tick()

    def action_use_fallback(self, kind: str) -> None:
        """``D``/``N`` while the audio device is lost (helper G; see FaultNotices)."""
        self.faults.use_fallback(kind)

    @guarded
    def action_practice(self, name: str, *args: int) -> None:
        """Tempo, transpose, tap, click, count-in, export: ``PracticeControl.<name>(*args)``."""
        getattr(self.practice_keys, name)(*args)

    @guarded
    def action_take(self, name: str) -> None:
        """Record, compare, rename, delete: ``TakeControl.<name>()``; esc discards a take, else leaves."""
        if name != "escape":
            getattr(self.takes, name)()
        elif not self.takes.discard():
            self.action_back()

    @guarded
    def action_map(self, name: str) -> None:
        """``b f A``: ``MapControl.<name>()`` (previous / next section, loop the section)."""
        getattr(self.song_map, name)()

    @guarded
    def action_lyrics(self, name: str) -> None:
        """``y enter``: ``LyricsControl.<name>()`` (tap mode on / off, stamp a line)."""
        getattr(self.lyrics, name)()

    def action_trainer(self, name: str) -> None:
        """``T``: ``TrainerControl.<name>()`` (start with a typed plan, or stop)."""
        getattr(self.trainer, name)()

    def action_back(self) -> None:
        if self.mixer is not None:
            self.mixer.pause()
        # Saved now, not at unmount: the library may reopen the song at once.
        self.practice.close()
        self.dismiss()

    def on_unmount(self) -> None:
        self.song_map.close()
        self.lyrics.close()
        self.takes.close()
        if self.mixer is not None:
            self.mixer.pause()
        self.practice.close()
        if self.mixer is not None:
            self.mixer.close()  # tempo workers and their files

    # -- loop keys (the helper does the work) -------------------------------------------
    @guarded
    def action_loop(self, name: str, *args: int) -> None:
        """``[ ] l < > tab : backspace n L '``: ``LoopControl.<name>(*args)`` (tap mode's backspace first)."""
        if not (name == "clear" and self.lyrics.step_back()):
            getattr(self.loops, name)(*args)

    def apply_loop_text(self, text: str) -> None:
        """Set the loop from text such as ``0:30.250-0:45`` (raises BadInput)."""
        self.loops.apply_text(text)

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
