"""One separation started from the app: its options and the state the screens show.

No Textual here. A :class:`SeparationRun` is changed on the UI thread only,
by the app's message handlers, from what its worker reports; the worker
thread sets just :attr:`SeparationRun.job` and :attr:`SeparationRun.song_id`
(so Esc can cancel a job that is still loading its model).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stemtui.core.errors import BadInput
from stemtui.core.library.store import Entry
from stemtui.ui.rows import SEPARATING

if TYPE_CHECKING:
    from stemtui.core.audio.song import Song
    from stemtui.core.separation.job import SeparationJob
    from stemtui.core.separation.splitter import Progress, SeparationOptions

#: Phases of a run that is still going.
ACTIVE = ("starting", "loading", "separating", "storing", "cancelling")
#: What each phase says, for the separation screen's status line.
PHASE_TEXT = {
    "starting": "reading the file…",
    "loading": "loading the model (the first run of a model can take a while)…",
    "separating": "separating",
    "storing": "storing the stems…",
    "cancelling": "cancelling…",
    "done": "stored",
    "failed": "separation failed: nothing stored (r retries)",
    "cancelled": "separation cancelled",
}


def base_options(model: str, repo: Path | None) -> SeparationOptions:
    """The options separations in the app start from: the settings' model and model folder.

    Raises:
        BadInput: ``repo`` is not a folder.
    """
    from stemtui.core.separation.splitter import SeparationOptions

    if repo is not None and not repo.is_dir():
        raise BadInput(f"--model-repo {repo}", "no such folder")
    return SeparationOptions(model=model, repo=repo)


def separation_options(base: SeparationOptions, **changes) -> SeparationOptions:
    """The options one separation runs with: ``base`` with ``changes`` (``model=``, ``two_stems=`` for ``r``).

    Raises:
        BadInput: A value is out of range.
    """
    options = dataclasses.replace(base, **changes)
    options.validate()
    return options


@dataclass(eq=False)
class SeparationRun:
    """A separation of one file, as the app's screens see it.

    Attributes:
        path: The audio file.
        options: How it is separated.
        title, artist: From the file's tags once decoded (the file name until then).
        phase: ``starting``, ``loading`` (the model), ``separating``, ``storing``,
            ``cancelling``, then ``done``, ``failed`` or ``cancelled``.
        progress: The latest report from the worker, ``None`` before the first.
        song: The progressive song (its ``available`` frames grow) once the model is loaded.
        entry: The stored entry once done.
        error: The one-line reason of a failure.
        song_id: The cache id (set by the worker once the file is hashed).
        job: The core job (set by the worker).
        progress_at: ``time.monotonic()`` when :attr:`progress` arrived.
    """

    path: Path
    options: SeparationOptions
    title: str = ""
    artist: str = ""
    phase: str = "starting"
    progress: Progress | None = None
    song: Song | None = None
    entry: Entry | None = None
    error: str = ""
    song_id: str = ""
    job: SeparationJob | None = None
    progress_at: float = 0.0

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.title:
            self.title = self.path.stem

    @property
    def key(self) -> str:
        """The library row id until the file is hashed (then it is :attr:`song_id`)."""
        return f"run-{id(self):x}"

    @property
    def active(self) -> bool:
        """Whether the separation is still going."""
        return self.phase in ACTIVE

    @property
    def percent(self) -> int:
        """Whole percent done."""
        return int(self.progress.fraction * 100) if self.progress is not None else 0

    @property
    def ready_frames(self) -> int:
        """Frames from the start whose stems are final."""
        avail = self.song.available if self.song is not None else 0
        return max(avail, self.progress.ready_frames if self.progress is not None else 0)

    @property
    def playable_s(self) -> float:
        """Seconds from the start that can be played already."""
        if self.song is None:
            return 0.0
        return self.ready_frames / self.song.sample_rate

    @property
    def playable(self) -> bool:
        """Whether "play now" can start: the model is loaded and the first chunk is done."""
        return self.active and self.phase != "cancelling" and self.song is not None and self.ready_frames > 0

    def since_report(self, now: float) -> float:
        """Seconds since the latest report of a live job (0 for a fixed one), so clocks keep moving."""
        if self.job is None or self.progress is None or self.phase != "separating":
            return 0.0
        return max(0.0, now - self.progress_at)

    def label(self) -> str:
        """Short state for the library row and the player's status line: ``separating 42%``."""
        if self.phase == "separating":
            return f"{SEPARATING} {self.percent}%"
        if self.phase in ("starting", "loading"):
            return f"loading {self.options.model}"
        return PHASE_TEXT.get(self.phase, self.phase).rstrip("…")

    def as_entry(self) -> Entry:
        """The library row (state ``separating``), also the player's entry while it plays."""
        song, p = self.song, self.progress
        reason = f"{self.percent}%" if self.phase in ("separating", "storing") else self.label()
        return Entry(
            id=self.song_id or self.key,
            path=self.path,
            state=SEPARATING,
            reason=reason,
            title=self.title,
            artist=self.artist,
            duration=song.duration if song is not None else (p.audio_total_s if p is not None else 0.0),
            sample_rate=song.sample_rate if song is not None else 0,
            frames=song.frames if song is not None else 0,
            stems=list(song.names) if song is not None else [],
            model=self.options.model,
            source=str(self.path),
        )
