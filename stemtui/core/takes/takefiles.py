"""The files of one song's takes: the manifest (read without trusting it, written atomically) and the audio.

Helpers of :mod:`.takestore`. The manifest ``takes.json``::

    {"schema": 1, "song": "<song id>", "next_id": 4,
     "takes": [{"id": "1", "name": "take 1", "start_s": 12.0, "frames": 96000,
                "sample_rate": 48000, "channels": 1, "reference": "vocals",
                "created": 1764633600.0}, ...]}

``next_id`` only grows, so an id is never reused within a song, even after
``rm``. Reading never raises: an unreadable manifest is rebuilt from the
``<id>.flac`` files found (their start times are lost, so 0), a bad entry is
replaced by its audio file's (start 0), and each problem becomes one line.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stemtui.core.errors import BadInput
from stemtui.core.library.safeio import (
    SafeSoundFile,
    fsync_path,
    part_path,
    save_json_atomic,
    sweep_parts,
    write_error,
)

SCHEMA = 1
MANIFEST = "takes.json"
TAKE_FORMAT = "FLAC"
TAKE_SUBTYPE = "PCM_24"
#: Frames written per block (finish, import).
BLOCK = 1 << 16
_ID_RE = re.compile(r"[1-9][0-9]{0,8}")
_FLAC_RE = re.compile(r"^(?P<id>[1-9][0-9]{0,8})\.flac$")
#: Song ids become folder names: only these characters.
SAFE_SONG_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass
class Manifest:
    """One song's manifest as read: the entries kept, the next id, and what was wrong.

    Attributes:
        entries: Valid take entries (dicts as stored), in id order.
        next_id: The id the next take gets.
        problems: One line per problem found.
        damaged: The file itself was unreadable (rebuilt from the audio files).
        foreign: The file has another schema: never rewritten by this stemtui.
    """

    entries: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 1
    problems: list[str] = field(default_factory=list)
    damaged: bool = False
    foreign: bool = False

    def to_json(self, song_id: str) -> dict[str, Any]:
        return {"schema": SCHEMA, "song": song_id, "next_id": self.next_id, "takes": self.entries}

    def find(self, take_id: str) -> dict[str, Any] | None:
        return next((e for e in self.entries if e["id"] == take_id), None)


def valid_take_id(take_id: str) -> bool:
    return bool(_ID_RE.fullmatch(take_id or ""))


def _finite(x: Any, lo: float = -math.inf) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(float(x)) or float(x) < lo:
        return None
    return float(x)


def _entry(d: Any) -> dict[str, Any] | None:
    """A stored entry checked field by field, or ``None`` if any field is unusable."""
    if not isinstance(d, dict) or not isinstance(d.get("id"), str) or not valid_take_id(d["id"]):
        return None
    start, created = _finite(d.get("start_s"), 0.0), _finite(d.get("created", 0.0), 0.0)
    ints = [v for k in ("frames", "sample_rate", "channels") if isinstance(v := d.get(k), int) and v is not True]
    if start is None or created is None or len(ints) != 3 or any(isinstance(v, bool) for v in ints):
        return None
    frames, rate, channels = ints
    name, ref = d.get("name"), d.get("reference", "")
    if frames < 1 or rate < 1 or channels not in (1, 2) or not isinstance(name, str) or not isinstance(ref, str):
        return None
    return {
        "id": d["id"],
        "name": name.strip() or f"take {d['id']}",
        "start_s": start,
        "frames": frames,
        "sample_rate": rate,
        "channels": channels,
        "reference": ref,
        "created": created,
    }


def _from_audio(folder: Path, known: set[str]) -> list[dict[str, Any]]:
    """Entries for the ``<id>.flac`` files not in ``known`` (start times unknown: 0)."""
    import soundfile as sf

    out = []
    with contextlib.suppress(OSError):
        for f in sorted(folder.iterdir()):
            m = _FLAC_RE.match(f.name)
            if m is None or m.group("id") in known:
                continue
            try:
                info = sf.info(str(f))
            except (sf.SoundFileError, RuntimeError, OSError):
                continue
            if info.frames < 1 or info.channels not in (1, 2):
                continue
            tid = m.group("id")
            out.append(
                {
                    "id": tid,
                    "name": f"take {tid}",
                    "start_s": 0.0,
                    "frames": int(info.frames),
                    "sample_rate": int(info.samplerate),
                    "channels": int(info.channels),
                    "reference": "",
                    "created": f.stat().st_mtime,
                }
            )
    return out


def highest_id_on_disk(folder: Path) -> int:
    """The largest take id any file in ``folder`` carries (finished or being recorded)."""
    top = 0
    with contextlib.suppress(OSError):
        for f in folder.iterdir():
            head = f.name.split(".", 1)[0]
            if _ID_RE.fullmatch(head):
                top = max(top, int(head))
    return top


def read_manifest(folder: Path) -> Manifest:
    """Read ``folder/takes.json``; never raises (see the module docstring)."""
    path = folder / MANIFEST
    m = Manifest()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = None
    except OSError as exc:
        m.problems.append(f"{path}: unreadable ({exc.strerror or exc}): takes rebuilt from their audio files")
        m.damaged, raw = True, None
    data: Any = None
    if raw is not None:
        try:
            data = json.loads(raw)
        except ValueError:
            m.problems.append(f"{path}: not valid JSON: takes rebuilt from their audio files (start times lost)")
            m.damaged = True
    if data is not None and not (isinstance(data, dict) and isinstance(data.get("takes"), list)):
        m.problems.append(f"{path}: not a takes manifest: takes rebuilt from their audio files (start times lost)")
        m.damaged, data = True, None
    if isinstance(data, dict) and data.get("schema") != SCHEMA:
        m.problems.append(f"{path}: schema {data.get('schema')!r}, this stemtui reads {SCHEMA}: takes not listed")
        m.foreign = True
        return m
    seen: set[str] = set()
    for item in data["takes"] if isinstance(data, dict) else []:
        e = _entry(item)
        if e is None or e["id"] in seen:
            tid = item.get("id") if isinstance(item, dict) else None
            m.problems.append(f"{path}: take {tid!r}: damaged entry (listed from its audio file if there is one)")
            continue
        seen.add(e["id"])
        m.entries.append(e)
    # Audio files without a (valid) entry: listed at song time 0, so nothing is lost.
    orphans = _from_audio(folder, seen)
    if orphans and not m.damaged and not m.problems:
        ids = ", ".join(e["id"] for e in orphans)
        m.problems.append(f"{path}: take {ids} had no entry: listed from the audio file at 0:00")
    m.entries.extend(orphans)
    m.entries.sort(key=lambda e: int(e["id"]))
    stored_next = data.get("next_id") if isinstance(data, dict) else None
    stored_next = stored_next if isinstance(stored_next, int) and not isinstance(stored_next, bool) else 1
    m.next_id = max(stored_next, highest_id_on_disk(folder) + 1, *(int(e["id"]) + 1 for e in m.entries))
    return m


def write_manifest(folder: Path, song_id: str, m: Manifest) -> None:
    """Replace ``takes.json`` atomically (temp part file, fsync, rename, fsync the folder).

    A manifest that was unreadable is kept first as ``takes.json.bad``.

    Raises:
        BadInput / WriteFailed: One line naming the manifest; the old one is untouched.
    """
    path = folder / MANIFEST
    if m.foreign:
        raise BadInput(str(path), "written by a newer stemtui: not changed")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        sweep_parts(folder)
        if m.damaged and path.exists():
            os.replace(path, path.with_name(MANIFEST + ".bad"))
            m.damaged = False
    except OSError as exc:
        raise write_error(path, exc) from None
    save_json_atomic(path, m.to_json(song_id), part_path(path))


def write_take_audio(path: Path, blocks: Iterator[np.ndarray], sample_rate: int, channels: int) -> None:
    """Write ``(n, channels)`` blocks as 24-bit FLAC, atomically (a part file renamed on success).

    NaN becomes silence and samples are clipped to [-1, 1] (the FLAC range).

    Raises:
        BadInput / WriteFailed: One line naming ``path``; no file is left behind.
    """
    with SafeSoundFile(path, sample_rate, channels, TAKE_FORMAT, TAKE_SUBTYPE) as f:
        for b in blocks:
            f.write(np.nan_to_num(np.clip(b, -1.0, 1.0), copy=False))
    with contextlib.suppress(OSError):
        fsync_path(path.parent)


def raw_blocks(path: Path, channels: int, frames: int, skip: int = 0) -> Iterator[np.ndarray]:
    """``frames`` whole frames of a raw interleaved float32 file from frame ``skip`` on, in blocks."""
    with open(path, "rb") as fh:
        fh.seek(4 * channels * skip)
        left = frames
        while left > 0:
            n = min(BLOCK, left)
            block = np.fromfile(fh, dtype=np.float32, count=n * channels)
            got = block.size // channels
            if got == 0:
                return
            yield block[: got * channels].reshape(got, channels)
            left -= got


def array_blocks(x: np.ndarray) -> Iterator[np.ndarray]:
    for s in range(0, x.shape[0], BLOCK):
        yield x[s : s + BLOCK]
