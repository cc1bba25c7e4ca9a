"""Takes: the user's own recordings over a song, kept as user data.

Lives here: :mod:`.takestore` (:class:`~.takestore.Take`, :class:`~.takestore.TakeStore`:
takes per song under the data dir, versioned manifests, atomic writes,
recovery of a take whose process died mid-recording; :mod:`.takefiles`
holds its manifest and audio-file helpers), and the recorder
(input ring filled in the audio callback, a writer thread that saves it,
latency compensation and calibration).

May import: numpy, soundfile, soxr, :mod:`stemtui.core.audio`,
:mod:`stemtui.core.library` (safe I/O), :mod:`stemtui.core.errors`.
Never separation, analysis or the UI.
"""
