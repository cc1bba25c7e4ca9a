"""The mixer's practice side: tempo and transpose, the metronome channel, and
the small interface the tempo code drives the mixer through.

:class:`MixPractice` sits between the audio thread's
:class:`~stemtui.core.audio.mixcore.MixCore` and the user-facing
:class:`~stemtui.core.audio.mixer.Mixer`. The tempo control thread
(:mod:`stemtui.core.tempo.control`) and the metronome
(:mod:`stemtui.core.audio.metronome`) use only what is public here and in
:class:`Mixer`; they never touch the audio thread's attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stemtui.core.audio.mixcore import ADOPT_WRAP, ADOPTED, LATE, WRAPS, MixCore
from stemtui.core.audio.mixstate import Click, CountIn, NextPass
from stemtui.core.audio.song import Song
from stemtui.core.audio.source import Source

if TYPE_CHECKING:
    from stemtui.core.audio.metronome import Metronome
    from stemtui.core.tempo.control import TempoControl
    from stemtui.core.tempo.trainer import TrainerSpec
    from stemtui.core.tempo.trainplay import TrainerStatus


class MixPractice(MixCore):
    """Tempo, transpose and metronome of a mixer; see the module docstring."""

    def __init__(self, song: Song, xfade_ms: float) -> None:
        super().__init__(song, xfade_ms)
        self._tempo: TempoControl | None = None  # created on the first tempo change
        self._metronome: Metronome | None = None
        self._next_version = 0

    # -- tempo and transpose ------------------------------------------------
    def set_tempo(self, tempo: float, semitones: int = 0) -> None:
        """Play at ``tempo`` (0.5–1.5) and transposed by ``semitones`` (−12…12).

        Stems are stretched ahead of the playhead in a worker process; the
        change is heard as soon as the first second is rendered. Mutes,
        solos, volumes and loops keep working; loop points stay in song time.
        """
        from stemtui.core.tempo.control import TempoControl

        if self._tempo is None:
            self._tempo = TempoControl(self)
        self._tempo.set(tempo, semitones)
        if self._metronome is not None:
            self._metronome.apply()  # the count-in follows the tempo heard

    @property
    def tempo(self) -> float:
        """The tempo factor asked for (1.0 = original)."""
        return 1.0 if self._tempo is None else self._tempo.tempo

    @property
    def semitones(self) -> int:
        """The transpose asked for, in semitones."""
        return 0 if self._tempo is None else self._tempo.semitones

    @property
    def tempo_control(self) -> TempoControl | None:
        """The :class:`~stemtui.core.tempo.control.TempoControl`, or ``None`` before the first tempo change."""
        return self._tempo

    def take_tempo_errors(self) -> list[str]:
        """One line per tempo/transpose failure since the last call (UI poll; see
        :meth:`TempoControl.take_errors <stemtui.core.tempo.control.TempoControl.take_errors>`)."""
        return [] if self._tempo is None else self._tempo.take_errors()

    # -- the speed trainer ----------------------------------------------------
    def start_trainer(self, spec: TrainerSpec | None) -> None:
        """Run the speed trainer on the loop (``None`` stops it; the tempo heard stays).

        Pass 1 starts at the loop start at ``spec.start``; each next tempo is
        rendered ahead and switched at the wrap (:mod:`stemtui.core.tempo.trainplay`).
        """
        from stemtui.core.tempo.control import TempoControl

        if spec is None and self._tempo is None:
            return
        if self._tempo is None:
            self._tempo = TempoControl(self)
        self._tempo.train(spec)

    @property
    def trainer(self) -> TrainerStatus | None:
        """Where the speed trainer is (``None`` when it is off)."""
        t = None if self._tempo is None else self._tempo.trainer
        return None if t is None else t.status

    def set_next_pass(self, src: Source | None, at_wrap: int = 0, count_in: CountIn | None = None) -> int:
        """Restart the loop from ``src`` at the wrap that counts ``at_wrap`` (trainer; ``None``: cancel).

        Returns the command's version (see :class:`~stemtui.core.audio.mixstate.NextPass`).
        """
        self._next_version += 1
        self._next_pass = None if src is None else NextPass(self._next_version, src, int(at_wrap), count_in)
        return self._next_version

    @property
    def jump_pending(self) -> bool:
        """Whether a seek or switch is given but not applied yet by the audio thread."""
        return self._seek_seen != self._seek.version or self._switch_seen != self._switch.version

    def trainer_counters(self) -> tuple[int, int, int, int]:
        """``(wraps, version taken, late wraps, wrap that took it)`` as the audio thread left them."""
        tp = self._train_pub
        return int(tp[WRAPS]), int(tp[ADOPTED]), int(tp[LATE]), int(tp[ADOPT_WRAP])

    # -- what the tempo code drives (control thread) -------------------------
    @property
    def song_source(self) -> Source:
        """The identity source: the song itself, unstretched."""
        return self._song_src

    @property
    def loop_source(self) -> Source | None:
        """The source a loop restarts from (a stretched run of the loop), or ``None``."""
        return self._loop_src

    def set_loop_source(self, src: Source | None) -> None:
        """Restart the loop from ``src`` (a run starting at the loop start), or ``None``.

        The audio thread uses it at the next wrap if its start, tempo and
        transpose match; otherwise it keeps playing what covers the loop start.
        """
        self._loop_src = src

    @property
    def source_position(self) -> int:
        """The playhead in frames of :attr:`current_source` (as the audio thread left it)."""
        return self._pos

    def sources_in_use(self) -> tuple[Source | None, ...]:
        """The sources the audio thread may be reading now or soon.

        The one playing, the one fading out under it, the target of a pending
        switch, the loop's run, and the trainer's next pass. A source in none of these can be deleted
        (after a grace period: this is a snapshot).
        """
        nxt = self._next_pass
        return self.current_source, self._tail_src, self._switch.source, self._loop_src, nxt and nxt.source

    # -- metronome ----------------------------------------------------------
    @property
    def metronome(self) -> Metronome:
        """The click and count-in channel (:class:`~stemtui.core.audio.metronome.Metronome`)."""
        if self._metronome is None:
            from stemtui.core.audio.metronome import Metronome

            self._metronome = Metronome(self)
        return self._metronome

    def set_click(
        self, period: float, offset: float, beats_per_bar: int, normal: np.ndarray, accent: np.ndarray, on: bool
    ) -> None:
        """Set the metronome: beats every ``period`` song frames from ``offset``.

        Args:
            period: Song frames per beat.
            offset: Song frame of a beat.
            beats_per_bar: Accent every this many beats.
            normal: Click sample ``(n, 2)`` float32, gain applied.
            accent: Downbeat click, same length.
            on: Whether the clicks sound.
        """
        self._click = Click(
            float(period),
            float(offset),
            max(1, int(beats_per_bar)),
            np.ascontiguousarray(normal, dtype=np.float32),
            np.ascontiguousarray(accent, dtype=np.float32),
            bool(on),
        )

    def clear_click(self) -> None:
        """Remove the metronome's clicks (no beat grid)."""
        self._click = None

    @property
    def click(self) -> Click | None:
        """The metronome's click settings as the audio thread sees them, or ``None``."""
        return self._click

    def set_count_in(self, audio: np.ndarray | None, on: bool = True) -> None:
        """Play ``audio`` (the count-in clicks) before playback and each loop restart."""
        self._count_in = None if audio is None else CountIn(np.ascontiguousarray(audio, dtype=np.float32), bool(on))

    @property
    def count_in(self) -> CountIn | None:
        """The count-in as the audio thread sees it, or ``None``."""
        return self._count_in

    def close(self) -> None:
        """Stop tempo workers and delete their files."""
        if self._tempo is not None:
            self._tempo.close()
