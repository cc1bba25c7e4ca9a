"""Saved practice state: per song, the mix, the loops and where you were.

One JSON file per song id under the user *data* dir (a
:class:`PracticeStore` on ``Settings.data_dir``), never the cache: clearing the
cache (``stemtui rm``, deleting the folder) must not throw away an evening's
loops. Layout::

    <data>/practice/<song id>.json

    {
      "schema": 2,
      "song": "<song id>",
      "saved": "2025-06-01T12:00:00+00:00",
      "mix": {"master": 1.0, "stems": {"vocals": {"volume": 1.0, "mute": true, "solo": false}, ...}},
      "loop": {"start": 8.0, "end": 16.0, "enabled": true, "name": "verse"} | null,
      "loops": [{"name": "verse", "start": 8.0, "end": 16.0}, ...],
      "position": 12.5, "tempo": 1.0, "transpose": 0,
      "grid": {"bpm": 120.0, "offset": 0.0, "beats_per_bar": 4, "source": "tap"} | null,
      "count_in": 0, "click": false,
      "ranges": [{"stem": "vocals", "start": 30.0, "end": 45.0, "kind": "mute"}, ...]
    }

Schema 2 added ``ranges`` (per-stem mute and solo ranges); a schema 1 file
reads as one without ranges.

Times are seconds of *song* time. Writes are atomic (a temporary file in the
same folder, fsynced, then ``os.replace``), so a crash leaves the old state or
the new one. Reading never trusts the file: anything unreadable or of the
wrong type falls back to its default, valid parts are kept, and
:meth:`PracticeStore.load` returns one line saying what was wrong. No Textual here.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from stemtui.core.library.safeio import save_json_atomic, set_aside, sweep_parts

log = logging.getLogger("stemtui.practice")

#: Version of the file layout written; a file with one not in :data:`READS` is set aside, not read.
SCHEMA = 2
#: The layouts read: 1 is 2 without ``ranges``.
READS = (1, 2)
#: Bounds a stored volume or master must lie in (the mixer's 0–200 %).
GAIN_MAX = 2.0
#: Song ids become file names: only these characters, so no id can escape the folder.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: A save's temp file: ``.<id>.json.<pid>.<8 hex>.tmp``.
TMP_SUFFIX = ".tmp"
_TMP_RE = re.compile(r"^\.(?P<name>.+\.json)\.(?P<pid>[1-9][0-9]{0,9})\.(?P<tag>[0-9a-f]{8})\.tmp$")


# -- the state -------------------------------------------------------------------------
@dataclass
class StemMix:
    """One stem's channel strip: volume as a linear factor, mute, solo."""

    volume: float = 1.0
    mute: bool = False
    solo: bool = False


@dataclass
class NamedLoop:
    """A loop saved under a name (``verse``, ``solo``), in seconds of song time."""

    name: str
    start: float
    end: float


@dataclass
class ActiveLoop:
    """The loop the mixer plays: its points, whether it is on, and its name if recalled."""

    start: float
    end: float
    enabled: bool = True
    name: str | None = None


@dataclass
class StemRange:
    """A stem muted (``kind`` ``mute``) or soloed (``solo``) over ``[start, end)`` seconds of song time only."""

    stem: str
    start: float
    end: float
    kind: str = "mute"


@dataclass
class PracticeState:
    """Everything restored when a song opens.

    Attributes:
        stems: Mix per stem name (stems not listed play at 100 %, unmuted).
        master: Master volume, linear.
        loop: The active loop, or ``None``.
        loops: Named loops, sorted by start.
        position: Playhead in seconds.
        tempo: Playback speed factor (1.0 = as recorded); applied by the tempo code.
        transpose: Pitch shift in semitones; applied by the transpose code.
        grid: Beat grid ``{bpm, offset, beats_per_bar, source}``, or ``None``.
        count_in: Beats of count-in before a loop starts (0 = off).
        click: Whether the metronome click plays.
        ranges: Per-stem mute and solo ranges, in the order they were made.
    """

    stems: dict[str, StemMix] = field(default_factory=dict)
    master: float = 1.0
    loop: ActiveLoop | None = None
    loops: list[NamedLoop] = field(default_factory=list)
    position: float = 0.0
    tempo: float = 1.0
    transpose: int = 0
    grid: dict[str, Any] | None = None
    count_in: int = 0
    click: bool = False
    ranges: list[StemRange] = field(default_factory=list)

    def to_json(self, song_id: str) -> dict[str, Any]:
        """The file's JSON object (see the module docstring)."""
        return {
            "schema": SCHEMA,
            "song": song_id,
            "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "mix": {"master": self.master, "stems": {name: asdict(strip) for name, strip in self.stems.items()}},
            "loop": None if self.loop is None else asdict(self.loop),
            "loops": [asdict(lp) for lp in self.loops],
            **{k: getattr(self, k) for k in ("position", "tempo", "transpose", "grid", "count_in", "click")},
            "ranges": [asdict(r) for r in self.ranges],
        }

    def find_loop(self, name: str) -> NamedLoop | None:
        """The named loop called ``name``, or ``None``."""
        return next((lp for lp in self.loops if lp.name == name), None)

    def put_loop(self, name: str, start: float, end: float) -> bool:
        """Save a named loop (replacing one of the same name); returns whether it replaced one."""
        old = self.find_loop(name)
        self.loops = [lp for lp in self.loops if lp.name != name] + [NamedLoop(name, float(start), float(end))]
        self.loops.sort(key=lambda lp: (lp.start, lp.name))
        return old is not None

    def drop_loop(self, name: str) -> bool:
        """Delete a named loop; returns whether it existed."""
        n = len(self.loops)
        self.loops = [lp for lp in self.loops if lp.name != name]
        return len(self.loops) != n


