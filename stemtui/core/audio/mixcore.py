"""The audio-thread half of the mixer: :meth:`MixCore.process` and its helpers.

Everything here runs in the audio callback: it slices preallocated arrays and
runs numpy kernels with ``out=`` (no allocation, locks, I/O or logging). Its
inputs are attributes the UI thread replaces whole (the records of
:mod:`stemtui.core.audio.mixstate`, arrays) with a version number, so a read
never sees half a command (:mod:`stemtui.core.audio.mixer`: the UI half). The
playhead is ``(source, frame)``: the song or a stretched run
(:mod:`stemtui.core.audio.source`); loop points, clicks and the published
position are song frames through the source's time map, at any tempo.
"""

from __future__ import annotations

import numpy as np

from stemtui.core.audio.click import add_clicks
from stemtui.core.audio.mixranges import RangeMix
from stemtui.core.audio.mixstate import NO_LOOP, Click, CountIn, Loop, NextPass, Seek, Switch
from stemtui.core.audio.song import Song
from stemtui.core.audio.source import Silence, SongSource, Source

#: Longest block :meth:`MixCore.process` renders in one pass; longer ones are split.
BLOCK_MAX = 4096
#: Seconds of stretched audio a run must have ready past the playhead before
#: the mixer switches to it: the render-ahead starts with a buffer, not a race.
SWITCH_READY_S = 2.0
_MAX, _MIN = np.maximum.reduce, np.minimum.reduce
#: Indices into the published flags array.
ENDED, STARVED, COUNTING_IN = 0, 1, 2
#: Indices into the published trainer counters: loop wraps so far, the last
#: :class:`NextPass` version taken, wraps where it was due but not ready, the wrap that took it.
WRAPS, ADOPTED, LATE, ADOPT_WRAP = 0, 1, 2, 3

#: The audio thread's playhead between blocks: (source, frame, tail source, tail
#: frame, tail frames left, count-in frames left); a plain tuple (a NamedTuple would allocate).
Playhead = tuple[Source, int, Source, int, int, int]


