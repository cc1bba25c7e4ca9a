"""Child processes: the one protocol between stemtui and its worker processes.

Lives here: :mod:`.protocol` (the wire format; the parent's
:class:`~.protocol.Child`; the typed errors :class:`~.protocol.WorkerError`,
:class:`~.protocol.WorkerDied`, :class:`~.protocol.WorkerCancelled`) and
:mod:`.channel` (the child's :class:`~.channel.Channel` and
:func:`~.channel.serve`). The separation worker, the stretch render workers,
the beat job and the player's export child all speak it.

May import: the standard library and :mod:`stemtui.core.errors` only (every
worker imports it before its heavy imports, and every sub-package that starts
one imports it).
"""
