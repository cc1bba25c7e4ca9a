"""The real-time stem mixer: what the audio callback runs, block by block.

Threading model (no locks anywhere):

* The UI thread calls the ``set_*``/``seek``/``play`` methods. They compute a
  target gain vector or transport command, store it, and bump a version
  number. Attribute stores are atomic under the GIL, and each command's data
  is written before its version, so the audio thread never sees a version
  without its data.
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
"""

from __future__ import annotations

import numpy as np

from stemtui.core.song import Song

#: Longest block :meth:`Mixer.process` renders in one pass; longer ones are split.
BLOCK_MAX = 4096
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


class Mixer:
    """Mixes the stems of one :class:`Song` into a stereo output.

    Args:
        song: The song; its ``data`` may still be filling in (``available``).
        xfade_ms: Crossfade length for seeks and loop wraps. ``0`` makes
            wraps hard cuts, which the sample-exactness tests use.
    """

    def __init__(self, song: Song, xfade_ms: float = XFADE_MS) -> None:
        s = len(song.names)
        self.song = song
        self._data = song.data
        self._avail = song.available_ref
        self._frames = song.frames
        self._s = s

        # -- controls, written by the UI thread ------------------------------
        self.volume = np.ones(s, dtype=np.float32)
        self.mute = np.zeros(s, dtype=bool)
        self.solo = np.zeros(s, dtype=bool)
        self.master = 1.0
        self._target = np.ones(s, dtype=np.float32)
        self._gain_version = 0
        self._playing = False
        self._seek_to = 0
        self._seek_version = 0
        #: (start, end, enabled) in frames; replaced whole so reads are atomic.
        self._loop: tuple[int, int, bool] = (0, 0, False)

        # -- audio-thread state ----------------------------------------------
        self._pos = 0
        self._g_cur = np.ones(s, dtype=np.float32)
        self._g_new = np.ones(s, dtype=np.float32)
        self._gain_seen = 0
        self._seek_seen = 0
        self._was_playing = False
        self._tail_pos = 0
        self._tail_left = 0

        # -- published by the audio thread, polled by the UI -----------------
        #: Per-stem peak (post-gain) since the UI last called :meth:`take_peaks`.
        self.peaks = np.zeros(s, dtype=np.float32)
        self._published_pos = np.zeros(1, dtype=np.int64)
        self._flags = np.zeros(2, dtype=np.int8)  # [ended, starved]

        # -- scratch buffers, allocated once ---------------------------------
        self._a = np.zeros((BLOCK_MAX, 2), dtype=np.float32)
        self._b = np.zeros((BLOCK_MAX, 2), dtype=np.float32)
        self._t = np.zeros((BLOCK_MAX, 2), dtype=np.float32)
        self._pk = np.zeros(s, dtype=np.float32)
        self._pk2 = np.zeros(s, dtype=np.float32)
        self._absg = np.zeros(s, dtype=np.float32)
        # Ramps are stored per channel, (frames, 2), for the same reason as fades.
        self._ramp_base = np.repeat(np.arange(1, BLOCK_MAX + 1, dtype=np.float32)[:, None], 2, axis=1)
        self._ramp = np.zeros((BLOCK_MAX, 2), dtype=np.float32)
        self._ramp_n = 0
        self._ramp_inv = np.zeros((BLOCK_MAX, 2), dtype=np.float32)
        self.set_xfade(xfade_ms)

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

    def set_xfade(self, ms: float) -> None:
        """Set the seek/loop crossfade length (call before playback starts)."""
        x = int(round(ms * self.song.sample_rate / 1000.0))
        self._xfade = x
        k = (np.arange(max(x, 1), dtype=np.float64) + 0.5) / max(x, 1)
        # Raised-cosine pair: fade_in + fade_out == 1, so identical material
        # passes at constant level and a correlated wrap has no bump.
        fade_in = np.sin(0.5 * np.pi * k) ** 2
        # Stored per channel, (x, 2): broadcasting a (x, 1) view against the
        # stereo block would make numpy allocate an iteration buffer.
        self._fade_in = np.repeat(fade_in[:, None], 2, axis=1).astype(np.float32)
        self._fade_out = (1.0 - self._fade_in).astype(np.float32)

    def _publish_gains(self) -> None:
        audible = ~self.mute
        if self.solo.any():
            audible &= self.solo
        np.multiply(self.volume * audible, np.float32(self.master), out=self._target)
        self._gain_version += 1

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

    def reset_mix(self) -> None:
        """Unmute, unsolo, and set every volume and the master to 100 %."""
        self.volume[:] = 1.0
        self.mute[:] = False
        self.solo[:] = False
        self.master = 1.0
        self._publish_gains()

    @property
    def gains(self) -> np.ndarray:
        """A copy of the effective per-stem gains the mix is heading to."""
        return self._target.copy()

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
                self.seek(self._loop[0] if self._loop[2] else 0)
            self.play()
        return self._playing

    @property
    def playing(self) -> bool:
        """Whether playback is on (the user's intent, not the device's)."""
        return self._playing

    def seek(self, frame: int) -> None:
        """Move the playhead to ``frame`` (clamped), crossfading from the old one."""
        self._seek_to = min(max(int(frame), 0), self._frames)
        self._flags[0] = 0
        self._seek_version += 1

    def seek_seconds(self, seconds: float) -> None:
        """Move the playhead to a time in seconds."""
        self.seek(int(round(seconds * self.sample_rate)))

    def set_loop(self, start: int, end: int, enabled: bool = True) -> None:
        """Set the A–B loop in frames; it wraps when the playhead reaches ``end``.

        Raises:
            ValueError: If the loop is empty or shorter than two crossfades.
        """
        start = min(max(int(start), 0), self._frames)
        end = min(max(int(end), 0), self._frames)
        if end - start < self.min_loop_frames:
            raise ValueError("loop end must come after loop start")
        self._loop = (start, end, bool(enabled))

    def set_loop_ms(self, start_ms: float, end_ms: float, enabled: bool = True) -> None:
        """Set the A–B loop in milliseconds of song time."""
        sr = self.sample_rate
        self.set_loop(int(round(start_ms * sr / 1000.0)), int(round(end_ms * sr / 1000.0)), enabled)

    def enable_loop(self, enabled: bool) -> None:
        """Turn the loop on or off, keeping its points."""
        a, b, _ = self._loop
        self._loop = (a, b, bool(enabled) and b > a)

    def clear_loop(self) -> None:
        """Forget the loop points."""
        self._loop = (0, 0, False)

    @property
    def loop(self) -> tuple[int, int, bool]:
        """``(start, end, enabled)`` in frames; ``end == 0`` means no loop."""
        return self._loop

    @property
    def pending_seek(self) -> int | None:
        """A seek target the audio thread has not applied yet, or ``None``.

        Lets quick successive seeks (key repeat) build on each other rather
        than on a stale published position.
        """
        return self._seek_to if self._seek_seen != self._seek_version else None

    @property
    def min_loop_frames(self) -> int:
        """The shortest loop :meth:`set_loop` accepts (two crossfades)."""
        return max(2 * self._xfade, 1)

    @property
    def position(self) -> int:
        """Playhead in frames, as last published by the audio thread."""
        return int(self._published_pos[0])

    @property
    def ended(self) -> bool:
        """Whether the playhead reached the end of the song."""
        return bool(self._flags[0])

    @property
    def starved(self) -> bool:
        """Whether playback is waiting for stems still being separated/decoded."""
        return bool(self._flags[1])

    def take_peaks(self) -> np.ndarray:
        """Per-stem peaks since the previous call; resets them (UI thread)."""
        out = self.peaks.copy()
        self.peaks[:] = 0.0
        return out

    def start_at(self, frame: int, playing: bool = True) -> None:
        """Place the playhead without a crossfade and apply gains at once.

        For offline rendering and tests, before any :meth:`process` call.
        """
        self._pos = self._seek_to = min(max(int(frame), 0), self._frames)
        self._seek_seen = self._seek_version
        self._published_pos[0] = self._pos
        np.copyto(self._g_cur, self._target)
        self._gain_seen = self._gain_version
        self._playing = self._was_playing = playing
        self._tail_left = 0
        self._flags[:] = 0

    # ======================================================================
    # Audio-thread API
    # ======================================================================
    def process(self, out: np.ndarray) -> None:
        """Render the next ``len(out)`` frames into ``out`` (``float32``, (F, 2)).

        This is the audio callback's whole job. It allocates no buffers and
        takes no locks.
        """
        n = out.shape[0]
        o = 0
        while o < n:
            m = min(BLOCK_MAX, n - o)
            self._process_block(out[o : o + m])
            o += m

    def _process_block(self, out: np.ndarray) -> None:
        f = out.shape[0]
        if self._seek_seen != self._seek_version:
            self._seek_seen = self._seek_version
            if self._was_playing and self._xfade:
                # Let the old playhead ring out under the new one: no click.
                self._tail_pos, self._tail_left = self._pos, self._xfade
            self._pos = self._seek_to
        ramp = self._gain_seen != self._gain_version
        if ramp:
            self._gain_seen = self._gain_version
            np.copyto(self._g_new, self._target)
        playing = self._playing
        if not playing and not self._was_playing:
            out.fill(0.0)
            if ramp:
                np.copyto(self._g_cur, self._g_new)
            self._published_pos[0] = self._pos
            return
        if ramp or playing != self._was_playing:
            self._set_ramp(f)

        pos, tail_pos, tail_left = self._pos, self._tail_pos, self._tail_left
        if ramp:
            a = self._a[:f]
            self._render(a, self._g_cur, pos, tail_pos, tail_left, False)
            state = self._render(out, self._g_new, pos, tail_pos, tail_left, True)
            # out = a + (out - a) * ramp: a per-frame linear gain ramp.
            np.subtract(out, a, out=out)
            np.multiply(out, self._ramp[:f], out=out)
            np.add(out, a, out=out)
            np.copyto(self._g_cur, self._g_new)
        else:
            state = self._render(out, self._g_cur, pos, tail_pos, tail_left, True)
        if playing != self._was_playing:
            fade = self._ramp if playing else self._ramp_inv
            np.multiply(out, fade[:f], out=out)
            self._was_playing = playing
            if not playing:
                # Pausing: hold the playhead where the fade began so resuming
                # replays the faded-out block instead of skipping it.
                state = (pos, tail_pos, 0)
        self._pos, self._tail_pos, self._tail_left = state
        self._published_pos[0] = self._pos

    def _set_ramp(self, f: int) -> None:
        if self._ramp_n != f:
            np.multiply(self._ramp_base[:f], np.float32(1.0 / f), out=self._ramp[:f])
            np.subtract(np.float32(1.0), self._ramp[:f], out=self._ramp_inv[:f])
            self._ramp_n = f

    def _render(
        self,
        dst: np.ndarray,
        g: np.ndarray,
        pos: int,
        tail_pos: int,
        tail_left: int,
        meter: bool,
    ) -> tuple[int, int, int]:
        """Mix ``len(dst)`` frames from ``pos`` with gains ``g``, wrapping loops.

        Returns the playhead state after the block; commits nothing, so the
        same block can be rendered twice (old and new gains) for a ramp.
        """
        f = dst.shape[0]
        data, s = self._data, self._s
        frames = self._frames
        avail = min(int(self._avail[0]), frames)
        la, lb, lon = self._loop
        starved = ended = 0
        o = 0
        while o < f:
            if pos >= avail:
                dst[o:].fill(0.0)
                if pos >= frames:
                    ended = 1
                else:
                    starved = 1
                break
            end = pos + (f - o)
            wrap = lon and pos < lb <= end
            if wrap:
                end = lb
            if end > avail:
                end = avail
            n = end - pos
            seg = dst[o : o + n]
            # One strided BLAS call mixes every stem of the segment: the stems
            # are rows of (S, frames*2), the gains a vector. np.matmul reads the
            # strided rows in place; np.dot (and ufuncs like np.abs) would copy
            # them into a temporary first, which the allocation test catches.
            block = data[:, pos:end]
            np.matmul(g, block.reshape(s, -1), out=seg.reshape(-1))
            if meter:
                # |x| peak as max(max x, -min x): reductions read strided data
                # without the temporary a strided np.abs would make.
                np.max(block, axis=(1, 2), out=self._pk)
                np.min(block, axis=(1, 2), out=self._pk2)
                np.negative(self._pk2, out=self._pk2)
                np.maximum(self._pk, self._pk2, out=self._pk)
                np.abs(g, out=self._absg)
                np.multiply(self._pk, self._absg, out=self._pk)
                np.maximum(self.peaks, self._pk, out=self.peaks)
            if tail_left:
                tail_pos, tail_left = self._mix_tail(seg, g, tail_pos, tail_left, avail)
            o += n
            pos = end
            if wrap and pos == lb:
                if self._xfade:
                    tail_pos, tail_left = lb, self._xfade
                pos = la
        if meter:
            self._flags[0] = ended
            self._flags[1] = starved
        return pos, tail_pos, tail_left

    def _mix_tail(
        self, seg: np.ndarray, g: np.ndarray, tail_pos: int, tail_left: int, avail: int
    ) -> tuple[int, int]:
        """Crossfade the old playhead's continuation into the start of ``seg``."""
        m = min(seg.shape[0], tail_left)
        k0 = self._xfade - tail_left
        t = self._t[:m]
        have = max(0, min(m, avail - tail_pos))
        if have:
            np.matmul(g, self._data[:, tail_pos : tail_pos + have].reshape(self._s, -1), out=t[:have].reshape(-1))
        if have < m:
            t[have:].fill(0.0)
        head = seg[:m]
        np.multiply(head, self._fade_in[k0 : k0 + m], out=head)
        np.multiply(t, self._fade_out[k0 : k0 + m], out=t)
        np.add(head, t, out=head)
        return tail_pos + m, tail_left - m
