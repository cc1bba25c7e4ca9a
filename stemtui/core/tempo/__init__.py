"""Tempo and transpose: stretched runs rendered ahead by worker processes.

Lives here: :mod:`.stretch` (Signalsmith Stretch applied to stems),
:mod:`.stretchworker` (the render worker processes and the runs they fill),
:mod:`.control` (:class:`~.control.TempoControl`: which run plays, and when
the mixer switches; :mod:`.runkeep` retires runs), the speed trainer
(:mod:`.trainer`: the plan, pure; :mod:`.trainplay`: the next pass rendered
ahead and taken at the loop wrap).

May import: :mod:`stemtui.core.audio`, :mod:`stemtui.core.procs`,
:mod:`stemtui.core.errors`. Never separation, analysis, library or the UI.
"""
