"""The takes commands: ``stemtui takes SONG [import|rm|rename]``, and ``rm --with-takes``."""

from __future__ import annotations

import json
import sys


def _song(args, settings):
    """The library entry SONG names (an id prefix or part of the title)."""
    from stemtui.core.library.catalog import find_song

    return find_song(settings.store(), args.song)


def cmd_takes(args, settings) -> int:
    action = getattr(args, "takes_action", None) or "list"
    return {"list": _list, "import": _import, "rm": _rm, "rename": _rename}[action](args, settings)


def take_json(t) -> dict:
    """One take for ``stemtui takes SONG --json``."""
    return {
        "id": t.id,
        "name": t.name,
        "start_s": round(t.start_s, 6),
        "duration_s": round(t.duration_s, 6),
        "frames": t.frames,
        "sample_rate": t.sample_rate,
        "channels": t.channels,
        "reference": t.reference,
        "created": t.created,
        "path": str(t.path),
    }


def _list(args, settings) -> int:
    from stemtui.core.timefmt import format_time

    entry = _song(args, settings)
    takes, _problems = settings.takes_store().listing(entry.id)  # problems: warnings on stderr already
    if args.json:
        print(json.dumps([take_json(t) for t in takes], indent=2))
        return 0
    if not takes:
        print(f"{entry.title}: no takes yet (record one with R in the player, or `stemtui takes SONG import FILE`)")
        return 0
    print(f"{'ID':4} {'NAME':24} {'START':>9} {'LENGTH':>8}  PATH")
    for t in takes:
        print(f"{t.id:4} {t.name[:24]:24} {format_time(t.start_s, 2):>9} {format_time(t.duration_s, 1):>8}  {t.path}")
    return 0


def _import(args, settings) -> int:
    from stemtui.core.errors import BadInput
    from stemtui.core.timefmt import format_time, parse_time

    entry = _song(args, settings)
    at = parse_time(args.at, "--at")
    if at >= entry.duration:
        raise BadInput(f"--at {args.at}", f"past the song's end ({format_time(entry.duration, 2)})")
    take = settings.takes_store().import_file(entry.id, args.file, at, entry.sample_rate, entry.frames, args.name)
    print(take.id)
    print(
        f"imported take {take.id} ({take.name}) into {entry.title} at {format_time(take.start_s, 2)},"
        f" {take.duration_s:.1f} s; in the mix as take:{take.id}",
        file=sys.stderr,
    )
    return 0


def _rm(args, settings) -> int:
    entry = _song(args, settings)
    store = settings.takes_store()
    take = store.get(entry.id, args.id) if args.id in {t.id for t in store.takes(entry.id)} else None
    store.remove(entry.id, args.id)  # BadInput for an unknown id (a dangling entry is removed too)
    print(f"removed take {args.id}" + (f" ({take.name})" if take else "") + f" of {entry.title}")
    return 0


def _rename(args, settings) -> int:
    entry = _song(args, settings)
    take = settings.takes_store().rename(entry.id, args.id, args.name)
    print(f"take {take.id} of {entry.title} is now {take.name!r}")
    return 0


def rm_takes(settings, song_id: str, with_takes: bool) -> str | None:
    """What ``stemtui rm`` does with the song's takes: removes them with ``--with-takes``, else keeps them.

    Returns:
        A line to print, or ``None`` when the song has no takes.
    """
    store = settings.takes_store()
    if with_takes:
        n = store.remove_song(song_id)
        return f"removed its {n} take{'s' if n != 1 else ''}" if n else None
    n = len(store.takes(song_id))
    if not n:
        return None
    return (
        f"kept its {n} take{'s' if n != 1 else ''} (they come back when the song is separated or imported again;"
        " `stemtui rm SONG --with-takes` removes them)"
    )
