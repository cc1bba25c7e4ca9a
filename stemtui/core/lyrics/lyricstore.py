"""A song's lyrics, kept with the user's practice data (never in the stem cache).

One versioned JSON file per song id under the user *data* dir::

    <data>/lyrics/<song id>.json

    {
      "schema": 1,
      "song": "<song id>",
      "saved": "2026-12-02T06:00:00+00:00",
      "source": "song.lrc" | "lrclib:123" | "tap" | ...,
      "lines": [{"time": 12.5 | null, "text": "...", "words": [{"time": 12.5, "text": "..."}]}, ...]
    }

Writes are atomic (a temp file in the same folder, fsynced, ``os.replace``,
the folder fsynced). Reading never trusts the file: a damaged one or one of
another schema is set aside as ``*.bad`` and reported in one line, and the
song simply has no lyrics. :func:`sidecar_lrc` finds an ``.lrc`` beside a
song's source (``song.mp3`` + ``song.lrc``) or in its stem folder. No Textual here.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from stemtui.core.library.safeio import save_json_atomic, set_aside, sweep_parts
from stemtui.core.lyrics.lrcformat import LyricLine, Lyrics, Word

log = logging.getLogger("stemtui.lyrics")

#: Version of the file layout; a file with another one is set aside, not read.
SCHEMA = 1
#: Song ids become file names: only these characters.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TMP_RE = re.compile(r"^\.(?P<name>.+\.json)\.(?P<pid>[1-9][0-9]{0,9})\.(?P<tag>[0-9a-f]{8})\.tmp$")


def sidecar_lrc(source: str | Path) -> Path | None:
    """The ``.lrc`` that goes with a song's source: ``song.lrc`` beside ``song.mp3``, or one in a stem folder.

    For a folder: ``<folder name>.lrc`` or ``lyrics.lrc`` in it, ``<folder name>.lrc`` beside it, else the only
    ``.lrc`` in it. ``None`` when there is none.
    """
    p = Path(source).expanduser()
    try:
        if p.is_dir():
            names = [p / f"{p.name}.lrc", p / "lyrics.lrc", p.parent / f"{p.name}.lrc"]
            found = next((n for n in names if n.is_file()), None)
            if found is not None:
                return found
            lrcs = sorted(f for f in p.iterdir() if f.suffix.lower() == ".lrc" and f.is_file())
            return lrcs[0] if len(lrcs) == 1 else None
        name = p.name[: -len(".stem.mp4")] if p.name.lower().endswith(".stem.mp4") else p.stem
        for cand in (p.with_name(name + ".lrc"), p.with_name(name + ".LRC")):
            if cand.is_file():
                return cand
    except OSError:
        return None
    return None


class LyricsStore:
    """The lyrics of every song under one data root: ``<root>/lyrics/<song id>.json``.

    Args:
        root: The data root (``Settings.data_dir``), never the cache.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()
        sweep_parts(self.root / "lyrics", _TMP_RE)

    def path(self, song_id: str) -> Path:
        """The lyrics file of one song (``ValueError`` for an id that is no plain id)."""
        if not _SAFE_ID.fullmatch(song_id or ""):
            raise ValueError(f"not a song id: {song_id!r}")
        return self.root / "lyrics" / f"{song_id}.json"

    def save(self, song_id: str, lyrics: Lyrics, source: str) -> Path:
        """Write atomically; a failed write leaves the old file and no temp file.

        Raises:
            BadInput / WriteFailed: One line naming the file and the reason.
        """
        path = self.path(song_id)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        doc = {
            "schema": SCHEMA,
            "song": song_id,
            "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "source": source,
            "lines": lyrics.to_json(),
        }
        return save_json_atomic(path, doc, tmp, ensure_ascii=False)

    def remove(self, song_id: str) -> bool:
        """Delete a song's lyrics; returns whether there were any."""
        try:
            self.path(song_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def adopt(self, song_id: str, source: str | Path) -> str | None:
        """Keep the ``.lrc`` beside ``source`` (see :func:`sidecar_lrc`) as the song's lyrics, unless it has some.

        Never raises: returns one line to show (what was picked up, or why the
        file was not), or ``None`` when there is no such file or the song has lyrics already.
        """
        from stemtui.core.errors import StemtuiError
        from stemtui.core.lyrics.lrcformat import read_lyrics_file

        lrc = sidecar_lrc(source)
        if lrc is None or self.path(song_id).exists():
            return None
        try:
            lyrics = read_lyrics_file(lrc, timed_only=True)
            self.save(song_id, lyrics, lrc.name)
        except StemtuiError as exc:
            return f"lyrics not picked up: {exc}"
        return f"lyrics: {len(lyrics.lines)} timed lines from {lrc.name}"

    def load(self, song_id: str) -> tuple[Lyrics | None, str | None]:
        """A song's lyrics, never raising: ``(lyrics or None, one line about a damaged file or None)``."""
        try:
            path = self.path(song_id)
            raw = path.read_bytes()
        except FileNotFoundError:
            return None, None
        except (OSError, ValueError) as exc:
            return None, f"saved lyrics unreadable ({exc})"
        try:
            data = json.loads(raw)
        except ValueError:
            return None, _set_aside(path, "is not valid JSON")
        if not isinstance(data, dict):
            return None, _set_aside(path, "is not a JSON object")
        if data.get("schema") != SCHEMA:
            return None, _set_aside(path, f"has schema {data.get('schema')!r}, this stemtui reads {SCHEMA}")
        lines = _lines(data.get("lines"))
        if lines is None:
            return None, _set_aside(path, "has unusable lines")
        return Lyrics(lines, {"source": str(data.get("source", ""))}), None


def _time(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
        raise ValueError(x)
    return float(x)


def _lines(items: Any) -> tuple[LyricLine, ...] | None:
    if not isinstance(items, list):
        return None
    out = []
    try:
        for d in items:
            text = d["text"]
            if not isinstance(text, str):
                return None
            t = None if d.get("time") is None else _time(d["time"])
            words = tuple(Word(_time(w["time"]), str(w["text"])) for w in d.get("words", []))
            out.append(LyricLine(t, text, words))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return tuple(out)


def _set_aside(path: Path, why: str) -> str:
    """Rename an unusable file to ``*.bad``; the one-line message."""
    kept = set_aside(path)
    log.warning("lyrics %s %s%s", path, why, kept)
    return f"saved lyrics {why}{kept}: the song has no lyrics now"
