"""Library commands: import, list, info, rm, demo, and opening the app."""

from __future__ import annotations

import argparse
import json
import os
import sys

from stemtui.commands.common import _fmt_size


def cmd_import(args, settings) -> int:
    from stemtui.core.library.catalog import import_path

    entry, new = import_path(settings.store(), args.path, args.title)
    what = "imported" if new else "already in the library:"
    print(
        f"{what} {entry.id[:8]}  {entry.title}  "
        f"({len(entry.stems)} stems: {', '.join(entry.stems)}; {entry.duration:.1f} s)"
    )
    from stemtui.commands.lyrics_cmd import adopt_lyrics

    adopt_lyrics(settings, entry, args.path)  # an .lrc beside the source or in the folder
    return 0


def cmd_list(args, settings) -> int:
    from stemtui.core.errors import StemtuiError
    from stemtui.core.library.catalog import ensure_demo
    from stemtui.core.separation.job import in_progress
    from stemtui.core.timefmt import format_time

    store = settings.store()
    try:
        ensure_demo(store)
    except StemtuiError as exc:  # a full or read-only cache: list what is there
        print(f"stemtui: the demo song could not be installed: {exc}", file=sys.stderr)
    entries = store.entries() + in_progress(store)
    if args.json:
        print(json.dumps([e.to_json() for e in entries], indent=2))
        return 0
    if not entries:
        print("The library is empty. Add songs with `stemtui import PATH`.")
        return 0
    print(f"{'ID':8}  {'TITLE':28} {'ARTIST':16} {'LENGTH':>7}  {'STEMS':5} {'SIZE':>9}  STATE")
    for e in entries:
        state = e.state if e.ok else f"{e.state}: {e.reason}"
        print(
            f"{e.id[:8]:8}  {e.title[:28]:28} {e.artist[:16]:16} {format_time(e.duration, 0):>7}  "
            f"{len(e.stems):5} {_fmt_size(e.size_bytes):>9}  {state}"
        )
    return 0


def cmd_info(args, settings) -> int:
    from stemtui.core.library.catalog import find_song
    from stemtui.core.timefmt import format_time

    store = settings.store()
    e = store.resolve(args.song, allow_damaged=True) if not os.path.exists(args.song) else find_song(store, args.song)
    print(f"{e.title}" + (f" — {e.artist}" if e.artist else ""))
    print(f"  id        {e.id}")
    print(f"  state     {e.state}" + (f" ({e.reason})" if e.reason else ""))
    print(f"  length    {format_time(e.duration, 2)} at {e.sample_rate} Hz")
    print(f"  model     {e.model or '(imported stems)'} {json.dumps(e.options) if e.options else ''}".rstrip())
    print(f"  source    {e.source}")
    print(f"  created   {e.created}")
    print(f"  on disk   {_fmt_size(e.size_bytes)} in {e.path}")
    for name in e.stems:
        print(f"    {name:12} {e.stem_path(name)}")
    from stemtui.commands.analyze_cmd import cached_map

    m, why = cached_map(settings, e) if e.ok else (None, None)
    if m is None:
        state = "not analysed yet" if why is None else "cached song map unusable, analyse again"
        print(f"  song map  {state}: stemtui analyze {e.id[:8]}")
    else:
        bpm = f"{m.bpm:.1f}" if m.bpm is not None else "(no steady beat)"
        print(f"  key       {m.key or '(none found)'}")
        print(f"  bpm       {bpm}")
        print(f"  sections  {len(m.sections)}" + (f" ({' '.join(s.label for s in m.sections)})" if m.sections else ""))
    return 0


def cmd_rm(args, settings) -> int:
    store = settings.store()
    e = store.resolve(args.song, allow_damaged=True)
    store.remove(e)
    print(f"removed {e.id[:8]}  {e.title}")
    from stemtui.commands.takes_cmds import rm_takes

    line = rm_takes(settings, e.id, bool(getattr(args, "with_takes", False)))
    if line:
        print(line)
    return 0


def cmd_demo(args, settings) -> int:  # noqa: ARG001 -- every command takes (args, settings)
    """Put the demo song back in the library and open it in the player."""
    from stemtui.core.library.catalog import ensure_demo

    entry = ensure_demo(settings.store(), force=True)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(f"demo ready: {entry.id[:8]}  {entry.title}  ({', '.join(entry.stems)}; {entry.duration:.1f} s)")
        print("try: stemtui play demo --mute vocals   (or run `stemtui demo` in a terminal to open the player)")
        return 0
    from stemtui.ui.app import run_app

    return run_app(settings, entry.id)


def cmd_app(args, settings) -> int:
    """Open the terminal UI (the library, or a song/file given as TARGET)."""
    try:
        from stemtui.ui.app import run_app
    except ImportError:
        return cmd_list(argparse.Namespace(json=False), settings)
    return run_app(settings, args.target)
