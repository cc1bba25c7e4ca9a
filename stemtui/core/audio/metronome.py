"""The metronome channel: clicks on the song's beats and a count-in, mixed live.

The clicks are an extra, mutable channel of the mixer, never part of the
stems. They are placed in song time from a :class:`BeatGrid` (estimated from
the drums, or tapped), so at 75 % they come 1/0.75 further apart, exactly on
the stretched beats, and they are not stretched themselves: a click stays a
crisp click at any tempo. The count-in is N clicks at the song's tempo times
the playback tempo, played before playback starts and before each loop
restart while the playhead waits at the loop start.
"""

from __future__ import annotations

from stemtui.core.analysis.beats import BeatGrid
from stemtui.core.audio.click import click_sample, count_in

#: Most count-in beats the player offers.
COUNT_IN_MAX = 8


class Metronome:
    """Click and count-in settings of one mixer; :meth:`apply` pushes them to it.

    Args:
        mixer: The :class:`~stemtui.core.audio.mixer.Mixer`.
    """

    def __init__(self, mixer) -> None:
        self.mixer = mixer
        #: The beat grid, or ``None`` until one is estimated or tapped.
        self.grid: BeatGrid | None = None
        #: Whether the metronome clicks along.
        self.click = False
        #: Count-in beats before playback and each loop restart (0 = off).
        self.count_in = 0
        #: Click level, linear.
        self.gain = 0.8

    def set_grid(self, grid: BeatGrid | None) -> None:
        """Use ``grid`` for clicks and the count-in."""
        self.grid = grid
        self.apply()

    def set_click(self, on: bool) -> None:
        """Turn the metronome click on or off."""
        self.click = bool(on)
        self.apply()

    def set_count_in(self, beats: int) -> None:
        """Count ``beats`` clicks in before playback and each loop restart (0: off)."""
        self.count_in = max(0, min(COUNT_IN_MAX, int(beats)))
        self.apply()

    def apply(self) -> None:
        """Push the settings to the mixer (call again after a tempo change)."""
        m = self.mixer
        sr = m.sample_rate
        g = self.grid
        if g is None:
            m.clear_click()
            m.set_count_in(None)
            return
        normal = click_sample(sr, accent=False) * self.gain
        accent = click_sample(sr, accent=True) * self.gain
        m.set_click(g.period * sr, g.offset * sr, g.beats_per_bar, normal, accent, self.click)
        # The count-in sounds at the tempo the musician hears.
        audio = self.count_in_audio(m.tempo)
        m.set_count_in(audio, audio is not None)

    def count_in_audio(self, tempo: float):
        """The count-in clicks at playback ``tempo`` (``(n, 2)`` float32), or ``None`` when off."""
        g = self.grid
        if g is None or not self.count_in:
            return None
        return count_in(self.count_in, g.bpm * tempo, self.mixer.sample_rate, g.beats_per_bar) * self.gain
