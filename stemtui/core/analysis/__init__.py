"""What is found in the audio: beat grids now; chords, sections, key later.

Lives here: :mod:`.beats` (:class:`~.beats.BeatGrid`, estimation, tap tempo),
:mod:`.beatjob` (estimation in a child process, so numba never holds the
player's GIL).

May import: numpy, librosa (inside functions, it is slow to import),
:mod:`stemtui.core.procs`, :mod:`stemtui.core.errors`. Never audio playback,
separation or the UI.
"""
