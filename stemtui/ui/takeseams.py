"""Where the take keys meet the take store, the recorder and the analysis.

Each function is a small seam: the UI's one call into the parts that do the
work (:mod:`stemtui.core.takes`, the recorder, :mod:`stemtui.core.analysis`),
so :mod:`stemtui.ui.take_actions` stays about keys and screens.
"""

# ruff: noqa: ARG001 -- the seams not wired yet ignore their arguments
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from stemtui.core.errors import StemtuiError

if TYPE_CHECKING:
    from stemtui.core.analysis.comparison import CompareResult
    from stemtui.core.audio.engine import Engine
    from stemtui.core.audio.mixer import Mixer
    from stemtui.core.audio.song import Song
    from stemtui.core.takes.takestore import Take, TakeStore
    from stemtui.settings import Settings


log = logging.getLogger("stemtui.ui")


class NotReady(StemtuiError):
    """A part of the takes feature this build does not have yet."""


class Recording(Protocol):
    """A take being recorded, as the take keys see it."""

    @property
    def counting_in(self) -> bool:
        """Whether the count-in still plays (nothing is kept yet)."""
        ...

    @property
    def elapsed_s(self) -> float:
        """Seconds recorded so far."""
        ...

    def take_peak_db(self) -> float:
        """The input's peak since the previous call, in dBFS (``-inf``: silence)."""
        ...

    def stop(self) -> Take:
        """Stop and keep the take (writes its file; call it off the UI thread)."""
        ...

    def discard(self) -> None:
        """Stop and throw the take away."""
        ...


def open_take_store(settings: Settings) -> TakeStore:
    """The takes store under ``settings.data_dir``."""
    from stemtui.core.takes.takestore import TakeStore

    return TakeStore(settings.data_dir)


def song_with_takes(store: TakeStore, song: Song) -> tuple[list[Take], Song, list[str]]:
    """The song's takes in the mix, ``song`` with each appended as a row ``take:ID`` at its song time,
    and one line per problem (a take left out)."""
    from stemtui.core.takes.takemix import song_with_takes as with_takes
    from stemtui.core.takes.takemix import take_row

    if not song.id:
        return [], song, []
    takes, problems = store.listing(song.id)
    out, more = with_takes(song, store, takes)
    return [t for t in takes if take_row(t.id) in out.names], out, problems + more


def begin_recording(engine: Engine, mixer: Mixer, store: TakeStore, reference: str) -> Recording:
    """Start recording the engine's input over ``mixer``'s song (it starts playing next)."""
    raise NotReady("record: recording is not in this build yet")  # SEAM: the recorder


def run_compare(
    store: TakeStore, song: Song, take: Take, reference: str, progress: Callable[[float], None]
) -> CompareResult:
    """Compare ``take`` with the stem ``reference`` (blocks: a thread worker waits on the analysis)."""
    raise NotReady("compare: the take analysis is not in this build yet")  # SEAM: the analysis job
