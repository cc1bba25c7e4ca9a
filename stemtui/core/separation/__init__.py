"""Stem separation with Demucs, in a worker process, progressive and cancellable.

Lives here: :mod:`.job` (one file to stems in the store, playable as they
come), :mod:`.worker` (the worker process), :mod:`.task` (:class:`~.task.SeparationTask`,
its parent side),
:mod:`.splitter` (options, progress, the exact progressive engine),
:mod:`.splitloop` (demucs's segment grid, pass by pass), :mod:`.models`
(finding and loading models safely), :mod:`.compute` (device, precision,
CPU speed-ups), :mod:`.tuning` (how the worker tunes its heap and threads),
:mod:`.scratch` (the input and output files, read and written a block at a
time so memory does not grow with the song), :mod:`.budget` (time and disk
told before a separation starts).

May import: :mod:`stemtui.core.audio` (the song model),
:mod:`stemtui.core.library` (the store), :mod:`stemtui.core.procs`,
:mod:`stemtui.core.errors`; torch and demucs only inside the worker process
(importing this package never imports torch).
"""
