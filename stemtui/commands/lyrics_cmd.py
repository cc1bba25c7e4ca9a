"""The lyrics command: ``stemtui lyrics SONG [import FILE | fetch] [--json | --lrc]``.

Lyrics live with the song's practice data (:class:`~stemtui.core.lyrics.lyricstore.LyricsStore`),
not in the stem cache. :func:`adopt_lyrics` is what ``import`` and ``separate``
call to pick up an ``.lrc`` beside the source.
"""

from __future__ import annotations

import json
import sys


def _song(args, settings):
    from stemtui.core.library.catalog import find_song

    return find_song(settings.store(), args.song)


def cmd_lyrics(args, settings) -> int:
    action = getattr(args, "lyrics_action", None) or "show"
    return {"show": _show, "import": _import, "fetch": _fetch}[action](args, settings)


def _show(args, settings) -> int:
    from stemtui.core.lyrics.lrcformat import write_lrc
    from stemtui.core.timefmt import format_time

    entry = _song(args, settings)
    lyrics, problem = settings.lyrics_store().load(entry.id)
    if problem:
        print(f"stemtui: {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps([] if lyrics is None else lyrics.to_json(), indent=2, ensure_ascii=False))
        return 0
    if lyrics is None:
        print(
            f"{entry.title}: no lyrics yet (`stemtui lyrics SONG import FILE.lrc`, `stemtui lyrics SONG fetch`,"
            " or y in the player to time a text)"
        )
        return 0
    if args.lrc:
        sys.stdout.write(write_lrc(lyrics, {"ti": entry.title, "ar": entry.artist} if entry.artist else {}))
        return 0
    for ln in lyrics.lines:
        when = "-:--.--" if ln.time is None else format_time(ln.time, 2)
        print(f"{when:>7}  {ln.text}")
    return 0


def _save(settings, entry, lyrics, source: str, what: str) -> int:
    store = settings.lyrics_store()
    replaced = store.path(entry.id).exists()
    store.save(entry.id, lyrics, source)
    timed = f"{lyrics.timed_count} timed lines" if lyrics.timed else f"{len(lyrics.lines)} untimed lines"
    tail = "; time them with y in the player" if not lyrics.timed else ""
    print(f"{entry.title}: {timed} from {what}" + (" (replaced the earlier lyrics)" if replaced else "") + tail)
    return 0


def _import(args, settings) -> int:
    from pathlib import Path

    from stemtui.core.lyrics.lrcformat import read_lyrics_file

    entry = _song(args, settings)
    lyrics = read_lyrics_file(args.file)  # BadInput (exit 2) before anything is stored
    return _save(settings, entry, lyrics, Path(args.file).name, args.file)


def _fetch(args, settings) -> int:
    from stemtui.core.lyrics.lrclibclient import fetch_lyrics

    entry = _song(args, settings)
    hit = fetch_lyrics(settings.lrclib_url, entry.title, entry.artist, entry.duration)
    host = settings.lrclib_url.split("://", 1)[-1].rstrip("/")
    return _save(settings, entry, hit.lyrics, f"lrclib:{hit.id}", f"{host} (id {hit.id})")


def adopt_lyrics(settings, entry, source) -> None:
    """Pick up an ``.lrc`` beside ``source`` for ``entry`` (import, separate); one line on stderr if any."""
    line = settings.lyrics_store().adopt(entry.id, source)
    if line:
        print(f"{entry.title}: {line}", file=sys.stderr)
