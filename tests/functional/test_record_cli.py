"""`stemtui record` with the device-free engine: the count-in is not in the take, bad flags are one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stemtui.core.library.catalog import ensure_demo
from stemtui.core.library.store import Store
from stemtui.core.takes.takestore import TakeStore

SR = 44100


def run(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "STEMTUI_CACHE_DIR": str(tmp_path / "cache"),
        "STEMTUI_DATA_DIR": str(tmp_path / "data"),
        "STEMTUI_LOG_DIR": str(tmp_path / "log"),
    }
    return subprocess.run(
        [sys.executable, "-m", "stemtui", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_count_in_plays_before_the_take_and_is_not_in_it(tmp_path):
    song_id = ensure_demo(Store(tmp_path / "cache")).id
    r = run(tmp_path, "record", "demo", "--device", "null", "--input", "null", "--bpm", "120@0",
            "--count-in", "4", "--from", "1", "--duration", "1.5")  # fmt: skip
    assert r.returncode == 0, r.stderr
    take = TakeStore(tmp_path / "data").get(song_id, r.stdout.strip())
    assert take.frames == round(1.5 * SR)
    # The input ran through the 2-s count-in (4 beats at 120 bpm) and before
    # it: the take starts at --from all the same.
    assert take.start_s == pytest.approx(1.0, abs=0.005)


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (["--duration", "0"], "stemtui: --duration 0.0: must be positive"),
        (["--mute", "nosuch"], "stemtui: nosuch: "),
    ],
)
def test_bad_flags_are_one_line_and_leave_no_take(tmp_path, flags, line):
    song_id = ensure_demo(Store(tmp_path / "cache")).id
    r = run(tmp_path, "record", "demo", "--device", "null", "--input", "null", *flags)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), r.stderr
    assert r.stdout == ""
    assert TakeStore(tmp_path / "data").takes(song_id) == []
