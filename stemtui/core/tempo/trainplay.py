"""The speed trainer in the player: the next pass rendered ahead, switched at the wrap.

:class:`TrainerDriver` runs on :class:`~stemtui.core.tempo.control.TempoControl`'s
control thread (it owns the runs there). While pass *k* plays the loop's run at
tempo *t_k*, a run of the loop at the next tempo renders; the driver gives it to
the mixer as a :class:`~stemtui.core.audio.mixstate.NextPass` for the wrap that
ends the last pass at *t_k*. The audio thread restarts the loop from it at that
wrap (no gap, and nothing of the old tempo plays past it) and publishes the
wrap count; the driver then makes that run the loop's run, retires the old one
and starts rendering the tempo after. A next pass without 2 s ready at its wrap
is not taken: the current tempo plays once more (never silence), and the
driver reports it (:meth:`TempoControl.take_errors`).

Pass numbers count loop wraps from the moment pass 1 began (the jump to the
loop start at the first tempo).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NamedTuple

from stemtui.core.audio.mixcore import SWITCH_READY_S
from stemtui.core.audio.mixstate import CountIn
from stemtui.core.tempo.stretch import is_identity
from stemtui.core.tempo.trainer import TrainerSpec, pct, status_line

if TYPE_CHECKING:
    from stemtui.core.tempo.control import TempoControl

#: How often the control thread looks at the trainer while it runs, seconds.
TRAIN_WAKE_S = 0.05


class TrainerStatus(NamedTuple):
    """Where the trainer is (swapped whole; read by the UI and the CLI)."""

    pass_no: int
    total: int
    tempo: float
    #: Every pass of ``--passes N`` was played (the caller stops playback).
    done: bool
    #: Wraps where the next tempo was not ready (the pass was repeated).
    late: int
    #: Seconds by which each next pass was ready before its wrap.
    leads: tuple[float, ...]
    #: Whether pass 1 has begun (the jump to the loop start is done).
    started: bool

    @property
    def line(self) -> str:
        """``pass 3/12 · 80 %``."""
        return status_line(self.pass_no, self.total, self.tempo)


class TrainerDriver:
    """One trainer session on a :class:`TempoControl` (control thread only)."""

    def __init__(self, control: TempoControl, spec: TrainerSpec) -> None:
        self.tc, self.spec = control, spec
        self.tempos = spec.tempos
        self.step = 0  # index into tempos of what plays
        self.step_pass = 1  # the pass that began it
        self.w0: int | None = None  # the wrap count when pass 1 began
        self.pending: Any = None  # the next pass's source (a run, or the song at 100 %)
        self._version = -1
        self._ready_t: float | None = None
        self._late_seen = self._late0 = 0
        self._leads: list[float] = []
        self.status = TrainerStatus(1, spec.total, spec.start, False, 0, (), False)

    # -- start and stop ----------------------------------------------------
    def begin(self) -> None:
        """Play pass 1: the loop's start at the first tempo, as soon as it is rendered."""
        tc, m = self.tc, self.tc.mixer
        _wraps, _v, self._late_seen, _w = m.trainer_counters()
        self._late0 = self._late_seen
        t0 = self.tempos[0]
        with tc._lock:
            tc.tempo = t0
        la = m.loop.start
        if tc.identity:
            m.set_loop_source(None)
            tc._retire_all()
            m.seek(la)
            return
        tc._refresh_loop(t0, tc.semitones)
        run = m.loop_source
        tc._retire_all(keep=run)
        m.switch_to(run, 0, at=-1)

    def stop(self) -> None:
        """Cancel the next pass; the tempo heard stays."""
        m = self.tc.mixer
        m.set_next_pass(None)
        if self.pending is not None and self.pending is not m.song_source:
            self.tc._retire(self.pending)
        self.pending = None

    # -- every turn of the control thread ------------------------------------
    def turn(self) -> None:
        """Follow the wraps: take what the mixer switched to, render the pass after."""
        tc, m = self.tc, self.tc.mixer
        wraps, adopted, late, adopt_wrap = m.trainer_counters()
        if self.w0 is None:
            if m.jump_pending or tc.seeking:
                return  # still jumping to the loop start
            self.w0 = wraps
        if self.pending is not None and adopted == self._version:
            self._took(adopt_wrap)
        if late > self._late_seen:
            self._late_seen = late
            if self.pending is not None:
                nxt, cur = self.tempos[self.step + 1], self.tempos[self.step]
                tc._report(f"trainer: {pct(nxt)} % was not rendered in time; one more pass at {pct(cur)} %")
        pass_no = wraps - self.w0 + 1
        done = self.spec.passes is not None and pass_no > self.spec.passes
        if done:
            self.stop()
        else:
            self._prepare()
        self._watch_ready()
        self.status = TrainerStatus(
            pass_no,
            self.spec.total,
            self.tempos[self.step],
            done,
            late - self._late0,
            tuple(self._leads),
            True,
        )

    def _took(self, adopt_wrap: int) -> None:
        """The mixer restarted the loop from the next pass at wrap ``adopt_wrap``."""
        tc, m = self.tc, self.tc.mixer
        if self._ready_t is not None:
            self._leads.append(round(time.monotonic() - self._ready_t, 3))
        self.step += 1
        self.step_pass = adopt_wrap - (self.w0 or 0) + 1
        new, self.pending, self._ready_t = self.pending, None, None
        with tc._lock:
            tc.tempo = self.tempos[self.step]
        if new is m.song_source:
            m.set_loop_source(None)
            tc._retire_all()
        else:
            m.set_loop_source(new)
            tc._retire_all(keep=new)
        if m.count_in is not None:
            m.metronome.apply()  # later restarts count in at the new tempo too

    def _prepare(self) -> None:
        """Have the next tempo rendering and in the mixer, ready for its wrap."""
        tc, m = self.tc, self.tc.mixer
        if self.step + 1 >= len(self.tempos) or self.w0 is None:
            return
        first = self.step_pass + self.spec.every  # the pass the next tempo starts
        if self.spec.passes is not None and first > self.spec.passes:
            return
        run = self.pending
        if run is not None and (run is m.song_source or (run.error is None and run in tc._runs)):
            return
        t = self.tempos[self.step + 1]
        la, lb, _on = m.loop
        if is_identity(t, tc.semitones):
            run = m.song_source
        else:
            from stemtui.core.tempo.control import LOOP_PAD_S

            run = tc._new_run(la, t, tc.semitones, end=lb + int(LOOP_PAD_S * m.sample_rate))
        self.pending, self._ready_t = run, None
        ci = m.metronome.count_in_audio(t) if m.count_in is not None else None
        self._version = m.set_next_pass(
            run, self.w0 + first - 1, None if ci is None else CountIn(ci.astype("float32"), True)
        )

    def _watch_ready(self) -> None:
        run = self.pending
        if run is None or self._ready_t is not None:
            return
        m = self.tc.mixer
        frame = run.run_frame(m.loop.start)
        need = int(SWITCH_READY_S * m.sample_rate)
        if min(int(run.avail[0]), run.frames) >= min(frame + need, run.frames):
            self._ready_t = time.monotonic()
