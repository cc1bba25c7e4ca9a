"""The song store: a crash-safe, content-addressed cache of stems.

Layout under the cache root (given by the caller: see
:attr:`stemtui.settings.Settings.cache_dir`)::

    songs/<id>/manifest.json     schema version, metadata, stems, sizes
    songs/<id>/<stem>.flac       16-bit FLAC: small, and any DAW opens it
    tmp/<id>.<pid>.<rand>/       entries being written

An entry's id is a hash of its audio's bytes plus the options that shaped
it, so a renamed file still hits the cache. An entry is written into
``tmp/`` and renamed into ``songs/`` only once complete (files fsynced,
manifest last), so a crash at any moment leaves either no entry or a whole
one. Reading never trusts an entry: a bad manifest, an old schema, or a
missing or truncated stem marks it *damaged* (or *old*), which is listed
and removable, and never raises.

Writing fails loudly and cleanly: an OSError on the way (disk full, quota,
read-only cache, permission) becomes one line naming the path and the
reason (:func:`~stemtui.core.library.safeio.write_error`: ``BadInput`` for a
cache that can never be written, ``WriteFailed`` otherwise), and the temp
folder is removed first. Temp folders of processes that died are swept when
a store is opened.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from stemtui.core.audio.song import Song, SongMeta, stem_sort_key
from stemtui.core.errors import BadInput
from stemtui.core.library.safeio import check_input_file, fsync_path, pid_alive, write_error, write_json_synced
from stemtui.core.library.stemfiles import (
    STEM_FORMAT,
    STEM_SUBTYPE,
    decode_into,
    write_stem,
)

SCHEMA = 1
MANIFEST = "manifest.json"


def hash_files(paths: list[Path], extra: dict | None = None) -> str:
    """Content hash of files' bytes (not names) plus options; a 16-hex id.

    Raises BadInput for a path that is not a readable regular file (a FIFO would block the read).
    """
    h = hashlib.sha256()
    for p in paths:
        check_input_file(p)
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0file\0")
    h.update(json.dumps(extra or {}, sort_keys=True).encode())
    return h.hexdigest()[:16]


@dataclass
class Entry:
    """One song in the store, as read from disk (never trusted blindly).

    Attributes:
        id: Content id (folder name).
        path: The entry's folder.
        state: ``complete``, ``damaged`` or ``old``.
        reason: Why an entry is damaged or old; empty when complete.
    """

    id: str
    path: Path
    state: str = "complete"
    reason: str = ""
    title: str = ""
    artist: str = ""
    duration: float = 0.0
    sample_rate: int = 0
    frames: int = 0
    stems: list[str] = field(default_factory=list)
    model: str = ""
    options: dict = field(default_factory=dict)
    created: str = ""
    source: str = ""
    size_bytes: int = 0

    @property
    def ok(self) -> bool:
        """Whether the entry can be opened."""
        return self.state == "complete"

    def stem_path(self, name: str) -> Path:
        """Where a stem's audio lives (usable from a DAW)."""
        return self.path / f"{name}.flac"

    def to_json(self) -> dict:
        """A JSON-friendly dict (for ``stemtui list --json``)."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["path"] = str(self.path)
        return d


class Store:
    """The cache of separated and imported songs.

    Args:
        root: The cache root (``Settings.cache_dir``).
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()
        self.songs_dir = self.root / "songs"
        self.tmp_dir = self.root / "tmp"
        for d in (self.songs_dir, self.tmp_dir):
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise write_error(d, exc) from None
        self._sweep_tmp()

    # -- housekeeping ---------------------------------------------------------
    def _sweep_tmp(self) -> None:
        """Remove half-written entries (and trash) left by processes that died. Never raises.

        A name is ``<id>.<pid>.<rand>`` (``trash.0.<rand>`` for a removal's
        trash: any process may finish that); entries of a live pid stay.
        """
        try:
            names = [d for d in self.tmp_dir.iterdir() if d.is_dir()]
        except OSError:
            return
        for d in names:
            parts = d.name.split(".")
            pid = int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else 0
            if pid and (pid == os.getpid() or pid_alive(pid)):
                continue
            shutil.rmtree(d, ignore_errors=True)

    def new_tmp(self, song_id: str) -> Path:
        """A fresh folder in ``tmp/`` for writing an entry."""
        d = self.tmp_dir / f"{song_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        try:
            d.mkdir(parents=True)
        except OSError as exc:
            raise write_error(self.tmp_dir, exc) from None
        return d

    # -- reading ------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        """Every entry, damaged ones included, newest first. Never raises."""
        out = [self._read_entry(d) for d in self.songs_dir.iterdir() if d.is_dir()]
        out.sort(key=lambda e: e.created, reverse=True)
        return out

    def get(self, song_id: str) -> Entry | None:
        """The entry with exactly this id, or ``None``."""
        d = self.songs_dir / song_id
        return self._read_entry(d) if d.is_dir() else None

    def _read_entry(self, d: Path) -> Entry:
        e = Entry(id=d.name, path=d, title=d.name)
        try:
            m = json.loads((d / MANIFEST).read_text())
        except FileNotFoundError:
            return _damaged(e, "no manifest")
        except (OSError, ValueError) as exc:
            return _damaged(e, f"unreadable manifest ({type(exc).__name__})")
        if not isinstance(m, dict):
            return _damaged(e, "manifest is not an object")
        schema = m.get("schema")
        try:
            e.title = str(m.get("title", d.name))
            e.artist = str(m.get("artist", ""))
            e.duration = float(m.get("duration", 0.0))
            e.sample_rate = int(m.get("sample_rate", 0))
            e.frames = int(m.get("frames", 0))
            e.stems = [str(s) for s in m.get("stems", [])]
            e.model = str(m.get("model", ""))
            e.options = dict(m.get("options", {}))
            e.created = str(m.get("created", ""))
            e.source = str(m.get("source", ""))
            e.size_bytes = int(m.get("size_bytes", 0))
            files = dict(m.get("files", {}))
        except (TypeError, ValueError) as exc:
            return _damaged(e, f"bad manifest field ({exc})")
        if schema != SCHEMA:
            e.state, e.reason = "old", f"cache schema {schema}, this stemtui reads {SCHEMA}: separate again"
            return e
        if not e.stems or e.frames <= 0 or e.sample_rate <= 0:
            return _damaged(e, "manifest lists no audio")
        for name in e.stems:
            p = e.stem_path(name)
            try:
                size = p.stat().st_size
            except OSError:
                return _damaged(e, f"missing stem {name}")
            if size != int(files.get(name, {}).get("bytes", -1)):
                return _damaged(e, f"stem {name} is truncated or changed")
        return e

    def resolve(self, query: str, allow_damaged: bool = False) -> Entry:
        """Find one song by id prefix or title substring.

        Raises:
            BadInput: If nothing matches, several songs match (the message
                lists them), or the match is damaged and not allowed.
        """
        q = query.strip().lower()
        if not q:
            raise BadInput(repr(query), "empty song name")
        entries = self.entries()
        exact = [e for e in entries if e.id == q]
        found = exact or [e for e in entries if e.id.startswith(q)] or [e for e in entries if q in e.title.lower()]
        if not found:
            raise BadInput(query, "no song in the library matches (see `stemtui list`)")
        if len(found) > 1:
            listing = "; ".join(f"{e.id[:8]} {e.title}" for e in found[:8])
            raise BadInput(query, f"matches {len(found)} songs: {listing}. Use a longer id")
        e = found[0]
        if not e.ok and not allow_damaged:
            raise BadInput(query, f"{e.state} entry: {e.reason} (remove it with `stemtui rm {e.id[:8]}`)")
        return e

    # -- writing ------------------------------------------------------------------
    def add_song(self, song: Song, song_id: str) -> Entry:
        """Store a complete song atomically; a cache hit returns the existing entry.

        Raises:
            BadInput / WriteFailed: The cache refused the write (one line); no temp folder is left.
        """
        existing = self.get(song_id)
        if existing is not None and existing.ok:
            return existing
        tmp = self.new_tmp(song_id)
        try:
            for i, name in enumerate(song.names):
                write_stem(tmp / f"{name}.flac", song.data[i], song.sample_rate)
            return self.commit(tmp, song_id, song.names, song.frames, song.sample_rate, song.meta)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def commit(self, tmp: Path, song_id: str, names: list[str], frames: int, sample_rate: int, meta: SongMeta) -> Entry:
        """Write the manifest into ``tmp`` (stems already there) and publish it.

        The rename is the commit point: before it there is no entry, after
        it a complete one.

        Raises:
            BadInput / WriteFailed: The manifest or the rename failed (one
                line naming the path); ``tmp`` is removed.
        """
        try:
            return self._commit(tmp, song_id, names, frames, sample_rate, meta)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise write_error(exc.filename or tmp, exc) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _commit(
        self, tmp: Path, song_id: str, names: list[str], frames: int, sample_rate: int, meta: SongMeta
    ) -> Entry:
        # A musician's order (vocals first), whatever order the model uses.
        names = sorted(names, key=stem_sort_key)
        files: dict[str, dict[str, str | int]] = {
            n: {"file": f"{n}.flac", "bytes": (tmp / f"{n}.flac").stat().st_size} for n in names
        }
        manifest = {
            "schema": SCHEMA,
            "id": song_id,
            "title": meta.title,
            "artist": meta.artist,
            "duration": frames / sample_rate,
            "sample_rate": sample_rate,
            "frames": frames,
            "stems": list(names),
            "model": meta.model,
            "options": meta.options,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "source": meta.source,
            "size_bytes": sum(int(f["bytes"]) for f in files.values()),
            "format": f"{STEM_FORMAT}/{STEM_SUBTYPE}",
            "files": files,
        }
        write_json_synced(tmp / MANIFEST, manifest)
        fsync_path(tmp)
        dest = self.songs_dir / song_id
        try:
            os.rename(tmp, dest)
        except OSError:
            # Someone else committed the same content first, or a damaged
            # entry sits there: keep a complete one, replace a damaged one.
            current = self.get(song_id)
            if current is not None and current.ok:
                shutil.rmtree(tmp, ignore_errors=True)
                return current
            self._discard(dest)
            os.rename(tmp, dest)
        fsync_path(self.songs_dir)
        entry = self.get(song_id)
        if entry is None:  # removed by another process in between
            raise FileNotFoundError(errno.ENOENT, "the entry vanished after its commit", str(dest))
        return entry

    def remove(self, entry: Entry) -> None:
        """Delete an entry (damaged ones too); it vanishes atomically.

        Raises:
            BadInput / WriteFailed: The cache cannot be changed (read-only, permission).
        """
        try:
            self._discard(entry.path)
        except OSError as exc:
            raise write_error(entry.path, exc) from None

    def _discard(self, path: Path) -> None:
        if not path.exists():
            return
        trash = self.tmp_dir / f"trash.0.{uuid.uuid4().hex[:8]}"
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    # -- opening --------------------------------------------------------------------
    def open(self, entry: Entry, block: bool = False) -> Song:
        """Open a stored song; stems decode in a background thread.

        The song is returned as soon as its buffers exist; the first chunk of
        every stem follows within milliseconds and playback can start at once
        (the mixer waits at the edge of what is decoded).

        Args:
            entry: A complete entry.
            block: Wait until every stem is fully decoded.

        Raises:
            BadInput: If the entry is not complete.
        """
        if not entry.ok:
            raise BadInput(entry.title, f"{entry.state} entry: {entry.reason}")
        meta = SongMeta(entry.title, entry.artist, entry.source, entry.model, entry.options)
        song = Song.empty(entry.stems, entry.frames, entry.sample_rate, meta, entry.id)
        t = threading.Thread(target=decode_into, args=(song, entry), name="stemtui-decode", daemon=True)
        t.start()
        if block:
            song.complete.wait()
            if song.load_error:
                raise BadInput(entry.title, song.load_error)
        return song


def _damaged(e: Entry, reason: str) -> Entry:
    e.state, e.reason = "damaged", reason
    return e
