"""Sound in real time: the song model, the mixer and its callback, the engine.

Lives here: :mod:`.song` (stems in one array), :mod:`.mixer` (the mixer's
control side) and :mod:`.mixcore` (what the audio callback runs),
:mod:`.source` (what the mixer reads: the song or a stretched run),
:mod:`.engine` (the sounddevice stream), :mod:`.devices` (listing and
resolving output devices), :mod:`.devicewatch` (callback gaps; a lost or
stalled device noticed and reopened), :mod:`.native_stderr` (what C
libraries print on fd 2 goes to the log), :mod:`.metronome` and :mod:`.click`
(the click channel and count-in), :mod:`.shm` (song buffers other processes
can map).

May import: numpy, sounddevice, :mod:`stemtui.core.errors`, and
:class:`stemtui.core.analysis.beats.BeatGrid` (the metronome's grid).
Never :mod:`stemtui.core.separation`, torch, textual or the UI (an
import-linter contract in ``pyproject.toml``).
"""