class MixCore(RangeMix):
    """Audio-thread rendering; :class:`~stemtui.core.audio.mixer.Mixer` adds the controls.

    Args:
        song: The song; its ``data`` may still be filling in (``available``).
        xfade_ms: Crossfade length for seeks and loop wraps.
    """

    def __init__(self, song: Song, xfade_ms: float) -> None:
        s = len(song.names)
        self.song = song
        self._frames = song.frames
        self._s = s
        self._song_src = SongSource(song)
        self._silence = Silence(s)
        self._need = int(SWITCH_READY_S * song.sample_rate)

        # -- controls, written by the UI (and tempo) thread, replaced whole ----
        self._target = np.ones(s, dtype=np.float32)
        self._gain_version = 0
        self._playing = False
        self._seek = Seek(0, 0)
        self._switch = Switch(0, self._song_src, 0, -1)
        self._loop: Loop = NO_LOOP
        #: The source a loop restarts from (a stretched run of the loop).
        self._loop_src: Source | None = None
        self._click: Click | None = None
        self._count_in: CountIn | None = None
        self._next_pass: NextPass | None = None

        # -- audio-thread state ----------------------------------------------
        self._src: Source = self._song_src
        self._pos = 0
        self._g_cur = np.ones(s, dtype=np.float32)
        self._g_new = np.ones(s, dtype=np.float32)
        self._gain_seen = 0
        self._seek_seen = 0
        self._switch_seen = 0
        self._was_playing = False
        self._tail_src: Source = self._song_src
        self._tail_pos = 0
        self._tail_left = 0
        self._ci_left = 0
        #: The source the audio thread plays now (published for clean-up).
        self.current_source: Source = self._song_src
        self._alloc(s)
        self._init_ranges(BLOCK_MAX)  # per-stem mute/solo ranges (mixranges)
        self.set_xfade(xfade_ms)

    def set_xfade(self, ms: float) -> None:
        """Set the seek/loop crossfade length (call before playback starts)."""
        x = round(ms * self.song.sample_rate / 1000.0)
        self._xfade = x
        k = (np.arange(max(x, 1), dtype=np.float64) + 0.5) / max(x, 1)
        # Raised-cosine pair: fade_in + fade_out == 1 (a correlated wrap has no
        # bump). Per channel, (x, 2): a (x, 1) view would make numpy allocate.
        fade_in = np.sin(0.5 * np.pi * k) ** 2
        self._fade_in = np.repeat(fade_in[:, None], 2, axis=1).astype(np.float32)
        self._fade_out = (1.0 - self._fade_in).astype(np.float32)

    def _alloc(self, s: int) -> None:
        """Allocate every buffer the callback uses, once."""
        self._a = np.zeros((BLOCK_MAX, 2), dtype=np.float32)
        self._t = np.zeros((BLOCK_MAX, 2), dtype=np.float32)
        self._pk = np.zeros(s, dtype=np.float32)
        self._pk2 = np.zeros(s, dtype=np.float32)
        self._absg = np.zeros(s, dtype=np.float32)
        # Ramps are stored per channel, (frames, 2): broadcasting a (F, 1)
        # view against a stereo block would make numpy allocate.
        self._ramp_base = np.repeat(np.arange(1, BLOCK_MAX + 1, dtype=np.float32)[:, None], 2, axis=1)
        self._ramp = np.zeros((BLOCK_MAX, 2), dtype=np.float32)
        self._ramp_n = 0
        self._ramp_inv = np.zeros((BLOCK_MAX, 2), dtype=np.float32)
        self.peaks = np.zeros(s, dtype=np.float32)
        self._published_pos = np.zeros(1, dtype=np.int64)
        self._flags = np.zeros(3, dtype=np.int8)  # [ended, starved, counting in]
        self._train_pub = np.zeros(4, dtype=np.int64)  # [WRAPS, ADOPTED, LATE, ADOPT_WRAP]

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

    def recover(self) -> None:
        """Make the block after a failed :meth:`process` start clean (audio thread).

        The engine calls this when ``process`` raised (and played silence).
        Nothing of that block was committed; the next one fades in from
        silence and ramps to the current gains. Allocates nothing, cannot raise.
        """
        self._gain_seen = self._gain_version - 1
        if self._xfade:
            self._tail_src, self._tail_pos, self._tail_left = self._silence, 0, self._xfade

    def _song_pos(self) -> int:
        src = self._src
        return src.start + int(self._pos * src.rate)

    def _take_commands(self) -> None:
        seek = self._seek
        if seek.version != self._seek_seen:
            self._seek_seen = seek.version
            self._jump(self._song_src, self._song_src.run_frame(seek.frame))
        sw = self._switch
        if sw.version != self._switch_seen:
            src, frame, at = sw.source, sw.frame, sw.at
            if at >= 0:
                # A tempo change: take over at the same song time, once the
                # new run has audio there.
                now = self._song_pos()
                if self._was_playing and now < at:
                    return
                frame = src.run_frame(max(now, at))
            if src.avail[0] < min(frame + self._need, src.frames):
                return  # not rendered yet: keep playing the old source
            self._switch_seen = sw.version
            self._jump(src, frame)

    def _jump(self, src: Source, frame: int) -> None:
        if self._was_playing and self._xfade:
            # Let the old playhead ring out under the new one: no click.
            self._tail_src, self._tail_pos, self._tail_left = self._src, self._pos, self._xfade
        self._src, self._pos = src, frame
        self._ci_left = 0
        self.current_source = src

    def _process_block(self, out: np.ndarray) -> None:
        f = out.shape[0]
        self._take_commands()
        ramp = self._gain_seen != self._gain_version
        if ramp:
            self._gain_seen = self._gain_version
            np.copyto(self._g_new, self._target)
            self._rg_new = self._ranges
        playing = self._playing
        if not playing and not self._was_playing:
            out.fill(0.0)
            if ramp:
                np.copyto(self._g_cur, self._g_new)
                self._rg_cur = self._rg_use = self._rg_new
            self._published_pos[0] = self._song_pos()
            return
        counting = False
        if playing and not self._was_playing:
            ci = self._count_in
            if ci is not None and ci.on:
                self._ci_left = ci.audio.shape[0]
                counting = True
        if ramp or playing != self._was_playing:
            self._set_ramp(f)

        state = (self._src, self._pos, self._tail_src, self._tail_pos, self._tail_left, self._ci_left)
        if ramp:
            a = self._a[:f]
            self._rg_use = self._rg_cur
            self._render(a, self._g_cur, state, False)
            self._rg_use = self._rg_new
            new = self._render(out, self._g_new, state, True)
            # out = a + (out - a) * ramp: a per-frame linear gain ramp.
            np.subtract(out, a, out=out)
            np.multiply(out, self._ramp[:f], out=out)
            np.add(out, a, out=out)
            np.copyto(self._g_cur, self._g_new)
            self._rg_cur = self._rg_new  # (and _rg_use is it: no ramp renders with it)
        else:
            new = self._render(out, self._g_cur, state, True)
        if playing != self._was_playing:
            if not counting:
                # (A count-in starts from silence with its own clean click.)
                fade = self._ramp if playing else self._ramp_inv
                np.multiply(out, fade[:f], out=out)
            self._was_playing = playing
            if not playing:
                # Pausing: hold the playhead where the fade began so resuming
                # replays the faded-out block instead of skipping it.
                src, pos, tail_src, tail_pos, _, _ = state
                new = (src, pos, tail_src, tail_pos, 0, 0)
        self._src, self._pos, self._tail_src, self._tail_pos, self._tail_left, self._ci_left = new
        self.current_source = self._src
        self._published_pos[0] = self._song_pos()

    def _set_ramp(self, f: int) -> None:
        if self._ramp_n != f:
            np.multiply(self._ramp_base[:f], np.float32(1.0 / f), out=self._ramp[:f])
            np.subtract(np.float32(1.0), self._ramp[:f], out=self._ramp_inv[:f])
            self._ramp_n = f

    def _render(self, dst: np.ndarray, g: np.ndarray, state: Playhead, meter: bool) -> Playhead:
        """Mix ``len(dst)`` frames from the playhead with gains ``g``: loop wraps (the count-in
        before each restart, the trainer's next pass), clicks, the crossfade tail. Returns the
        playhead after the block and commits nothing but, when ``meter``, the meters and counters
        (a ramp renders a block twice, old and new gains)."""
        src, pos, tail_src, tail_pos, tail_left, ci_left = state
        f = dst.shape[0]
        la, lb, lon = self._loop
        click = self._click
        flags = self._flags
        starved = ended = 0
        wraps = int(self._train_pub[WRAPS])
        o = 0
        while o < f:
            if ci_left:
                o, tail_src, tail_pos, tail_left, ci_left = self._count_in_part(
                    dst, o, g, tail_src, tail_pos, tail_left, ci_left
                )
                continue
            avail = min(int(src.avail[0]), src.frames)
            if pos >= avail:
                rest = dst[o:]
                rest.fill(0.0)
                if tail_left:
                    # Whatever played before fades out rather than stopping dead.
                    tail_pos, tail_left = self._mix_tail(rest, g, tail_src, tail_pos, tail_left)
                if pos >= src.frames and src.end >= self._song_src.frames:
                    ended = 1
                else:
                    starved = 1
                break
            if flags[STARVED] and not tail_left and self._xfade:
                # Audio arrives after a wait: fade it in from silence.
                tail_src, tail_pos, tail_left = self._silence, 0, self._xfade
            end = pos + (f - o)
            wrap = False
            lb_src = -1
            if lon:
                lb_src = int((lb - src.start) / src.rate + 0.5)
                if pos < lb_src <= end:
                    end, wrap = lb_src, True
            end = min(end, avail)
            n = end - pos
            seg = dst[o : o + n]
            # One strided BLAS call mixes every stem of the segment: the stems
            # are rows of (S, frames*2), the gains a vector. np.matmul reads the
            # strided rows in place; np.dot (and ufuncs like np.abs) would copy
            # them into a temporary first, which the allocation test catches.
            block = src.data[:, pos:end]
            gm = self._mix_segment(seg, block, g, src, pos)  # g, or the ranges' gains (mixranges)
            if meter:
                self._meter(block, gm)
            if tail_left:
                tail_pos, tail_left = self._mix_tail(seg, gm, tail_src, tail_pos, tail_left)
            if click is not None and click.on:
                # After the crossfade: the click is its own channel, never faded.
                add_clicks(seg, src, pos, click)
            o += n
            pos = end
            if wrap and pos == lb_src:
                wraps += 1
                nxt = self._pass_source(src, la, wraps, meter)
                if self._xfade:
                    tail_src, tail_pos, tail_left = src, pos, self._xfade
                src, pos = nxt, nxt.run_frame(la)
                ci = self._count_in
                if ci is not None and ci.on:
                    ci_left = ci.audio.shape[0]
        if meter:
            flags[ENDED] = ended
            flags[STARVED] = starved
            flags[COUNTING_IN] = 1 if ci_left else 0
            self._train_pub[WRAPS] = wraps
        return src, pos, tail_src, tail_pos, tail_left, ci_left

    def _wrap_source(self, src: Source, la: int) -> Source:
        """The source to restart a loop from: the loop run, or one covering ``la``."""
        nxt = self._loop_src
        if nxt is not None and nxt.start == la and nxt.tempo == src.tempo and nxt.semitones == src.semitones:
            return nxt
        if src.start <= la:
            return src
        return self._song_src if src is self._song_src or nxt is None else nxt

    def _pass_source(self, src: Source, la: int, wraps: int, commit: bool) -> Source:
        """The source to restart from at wrap ``wraps``: the trainer's next pass once due and ready."""
        nxt, tp = self._next_pass, self._train_pub
        if nxt is None or wraps < nxt.at_wrap or nxt.version == tp[ADOPTED]:
            return self._wrap_source(src, la)
        s = nxt.source
        if min(int(s.avail[0]), s.frames) < min(s.run_frame(la) + self._need, s.frames):
            if commit:
                tp[LATE] += 1  # not ready: one more pass at the tempo heard, never silence
            return self._wrap_source(src, la)
        if commit:
            tp[ADOPTED], tp[ADOPT_WRAP] = nxt.version, wraps
            if nxt.count_in is not None:
                self._count_in = nxt.count_in  # the count-in of the new tempo
        return s

    def _meter(self, block: np.ndarray, g: np.ndarray) -> None:
        # |x| peak as max(max x, -min x): reductions read strided data
        # without the temporary a strided np.abs would make. The ufuncs'
        # own reduce, not np.max/np.min: their Python wrappers cost ~5 µs a block.
        _MAX(block, axis=(1, 2), out=self._pk)
        _MIN(block, axis=(1, 2), out=self._pk2)
        np.negative(self._pk2, out=self._pk2)
        np.maximum(self._pk, self._pk2, out=self._pk)
        np.abs(g, out=self._absg)
        np.multiply(self._pk, self._absg, out=self._pk)
        np.maximum(self.peaks, self._pk, out=self.peaks)

    def _count_in_part(self, dst, o, g, tail_src, tail_pos, tail_left, ci_left):
        """Play the count-in clicks (the playhead waits at the loop start)."""
        ci = self._count_in
        if ci is None:  # turned off while counting in: the music fades in now
            return (o, self._silence, 0, self._xfade, 0) if self._xfade else (o, tail_src, tail_pos, tail_left, 0)
        buf = ci.audio
        ci_left = min(ci_left, buf.shape[0])  # replaced by a shorter one meanwhile
        m = min(ci_left, dst.shape[0] - o)
        k = buf.shape[0] - ci_left
        seg = dst[o : o + m]
        np.copyto(seg, buf[k : k + m])
        if tail_left:
            # The old playhead fades out under the clicks; the clicks start clean.
            tail_pos, tail_left = self._mix_tail(seg, g, tail_src, tail_pos, tail_left, fade_head=False)
        ci_left -= m
        if not ci_left and self._xfade:
            # The music comes in after the last click: fade it in (a crossfade
            # from silence) rather than starting mid-waveform with a click.
            tail_src, tail_pos, tail_left = self._silence, 0, self._xfade
        return o + m, tail_src, tail_pos, tail_left, ci_left

    def _mix_tail(
        self, seg: np.ndarray, g: np.ndarray, tail_src: Source, tail_pos: int, tail_left: int, fade_head: bool = True
    ) -> tuple[int, int]:
        """Crossfade the old playhead's continuation into the start of ``seg``."""
        m = min(seg.shape[0], tail_left)
        k0 = self._xfade - tail_left
        t = self._t[:m]
        avail = min(int(tail_src.avail[0]), tail_src.frames)
        have = max(0, min(m, avail - tail_pos))
        if have:
            block = tail_src.data[:, tail_pos : tail_pos + have]
            np.matmul(g, block.reshape(self._s, -1), out=t[:have].reshape(-1))
        if have < m:
            t[have:].fill(0.0)
        head = seg[:m]
        if fade_head:
            np.multiply(head, self._fade_in[k0 : k0 + m], out=head)
        np.multiply(t, self._fade_out[k0 : k0 + m], out=t)
        np.add(head, t, out=head)
        return tail_pos + m, tail_left - m
