"""Retiring stretched runs: cancelled at once, deleted once the audio thread cannot be reading them.

The half of :class:`~stemtui.core.tempo.control.TempoControl` that keeps its
list of runs (``_runs``) and of retired ones (``_retired``); control thread only.
"""

from __future__ import annotations

import time
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stemtui.core.tempo.stretchworker import StretchRun
    from stemtui.core.tempo.trainplay import TrainerDriver

#: Seconds a replaced run stays alive (the audio thread may still be fading it out).
RETIRE_S = 3.0


class RunKeeper:
    """The runs of one mixer, live and retired (see the module docstring)."""

    mixer: Any
    trainer: TrainerDriver | None
    _runs: list[StretchRun]
    _retired: list[tuple[float, StretchRun]]

    def _retire(self, run: StretchRun) -> None:
        if run in self._runs:
            self._runs.remove(run)
            run.cancel()
            self._retired.append((time.monotonic(), run))

    def _retire_all(self, keep: StretchRun | None = None) -> None:
        self._retire_others({keep})

    def _retire_others(self, keep: AbstractSet[object]) -> None:
        if self.trainer is not None:
            keep = {*keep, self.trainer.pending}
        for run in list(self._runs):
            if run not in keep:
                self._retire(run)

    def _clean(self) -> None:
        """Delete retired runs that the audio thread can no longer be reading."""
        m = self.mixer
        live = {id(s) for s in m.sources_in_use()}
        now = time.monotonic()
        keep = []
        for t, run in self._retired:
            if now - t > RETIRE_S and id(run) not in live:
                run.close()
            else:
                keep.append((t, run))
        self._retired = keep
