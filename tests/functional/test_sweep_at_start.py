"""Litter of dead processes is swept when stemtui starts, whatever the command.

A SIGKILLed export leaves its ``.NAME.<pid>.<hex>.part`` beside the target
(the current folder by default); a killed separation or import its temp
entry folder in the cache; a killed practice save its ``.tmp`` file. Any
later ``stemtui`` run removes those of dead processes, and never one of a
live process or a file that is not ours.
"""

from __future__ import annotations

import os
import subprocess
import sys

TIMEOUT = 60
DEAD = 999999  # no such pid (the existing tests use it too)


def test_any_command_sweeps_dead_litter_at_start(tmp_path, settings):
    work = tmp_path / "work"
    work.mkdir()
    stale = work / f".mix.wav.{DEAD}.0123abcd.part"
    live = work / f".mix.wav.{os.getpid()}.0123abcd.part"
    mine = work / ".mix.wav.notes.part"
    entry = settings.cache_dir / "tmp" / f"abcdef0123456789.{DEAD}.deadbeef"
    practice = settings.data_dir / "practice" / f".abcdef0123456789.json.{DEAD}.deadbeef.tmp"
    entry.mkdir(parents=True)
    (entry / "vocals.flac").write_bytes(b"half")
    practice.parent.mkdir(parents=True)
    for p in (stale, live, mine, practice):
        p.write_bytes(b"x")
    r = subprocess.run(
        [sys.executable, "-m", "stemtui", "list"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in work.iterdir()) == sorted([live.name, mine.name])
    assert not entry.exists()
    assert not practice.exists()
