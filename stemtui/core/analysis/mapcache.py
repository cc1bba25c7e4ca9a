"""Song maps cached per song and per analysis version, beside the practice state.

Layout (``root`` is ``Settings.data_dir``, as for
:class:`~stemtui.core.library.practice.PracticeStore`)::

    <data>/analysis/<song id>.json

    {"schema": 1, "song": "<song id>", "saved": "2026-12-02T01:00:00+00:00",
     "map": {... SongMap.to_json(), with its "version" ...}}

Writes are atomic (a temporary file in the same folder, fsynced, then
``os.replace``; temp files of writers that died are swept). Reading never
trusts the file: a missing, damaged, foreign or old-version file is a miss,
with one line saying why, so the caller recomputes; it never raises.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from stemtui.core.analysis.songmap import ANALYSIS_VERSION, SongMap
from stemtui.core.library.safeio import save_json_atomic, sweep_parts

log = logging.getLogger("stemtui.songmap")

#: Version of the file's envelope (the map inside carries the analysis version).
SCHEMA = 1
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TMP_RE = re.compile(r"^\.(?P<name>.+\.json)\.(?P<pid>[1-9][0-9]{0,9})\.(?P<tag>[0-9a-f]{8})\.tmp$")


class SongMapCache:
    """The cached song maps under one data root.

    Args:
        root: The data root (``Settings.data_dir``).
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()
        self.folder = self.root / "analysis"
        sweep_parts(self.folder, _TMP_RE)

    def path(self, song_id: str) -> Path:
        """The cache file of one song; ValueError if ``song_id`` is not a plain id."""
        if not _SAFE_ID.fullmatch(song_id or ""):
            raise ValueError(f"not a song id: {song_id!r}")
        return self.folder / f"{song_id}.json"

    def load(self, song_id: str) -> tuple[SongMap | None, str | None]:
        """``(map, None)`` on a hit; ``(None, why)`` on a miss (``why`` is ``None`` if there was no file)."""
        try:
            raw = self.path(song_id).read_bytes()
        except FileNotFoundError:
            return None, None
        except (OSError, ValueError) as exc:
            return None, self._miss(song_id, f"unreadable ({exc})")
        try:
            data = json.loads(raw)
        except ValueError:
            return None, self._miss(song_id, "is not valid JSON")
        if not isinstance(data, dict) or data.get("schema") != SCHEMA or data.get("song") != song_id:
            return None, self._miss(song_id, "is not a song map of this song")
        body = data.get("map")
        version = body.get("version") if isinstance(body, dict) else None
        if version != ANALYSIS_VERSION:
            return None, self._miss(song_id, f"has analysis version {version!r}, this stemtui makes {ANALYSIS_VERSION}")
        try:
            return SongMap.from_json(body), None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return None, self._miss(song_id, f"is damaged ({exc})")

    def _miss(self, song_id: str, why: str) -> str:
        line = f"cached song map of {song_id} {why}: analysing again"
        log.warning("%s", line)
        return line

    def save(self, song_id: str, song_map: SongMap) -> Path:
        """Write atomically; the old file stays whole if this fails.

        Raises:
            BadInput / WriteFailed: One line naming the file and the reason.
            ValueError: If ``song_id`` is not a plain id.
        """
        path = self.path(song_id)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        doc = {
            "schema": SCHEMA,
            "song": song_id,
            "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "map": song_map.to_json(),
        }
        return save_json_atomic(path, doc, tmp)

    def get(self, song_id: str, compute: Callable[[], SongMap], force: bool = False) -> tuple[SongMap, str | None]:
        """The cached map, else ``compute()`` saved: ``(map, why it was recomputed or None)``.

        Raises:
            Whatever ``compute`` raises; BadInput / WriteFailed if saving fails.
        """
        why = None
        if not force:
            hit, why = self.load(song_id)
            if hit is not None:
                return hit, None
        song_map = compute()
        self.save(song_id, song_map)
        return song_map, why
