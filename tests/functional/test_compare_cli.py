"""``stemtui compare SONG TAKE [--against STEM] [--json]`` on the demo, through the real worker.

The take is the demo's own vocal line from 0:04 to 0:20, put 40 ms late:
every note reads in tune and 40 ms late, and the summary says "you drag".
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from stemtui.core.takes.takestore import TakeStore

TIMEOUT = 240
START_S, LATE_S = 4.0, 0.040


def stemtui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stemtui", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def late_take(demo_store, settings, tmp_path):
    entry = demo_store.resolve("demo")
    vocals, sr = sf.read(entry.stem_path("vocals"), dtype="float32", always_2d=True)
    line = vocals[int(START_S * sr) : int(20.0 * sr)]
    late = np.concatenate([np.zeros((int(LATE_S * sr), line.shape[1]), np.float32), line])
    sf.write(tmp_path / "take.wav", late, sr, subtype="FLOAT")
    take = TakeStore(settings.data_dir).import_file(entry.id, tmp_path / "take.wav", START_S, sr, len(vocals))
    return entry, take


def test_the_summary_says_you_drag_and_names_the_worst_notes(late_take):
    _, take = late_take
    r = stemtui("compare", "demo", take.id)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "take 1 (0:04.0–0:20.0) against vocals"
    assert "100% of" in lines[1] and "within ±25 cents" in lines[1]
    drag = lines[2].split("you drag by ")[1]
    assert abs(int(drag.split()[0]) - 40) <= 15, lines[2]
    assert lines[3] == "  worst notes:" and len(lines) == 7
    for row in lines[4:]:
        time, _name, cents, _c, ms, _ms = row.split()
        m, s = time.split(":")
        assert START_S <= int(m) * 60 + float(s) <= 20.0
        assert abs(float(cents)) <= 10 and abs(float(ms) - 40) <= 15, row


def test_json_has_the_issues_keys(late_take):
    _, take = late_take
    r = stemtui("compare", "demo", take.id, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["reference"] == "vocals" and d["take"] == take.id  # no reference on an import: vocals
    assert abs(d["offset_ms"] - 40.0) <= 15 and d["in_tune_pct"] == 100.0 and d["median_abs_cents"] <= 10
    assert len(d["notes"]) >= 10
    for n in d["notes"]:
        assert set(n) == {"ref_start", "ref_end", "ref_midi", "cents", "onset_ms"}
        assert START_S <= n["ref_start"] < n["ref_end"] <= 20.2
        assert abs(n["onset_ms"] - 40.0) <= 15 and abs(n["cents"]) <= 10


def test_the_default_reference_is_the_stem_muted_while_recording(demo_store, settings):
    entry = demo_store.resolve("demo")
    vocals, sr = sf.read(entry.stem_path("vocals"), dtype="float32", always_2d=True)
    store = TakeStore(settings.data_dir)
    part = store.begin(entry.id, 6.0, sr, 2, reference="bass")
    vocals[int(6.0 * sr) : int(9.0 * sr)].tofile(part.audio)
    take = store.finish(part)
    r = stemtui("compare", "demo", take.id, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["reference"] == "bass"
    r = stemtui("compare", "demo", take.id, "--against", "vocals", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["reference"] == "vocals" and d["median_abs_cents"] <= 10


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["9"], "stemtui: take 9: no such take of this song"),
        (["1", "--against", "kazoo"], "stemtui: --against kazoo: no such stem in this song (it has "),
    ],
)
@pytest.mark.usefixtures("late_take")
def test_bad_input_is_one_line_exit_2(args, needle):
    r = stemtui("compare", "demo", *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and r.stderr.startswith(needle), r.stderr
    assert r.stdout == ""
