"""What is found in the audio: beat grids, take comparison, the song map.

Lives here: :mod:`.beats` (:class:`~.beats.BeatGrid`, estimation, tap tempo),
:mod:`.beatjob` (estimation in a child process, so numba never holds the
player's GIL); take comparison (:mod:`.pitchtrack`, :mod:`.notesegment`,
:mod:`.takecompare`, :mod:`.comparejob`, :mod:`.comparison`); the song map
(:mod:`.songmap`, :mod:`.chordest`, :mod:`.sectionfind`, :mod:`.basslines`,
:mod:`.mapcache`, :mod:`.mapjob`, :mod:`.synthsongs`).

May import: numpy, librosa and mir_eval (inside functions, they are slow to
import), :mod:`stemtui.core.procs`, :mod:`stemtui.core.errors`,
:mod:`stemtui.core.library` (safe I/O, stem files), the song model
(:mod:`stemtui.core.audio.song`). Never audio playback, separation or the UI.
"""
