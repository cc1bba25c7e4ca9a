"""Lyrics of a song: LRC read and written, kept per song with the user's data, looked up online.

Lives here: :mod:`.lrcformat` (the :class:`~.lrcformat.Lyrics` record, the
LRC parser, enhanced ``<mm:ss.xx>`` word times included, and the writer),
:mod:`.lyricstore` (per-song versioned JSON under the data dir, atomic
writes, a damaged file set aside; an ``.lrc`` beside a song's source picked
up), :mod:`.lrclibclient` (LRCLIB's ``/api/get`` and ``/api/search`` over
plain HTTP, urllib).

May import: :mod:`stemtui.core.errors`, :mod:`stemtui.core.library` (safe
I/O helpers). Never audio, tempo, separation, analysis, takes or the UI.
"""
