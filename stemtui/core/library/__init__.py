"""The user's songs on disk: the stem cache, practice state, files in and out.

Lives here: :mod:`.store` (the crash-safe, content-addressed stem cache),
:mod:`.stemfiles` (its FLAC stems written and decoded progressively),
:mod:`.practice` (saved practice state per song, the user's data),
:mod:`.practicemix` (that state captured from and applied to a mixer),
:mod:`.audiofiles` (reading and writing audio files, stem folders,
``.stem.mp4``), :mod:`.audioblocks` (long files decoded a block at a time),
:mod:`.export` (offline export of a mix), :mod:`.trainsession` (a
speed-trainer session as one file), :mod:`.demo` (the
synthesized demo song), :mod:`.catalog` (import, demo install, lookup).

May import: :mod:`stemtui.core.audio`, :mod:`stemtui.core.errors`. Never
separation, analysis or the UI; tempo only for the offline stretch of an export.
"""
