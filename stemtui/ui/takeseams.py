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


def song_with_takes(store: TakeStore, song: Song) -> tuple[list[Take], Song]:
    """The song's takes, and ``song`` with each appended as a stem ``take:ID`` at its place.

    A take is placed at its song time, cut at the song's end; the song's own
    stems are copied once (after their decode), into a buffer the tempo
    workers can map. A take whose file cannot be read is left out, in one
    warning line. No takes: ``song`` itself.
    """
    from stemtui.core.audio.shm import zeros
    from stemtui.core.audio.song import Song, as_stereo

    takes = [t for t in store.takes(song.id) if t.sample_rate == song.sample_rate]
    if not takes:
        return [], song
    audio = {}
    for t in takes:
        try:
            audio[t.id] = as_stereo(store.read(t))
        except StemtuiError as exc:
            log.warning("stemtui: warning: %s", exc)
    takes = [t for t in takes if t.id in audio]
    if not takes:
        return [], song
    song.complete.wait()
    n, frames = len(song.names), song.frames
    data, path = zeros((n + len(takes), frames, 2))
    data[:n] = song.data
    for k, t in enumerate(takes):
        a = round(t.start_s * song.sample_rate)
        x = audio[t.id]
        lo, hi = max(0, a), min(frames, a + len(x))
        if hi > lo:
            data[n + k, lo:hi] = x[lo - a : hi - a]
    out = Song([*song.names, *(f"take:{t.id}" for t in takes)], data, song.sample_rate, song.meta, song.id)
    out.shared_path = path
    out.load_error = song.load_error
    return takes, out


def begin_recording(engine: Engine, mixer: Mixer, store: TakeStore, reference: str) -> Recording:
    """Start recording the engine's input over ``mixer``'s song (it starts playing next)."""
    raise NotReady("record: recording is not in this build yet")  # SEAM: the recorder


def run_compare(
    store: TakeStore, song: Song, take: Take, reference: str, progress: Callable[[float], None]
) -> CompareResult:
    """Compare ``take`` with the stem ``reference`` (blocks: a thread worker waits on the analysis)."""
    raise NotReady("compare: the take analysis is not in this build yet")  # SEAM: the analysis job
