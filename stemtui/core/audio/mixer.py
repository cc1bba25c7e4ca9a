"""The real-time stem mixer: what the audio callback runs, block by block.

Threading model (no locks anywhere):

* The UI thread calls the ``set_*``/``seek``/``play`` methods. They compute a
  target gain vector or transport command, store it, and bump a version
  number. Attribute stores are atomic under the GIL, and each command is one
  immutable record (:mod:`stemtui.core.audio.mixstate`) stored whole, so the
  audio thread never sees half a command.
* The audio thread calls :meth:`Mixer.process` with an output buffer. It
  only slices preallocated arrays and runs numpy kernels with ``out=``:
  no buffer allocation, no locks, no I/O, no logging.
* The audio thread publishes the position and per-stem peaks into small
  preallocated arrays that the UI polls (at most 20 Hz).

Every change is click-free: a gain change ramps linearly over one block
(computed as a crossfade between the old-gain and new-gain mixes, which is the
same thing because mixing is linear in the gains); a seek or loop wrap
crossfades the old playhead's continuation into the new one over a few ms;
pause and resume fade over one block.

The classes: :class:`~stemtui.core.audio.mixcore.MixCore` (the audio thread),
:class:`~stemtui.core.audio.mixpractice.MixPractice` (tempo, metronome, and
the interface the tempo code drives), :class:`Mixer` (gains and transport).
"""

from __future__ import annotations

import numpy as np

from stemtui.core.audio.mixcore import BLOCK_MAX, COUNTING_IN, ENDED, STARVED
from stemtui.core.audio.mixpractice import MixPractice
from stemtui.core.audio.mixranges import build_schedule, check_range
from stemtui.core.audio.mixstate import NO_LOOP, Loop, Range, Seek, Switch
from stemtui.core.audio.song import Song
from stemtui.core.audio.source import Source

__all__ = ["BLOCK_MAX", "Mixer", "db_to_gain", "gain_to_db"]

#: Default crossfade for seeks and loop wraps, in milliseconds.
XFADE_MS = 5.0
#: Volume range of one stem, as a linear factor (0–200 %).
VOLUME_MAX = 2.0


def db_to_gain(db: float) -> float:
    """Convert decibels to a linear factor (``-inf`` gives 0)."""
    return 0.0 if db == float("-inf") else float(10.0 ** (db / 20.0))


def gain_to_db(gain: float) -> float:
    """Convert a linear factor to decibels (0 gives ``-inf``)."""
    return float("-inf") if gain <= 0 else float(20.0 * np.log10(gain))