# -- where it lives ----------------------------------------------------------------------
class PracticeStore:
    """The saved practice states under one data root: ``<root>/practice/<song id>.json``.

    Args:
        root: The data root (``Settings.data_dir``), never the cache.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()
        self.sweep()

    def path(self, song_id: str) -> Path:
        """The state file of one song.

        Raises:
            ValueError: If ``song_id`` is not a plain id (it becomes a file name).
        """
        if not _SAFE_ID.fullmatch(song_id or ""):
            raise ValueError(f"not a song id: {song_id!r}")
        return self.root / "practice" / f"{song_id}.json"

    # -- writing ---------------------------------------------------------------------------
    def save(self, song_id: str, state: PracticeState) -> Path:
        """Write the state atomically: temp file in the same folder, fsync, ``os.replace``.

        A failed write leaves the old file as it was and no temp file.

        Returns:
            The state file.

        Raises:
            BadInput / WriteFailed: One line naming the state file and the
                reason (read-only or not permitted / disk full, quota, I/O).
            ValueError: If ``song_id`` is not a plain id.
        """
        path = self.path(song_id)
        # A dot name the folder listing ignores; unique per writer, so two
        # processes saving at once each replace the file whole.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}")
        return save_json_atomic(path, state.to_json(song_id), tmp)

    def sweep(self) -> list[Path]:
        """Remove temp files of writers that died (a SIGKILL mid-save); never raises. Returns them."""
        return sweep_parts(self.root / "practice", _TMP_RE)

    # -- reading ---------------------------------------------------------------------------
    def load(
        self, song_id: str, stem_names: list[str], duration: float | None = None
    ) -> tuple[PracticeState, str | None]:
        """Read a song's state; never raises.

        Args:
            song_id: The song's id.
            stem_names: The song's stems now; saved stems not among them are skipped.
            duration: The song's length in seconds, to drop loops and positions past it.

        Returns:
            ``(state, message)``: ``message`` is ``None`` when the file was fine or
            absent, else one line saying what was wrong and what was kept.
        """
        try:
            path = self.path(song_id)
            raw = path.read_bytes()
        except FileNotFoundError:
            return PracticeState(), None
        except (OSError, ValueError) as exc:
            log.warning("practice state of %s: %s", song_id, exc)
            return PracticeState(), f"saved practice state unreadable ({exc}): opened with defaults"
        try:
            data = json.loads(raw)
        except ValueError:
            return PracticeState(), _set_aside(path, "is not valid JSON")
        if not isinstance(data, dict):
            return PracticeState(), _set_aside(path, "is not a JSON object")
        if data.get("schema") not in READS:
            return PracticeState(), _set_aside(path, f"has schema {data.get('schema')!r}, this stemtui reads {SCHEMA}")
        reader = _Reader(set(stem_names), duration)
        state = reader.state(data)
        if not reader.problems:
            return state, None
        log.warning("practice state of %s: %s", song_id, "; ".join(reader.problems))
        return state, f"saved practice state partly unusable ({'; '.join(reader.problems[:3])}): the rest restored"


def _set_aside(path: Path, why: str) -> str:
    """Rename an unusable file to ``*.bad`` (a newer stemtui's state is not lost); the message."""
    kept = set_aside(path)
    log.warning("practice state %s %s%s", path, why, kept)
    return f"saved practice state {why}{kept}: opened with defaults"


def _number(x: Any, lo: float, hi: float) -> float | None:
    """``x`` as a float within [lo, hi], or ``None`` (bools are not numbers here)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    x = float(x)
    return x if math.isfinite(x) and lo <= x <= hi else None


def _integer(x: Any, lo: int, hi: int) -> int | None:
    """``x`` as an int within [lo, hi], or ``None``."""
    return x if isinstance(x, int) and not isinstance(x, bool) and lo <= x <= hi else None


class _Reader:
    """Reads one state object field by field, noting each problem and keeping the rest."""

    def __init__(self, stems: set[str], duration: float | None) -> None:
        self.stems = stems
        # A hair of slack: a resampled song's last frame can land just past the stored length.
        self.end = duration + 0.5 if duration is not None and duration > 0 else math.inf
        self.problems: list[str] = []

    def bad(self, what: str) -> None:
        self.problems.append(what)

    def pick(self, value: Any, default: Any, what: str) -> Any:
        """``value``, or ``default`` (noting ``what`` as a problem) when it is ``None``."""
        if value is None:
            self.bad(what)
            return default
        return value

    def state(self, d: dict) -> PracticeState:
        s = PracticeState()
        self.mix(d.get("mix"), s)
        self.loops(d.get("loops", []), s)
        if d.get("loop") is not None:
            s.loop = self.active_loop(d["loop"])
        s.position = self.pick(_number(d.get("position", 0.0), 0.0, self.end), 0.0, "position")
        # The ranges the player accepts (stretch.py, metronome.py).
        s.tempo = self.pick(_number(d.get("tempo", 1.0), 0.5, 1.5), 1.0, "tempo")
        s.transpose = self.pick(_integer(d.get("transpose", 0), -12, 12), 0, "transpose")
        s.count_in = self.pick(_integer(d.get("count_in", 0), 0, 8), 0, "count-in")
        click = d.get("click", False)
        s.click = self.pick(click if isinstance(click, bool) else None, False, "click")
        s.grid = self.grid(d.get("grid"))
        self.ranges(d.get("ranges", []), s)
        return s

    def ranges(self, items: Any, s: PracticeState) -> None:
        if not isinstance(items, list):
            self.bad("mute ranges")
            return
        for item in items:
            span = self.span(item)
            stem = item.get("stem") if isinstance(item, dict) else None
            kind = item.get("kind", "mute") if isinstance(item, dict) else None
            if span is None or kind not in ("mute", "solo") or not isinstance(stem, str):
                self.bad("a mute range")
            elif stem not in self.stems:
                self.bad(f"range of stem {stem!r} (no longer exists)")
            elif (r := StemRange(stem, *span, kind)) not in s.ranges:
                s.ranges.append(r)

    def mix(self, mix: Any, s: PracticeState) -> None:
        if mix is None:
            return
        if not isinstance(mix, dict) or not isinstance(mix.get("stems", {}), dict):
            self.bad("mix")
            return
        s.master = self.pick(_number(mix.get("master", 1.0), 0.0, GAIN_MAX), 1.0, "master volume")
        for name, strip in mix.get("stems", {}).items():
            if name not in self.stems:
                self.bad(f"stem {name!r} no longer exists")
                continue
            strip = strip if isinstance(strip, dict) else {"volume": None}
            vol, mute, solo = _number(strip.get("volume", 1.0), 0.0, GAIN_MAX), strip.get("mute"), strip.get("solo")
            if vol is None or not isinstance(mute, bool) or not isinstance(solo, bool):
                self.bad(f"mix of {name}")
                continue
            s.stems[name] = StemMix(vol, mute, solo)

    def span(self, d: Any) -> tuple[float, float] | None:
        if not isinstance(d, dict):
            return None
        a, b = _number(d.get("start"), 0.0, self.end), _number(d.get("end"), 0.0, self.end)
        return (a, b) if a is not None and b is not None and a < b else None

    def loops(self, items: Any, s: PracticeState) -> None:
        if not isinstance(items, list):
            self.bad("named loops")
            return
        for item in items:
            span = self.span(item)
            name = item.get("name") if isinstance(item, dict) else None
            if span is None or not isinstance(name, str) or not name.strip() or s.find_loop(name.strip()):
                self.bad(f"loop {name!r}" if isinstance(name, str) else "a named loop")
                continue
            s.put_loop(name.strip(), *span)

    def active_loop(self, d: Any) -> ActiveLoop | None:
        span = self.span(d)
        enabled = d.get("enabled", True) if isinstance(d, dict) else None
        name = d.get("name") if isinstance(d, dict) else None
        if span is None or not isinstance(enabled, bool) or not (name is None or isinstance(name, str)):
            self.bad("the active loop")
            return None
        return ActiveLoop(span[0], span[1], enabled, name or None)

    def grid(self, g: Any) -> dict[str, Any] | None:
        if g is None:
            return None
        from stemtui.core.analysis.beats import BeatGrid

        try:
            return BeatGrid.from_dict(g).to_dict()
        except (ValueError, TypeError, AttributeError):
            self.bad("beat grid")
            return None
