"""Library operations shared by the CLI and the UI: import, demo, lookup."""

from __future__ import annotations

import contextlib
from pathlib import Path

from stemtui.core.audio.song import Song
from stemtui.core.errors import BadInput, StemtuiError
from stemtui.core.library.safeio import check_input_file, write_error
from stemtui.core.library.store import Entry, Store, hash_files

#: Marker written once the demo was installed, so a deleted demo stays deleted
#: (``stemtui demo`` brings it back on purpose).
DEMO_MARKER = ".demo-installed"


def demo_id() -> str:
    """The demo song's id: fixed per synthesis version, so it caches."""
    import hashlib

    from stemtui.core.library.demo import DEMO_VERSION

    return "demo" + hashlib.sha256(f"stemtui-demo-v{DEMO_VERSION}".encode()).hexdigest()[:12]


def ensure_demo(store: Store, force: bool = False) -> Entry | None:
    """Put the synthesized demo song in the library on first run.

    Args:
        store: The store.
        force: Install it even if the user removed it before.

    Returns:
        The demo's entry, or ``None`` when it was deliberately removed.

    Raises:
        BadInput / WriteFailed: The cache cannot hold it (full, read-only):
            one line; nothing half-written is left.
    """
    sid = demo_id()
    existing = store.get(sid)
    if existing is not None and existing.ok:
        return existing
    marker = store.root / DEMO_MARKER
    if marker.exists() and not force and existing is None:
        return None
    from stemtui.core.audio.song import SongMeta
    from stemtui.core.library.demo import DEMO_ARTIST, DEMO_TITLE, synthesize

    sr = 44100
    meta = SongMeta(DEMO_TITLE, DEMO_ARTIST, source="demo (synthesized by stemtui)")
    song = Song.from_stems(synthesize(sr), sr, meta, sid)
    if existing is not None:  # damaged demo: replace it
        store.remove(existing)
    entry = store.add_song(song, sid)
    try:
        marker.write_text(sid + "\n")
    except OSError as exc:
        with contextlib.suppress(OSError):  # a torn marker would read as "removed on purpose"
            marker.unlink()
        raise write_error(marker, exc) from None
    return entry


def import_path(store: Store, path: str | Path, title: str | None = None) -> tuple[Entry, bool]:
    """Import a folder of stems or a ``.stem.mp4``.

    Returns:
        The entry and whether it was newly added (``False`` on a cache hit).

    Raises:
        BadInput: For anything unusable, naming the path and the reason.
    """
    from stemtui.core.library.audiofiles import AUDIO_EXTENSIONS, load_source

    # Before anything reads it: a FIFO or device would block the hash forever.
    p = check_input_file(path, allow_dir=True)
    if p.is_dir():
        files = sorted(
            f
            for f in p.iterdir()
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in AUDIO_EXTENSIONS
        )
    else:
        files = [p]
    sid = (
        hash_files(files, {"kind": "import", "names": [f.stem.lower() for f in files] if p.is_dir() else []})
        if files
        else ""
    )
    if sid:
        hit = store.get(sid)
        if hit is not None and hit.ok:
            return hit, False
    stems, sr, meta = load_source(p)
    if title:
        meta.title = title
    song = Song.from_stems(stems, sr, meta, sid)
    return store.add_song(song, sid), True


def find_song(store: Store, query: str) -> Entry:
    """Resolve a SONG argument: an id prefix, a title substring, or a path to import.

    Raises:
        BadInput: If nothing or several things match, or the import fails.
    """
    p = Path(query).expanduser()
    if query and p.exists():
        if not p.is_dir() and not p.is_file():
            check_input_file(p)  # a FIFO, device or socket: refused by name, never read
        if "/" in query or p.is_dir() or query.lower().endswith(".mp4"):
            return import_path(store, query)[0]
    try:
        ensure_demo(store)
    except StemtuiError as exc:
        # A full cache must not hide the songs already there; but asking for
        # the demo itself gets the reason it is missing.
        try:
            return store.resolve(query)
        except BadInput:
            from stemtui.core.library.demo import DEMO_TITLE

            q = query.strip().lower()
            if q and (q in DEMO_TITLE.lower() or demo_id().startswith(q)):
                raise exc from None
            raise
    return store.resolve(query)


def open_song(store: Store, entry: Entry, block: bool = False) -> Song:
    """Open an entry for playback (progressive decode unless ``block``)."""
    return store.open(entry, block=block)