class Mixer(MixPractice):
    """Mixes the stems of one :class:`Song` into a stereo output.

    Args:
        song: The song; its ``data`` may still be filling in (``available``).
        xfade_ms: Crossfade length for seeks and loop wraps. ``0`` makes
            wraps hard cuts, which the sample-exactness tests use.
    """

    def __init__(self, song: Song, xfade_ms: float = XFADE_MS) -> None:
        super().__init__(song, xfade_ms)
        s = self._s
        # -- controls, written by the UI thread ------------------------------
        self.volume = np.ones(s, dtype=np.float32)
        self.mute = np.zeros(s, dtype=bool)
        self.solo = np.zeros(s, dtype=bool)
        self.master = 1.0
        self._pending: int | None = None  # the latest seek target
        self._range_list: tuple[Range, ...] = ()

    # ======================================================================
    # UI-thread API
    # ======================================================================
    @property
    def sample_rate(self) -> int:
        """The song's (and the output's) sample rate."""
        return self.song.sample_rate

    @property
    def stem_count(self) -> int:
        """Number of stems."""
        return self._s

    @property
    def frames(self) -> int:
        """Song length in frames."""
        return self._frames

    def _publish_gains(self) -> None:
        audible = ~self.mute
        if self.solo.any():
            audible &= self.solo
        np.multiply(self.volume * audible, np.float32(self.master), out=self._target)
        self._ranges = build_schedule(
            self._range_list, self.volume, self.mute, self.solo, self.master, self._frames, self._xfade
        )
        self._gain_version += 1

    # -- mute and solo ranges ("drop-ins") ---------------------------------------
    def set_ranges(self, ranges) -> None:
        """Mute or solo stems over song-frame ranges only (:class:`~stemtui.core.audio.mixstate.Range`).

        Replaces the ranges there were; ``[]`` removes them all. Each edge
        ramps over the crossfade length, outside the span a stem is silent
        on (see :mod:`stemtui.core.audio.mixranges`).

        Raises:
            ValueError: A range with no such stem, another kind, or empty or
                outside the song.
        """
        checked = tuple(check_range(Range(*r), self._s, self._frames) for r in ranges)
        self._range_list = tuple(dict.fromkeys(checked))  # the same range twice is one
        self._publish_gains()

    @property
    def ranges(self) -> tuple[Range, ...]:
        """The mute and solo ranges, in the order they were set."""
        return self._range_list

    def toggle_range(self, stem: int, start: int, end: int, kind: str = "mute") -> bool:
        """Add a range, or remove it when that exact one is there; returns whether it is on now."""
        r = check_range(Range(stem, start, end, kind), self._s, self._frames)
        on = r not in self._range_list
        self.set_ranges([*self._range_list, r] if on else [x for x in self._range_list if x != r])
        return on

    def set_volume(self, stem: int, gain: float) -> None:
        """Set a stem's volume as a linear factor, clamped to 0–200 %."""
        self.volume[stem] = min(max(float(gain), 0.0), VOLUME_MAX)
        self._publish_gains()

    def set_mute(self, stem: int, muted: bool) -> None:
        """Mute or unmute one stem."""
        self.mute[stem] = muted
        self._publish_gains()

    def toggle_mute(self, stem: int) -> bool:
        """Toggle a stem's mute; returns the new state."""
        self.set_mute(stem, not self.mute[stem])
        return bool(self.mute[stem])

    def set_solo(self, stem: int, soloed: bool) -> None:
        """Solo or unsolo one stem; several stems may be soloed at once."""
        self.solo[stem] = soloed
        self._publish_gains()

    def toggle_solo(self, stem: int) -> bool:
        """Toggle a stem's solo; returns the new state."""
        self.set_solo(stem, not self.solo[stem])
        return bool(self.solo[stem])

    def set_master(self, gain: float) -> None:
        """Set the master volume as a linear factor (0–200 %)."""
        self.master = min(max(float(gain), 0.0), VOLUME_MAX)
        self._publish_gains()

    def reset_mix(self) -> int:
        """Unmute, unsolo, remove every mute/solo range, and set every volume and the master to 100 %.

        Returns how many ranges were removed.
        """
        removed = len(self._range_list)
        self.volume[:] = 1.0
        self.mute[:] = False
        self.solo[:] = False
        self.master = 1.0
        if removed:
            self.set_ranges([])
        self._publish_gains()
        return removed

    @property
    def gains(self) -> np.ndarray:
        """A copy of the effective per-stem gains the mix is heading to."""
        return self._target.copy()

    @property
    def gains_pending(self) -> bool:
        """Whether the audio thread has yet to pick up the latest gain change."""
        return self._gain_seen != self._gain_version

    def audible(self, stem: int) -> bool:
        """Whether a stem is heard, given mutes and solos."""
        return bool(self._target[stem] > 0)

    def play(self) -> None:
        """Start or resume playback (fades in over one block)."""
        self._playing = True

    def pause(self) -> None:
        """Pause playback (fades out over one block)."""
        self._playing = False

    def toggle_play(self) -> bool:
        """Toggle play/pause; returns ``True`` if now playing."""
        if self._playing:
            self.pause()
        else:
            if self.ended:
                loop = self._loop
                self.seek(loop.start if loop.enabled else 0)
            self.play()
        return self._playing

    @property
    def playing(self) -> bool:
        """Whether playback is on (the user's intent, not the device's)."""
        return self._playing

    def seek(self, frame: int) -> None:
        """Move the playhead to song ``frame`` (clamped), crossfading from the old one.

        At another tempo or pitch the new place is rendered first (a fraction
        of a second); the old playhead keeps playing until it is ready.
        """
        frame = min(max(int(frame), 0), self._frames)
        self._flags[ENDED] = 0
        self._pending = frame
        if self._tempo is not None and not self._tempo.identity:
            self._tempo.seek(frame)
        else:
            self._seek = Seek(self._seek.version + 1, frame)

    def seek_seconds(self, seconds: float) -> None:
        """Move the playhead to a time in seconds."""
        self.seek(round(seconds * self.sample_rate))

    def switch_to(self, src: Source, frame: int, at: int = -1) -> None:
        """Play ``src`` from its ``frame`` once it has audio there (tempo code).

        Args:
            src: The source.
            frame: Its frame to start at (ignored when ``at >= 0``).
            at: ``-1`` to jump (a seek); otherwise a song frame: switch when
                the playhead reaches it, at the same song time.
        """
        self._switch = Switch(self._switch.version + 1, src, int(frame), int(at))

    def set_loop(self, start: int, end: int, enabled: bool = True) -> None:
        """Set the A–B loop in frames; it wraps when the playhead reaches ``end``.

        Raises:
            ValueError: If the loop is empty or shorter than two crossfades.
        """
        start = min(max(int(start), 0), self._frames)
        end = min(max(int(end), 0), self._frames)
        if end - start < self.min_loop_frames:
            raise ValueError("loop end must come after loop start")
        self._loop = Loop(start, end, bool(enabled))
        self._loop_changed()

    def set_loop_ms(self, start_ms: float, end_ms: float, enabled: bool = True) -> None:
        """Set the A–B loop in milliseconds of song time."""
        sr = self.sample_rate
        self.set_loop(round(start_ms * sr / 1000.0), round(end_ms * sr / 1000.0), enabled)

    def enable_loop(self, enabled: bool) -> None:
        """Turn the loop on or off, keeping its points."""
        a, b, _ = self._loop
        self._loop = Loop(a, b, bool(enabled) and b > a)
        self._loop_changed()

    def clear_loop(self) -> None:
        """Forget the loop points."""
        self._loop = NO_LOOP
        self._loop_changed()

    def _loop_changed(self) -> None:
        if self._tempo is not None:
            self._tempo.loop_changed()

    @property
    def loop(self) -> Loop:
        """``(start, end, enabled)`` in frames (a :class:`Loop`); ``end == 0`` means no loop."""
        return self._loop

    @property
    def pending_seek(self) -> int | None:
        """A seek target the audio thread has not applied yet, or ``None``.

        Lets quick successive seeks (key repeat) build on each other rather
        than on a stale published position.
        """
        busy = self._seek_seen != self._seek.version or self._switch_seen != self._switch.version
        if self._tempo is not None and self._tempo.seeking:
            busy = True
        return self._pending if busy else None

    @property
    def min_loop_frames(self) -> int:
        """The shortest loop :meth:`set_loop` accepts (two crossfades)."""
        return max(2 * self._xfade, 1)

    @property
    def xfade_frames(self) -> int:
        """The seek/loop crossfade length in frames (0: hard cuts)."""
        return self._xfade

    @property
    def position(self) -> int:
        """Playhead in song frames, as last published by the audio thread."""
        return int(self._published_pos[0])

    @property
    def ended(self) -> bool:
        """Whether the playhead reached the end of the song."""
        return bool(self._flags[ENDED])

    @property
    def starved(self) -> bool:
        """Whether playback is waiting for stems still being separated/decoded."""
        return bool(self._flags[STARVED])

    @property
    def counting_in(self) -> bool:
        """Whether the count-in clicks are playing."""
        return bool(self._flags[COUNTING_IN])

    def take_peaks(self) -> np.ndarray:
        """Per-stem peaks since the previous call; resets them (UI thread)."""
        out = self.peaks.copy()
        self.peaks[:] = 0.0
        return out

    def start_at(self, frame: int, playing: bool = True, source: Source | None = None) -> None:
        """Place the playhead without a crossfade and apply gains at once.

        For offline rendering and tests, before any :meth:`process` call.

        Args:
            frame: Song frame.
            playing: Start playing (no fade-in).
            source: Play this source (a stretched run) instead of the song.
        """
        src = source if source is not None else self._song_src
        self._src = self.current_source = src
        self._pos = src.run_frame(min(max(int(frame), 0), self._frames))
        self._seek_seen = self._seek.version
        self._switch_seen = self._switch.version
        self._published_pos[0] = self._song_pos()
        np.copyto(self._g_cur, self._target)
        self._rg_cur = self._rg_new = self._rg_use = self._ranges
        self._gain_seen = self._gain_version
        self._playing = self._was_playing = playing
        self._tail_left = 0
        self._ci_left = 0
        self._flags[:] = 0
