"""``stemtui analyze / info / export --midi --chords --chart`` on store songs, through the real worker.

The main song is a synthesized multitrack with known ground truth
(:mod:`stemtui.core.analysis.synthsongs`, ``dmaj120``), imported as a folder
of stems with ``stemtui import``, analysed once for the module; tests that
recompute work on a copy of its data folder. The ``--json`` output is
validated against :data:`~stemtui.core.analysis.mapschema.SONG_MAP_SCHEMA`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import mido
import numpy as np
import pytest
import soundfile as sf

from stemtui.core.analysis import synthsongs
from stemtui.core.analysis.mapschema import SONG_MAP_SCHEMA
from stemtui.core.analysis.songmap import ANALYSIS_VERSION

TIMEOUT = 300
SR = synthsongs.SR


def stemtui(env: dict, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stemtui", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )


def dirs_env(root: Path, data: Path | None = None) -> dict:
    return {
        **os.environ,
        "STEMTUI_CACHE_DIR": str(root / "cache"),
        "STEMTUI_DATA_DIR": str(data or root / "data"),
        "STEMTUI_LOG_DIR": str(root / "log"),
    }


def import_stems(env: dict, folder: Path, stems: dict[str, np.ndarray], title: str) -> str:
    folder.mkdir(parents=True)
    for name, y in stems.items():
        sf.write(folder / f"{name}.wav", y, SR, subtype="FLOAT")
    r = stemtui(env, "import", str(folder), "--title", title)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()[1]  # "imported ID8  TITLE ..."


def one_line_error(r: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert r.returncode == code, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """The synthesized song imported and analysed once: (root, env, song id, JSON map, truth)."""
    root = tmp_path_factory.mktemp("analyze")
    env = dirs_env(root)
    song = synthsongs.render(synthsongs.TEST_SPECS[0])
    sid = import_stems(env, root / "stems" / "dmaj120", song.stems, "Synth D major")
    r = stemtui(env, "analyze", sid, "--json")
    assert r.returncode == 0, r.stderr
    assert "analysed Synth D major in" in r.stderr  # the worker ran: this was no cache hit
    return root, env, sid, json.loads(r.stdout), song.truth


def cache_file(root: Path, sid: str, data: Path | None = None) -> Path:
    (found,) = (data or root / "data").joinpath("analysis").glob(f"{sid}*.json")
    return found


def test_json_matches_the_schema_and_the_songs_truth(analysed):
    _, _, _, doc, truth = analysed
    jsonschema.validate(doc, SONG_MAP_SCHEMA)
    assert doc["key"] == truth.key == "D:maj"
    assert abs(doc["bpm"] - truth.bpm) < 1.0
    assert [s["label"] for s in doc["sections"]][:4] == ["A", "B", "A", "B"]
    assert len(doc["chords"]) >= 10 and len(doc["bass_notes"]) >= 50
    assert doc["skipped"] == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d.pop("bpm"),
        lambda d: d.update(bpm="fast"),
        lambda d: d["chords"][0].update(label="Dmaj7"),
        lambda d: d["sections"][0].pop("end"),
        lambda d: d["bass_notes"][0].update(midi=200),
        lambda d: d.update(key="H:maj"),
        lambda d: d.update(chords={}),
    ],
    ids=["no bpm", "bpm string", "chord not harte majmin", "section without end", "midi 200", "bad key", "chords obj"],
)
def test_the_schema_rejects_a_wrong_shape(analysed, breakage):
    doc = json.loads(json.dumps(analysed[3]))
    breakage(doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SONG_MAP_SCHEMA)


def test_a_second_run_comes_from_the_cache_without_the_worker(analysed):
    root, env, sid, doc, _ = analysed
    path = cache_file(root, sid)
    before = path.stat().st_mtime_ns
    r = stemtui(env, "analyze", sid)
    assert r.returncode == 0, r.stderr
    assert "from the cache" in r.stdout.splitlines()[0]
    assert "analysed" not in r.stderr  # no worker, no progress
    assert path.stat().st_mtime_ns == before
    lines = r.stdout.splitlines()
    assert "  key       D:maj" in lines and any(line.startswith("  sections  A B A B") for line in lines)
    r = stemtui(env, "analyze", sid, "--json")
    assert json.loads(r.stdout) == doc and path.stat().st_mtime_ns == before


def test_info_shows_key_bpm_and_section_count(analysed, tmp_path):
    root, env, sid, doc, _ = analysed
    out = stemtui(env, "info", sid).stdout.splitlines()
    assert "  key       D:maj" in out
    assert f"  bpm       {doc['bpm']:.1f}" in out
    assert any(line.startswith(f"  sections  {len(doc['sections'])} (A B") for line in out), out
    # Not analysed: says so, and how.
    env2 = dirs_env(root, tmp_path / "data")
    out = stemtui(env2, "info", sid).stdout
    assert f"not analysed yet: stemtui analyze {sid}" in out and "  key " not in out


def test_exports_read_back(analysed, tmp_path):
    import mir_eval

    _, env, sid, doc, _ = analysed
    r = stemtui(
        env, "export", sid, "--midi", "bass.mid", "--chords", "chords.lab", "--chart", "chart.txt", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bass.mid", "chart.txt", "chords.lab"]  # no audio

    mid = mido.MidiFile(tmp_path / "bass.mid")
    now, on, notes = 0.0, {}, []
    for msg in mid:  # iterating a MidiFile gives times in seconds, at its tempo
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            on[msg.note] = now
        elif msg.type in ("note_off", "note_on"):
            notes.append((on.pop(msg.note), now, msg.note))
    notes.sort()
    want = [(n["start"], n["end"], n["midi"]) for n in doc["bass_notes"]]
    assert len(notes) == len(want)
    for (a, b, m), (wa, wb, wm) in zip(notes, want, strict=True):
        assert m == wm and abs(a - wa) < 0.005 and abs(b - wb) < 0.005

    intervals, labels = mir_eval.io.load_labeled_intervals(str(tmp_path / "chords.lab"))
    assert labels == [c["label"] for c in doc["chords"]]
    assert np.allclose(intervals, [[c["start"], c["end"]] for c in doc["chords"]], atol=0.001)

    chart = (tmp_path / "chart.txt").read_text().splitlines()
    assert chart[0] == "Synth D major" and chart[1].startswith("key D  120 bpm")
    bars = [cell for line in chart[2:] for cell in line.split("|")[1:-1]]
    n_bars = sum(synthsongs.TEST_SPECS[0].bars[c] for c in synthsongs.TEST_SPECS[0].form)
    assert n_bars <= len(bars) <= n_bars + 2  # the song's bars (+ the lead-in's and the tail's)
    assert all(len(b.split()) == 4 for b in bars)  # four beats a bar
    letters = [line[:3].strip() for line in chart[2:] if line[:3].strip()]
    assert letters == [s["label"] for s in doc["sections"]]
    assert "D" in bars[1].split()[0] or "D" in bars[0].split()[0]  # the tonic's bar at the start


def test_export_to_a_bad_path_is_one_line_and_writes_nothing(analysed, tmp_path):
    _, env, sid, _, _ = analysed
    r = stemtui(env, "export", sid, "--chart", "chart.txt", "--midi", "no/such/dir/bass.mid", cwd=tmp_path)
    one_line_error(r, 2, "--midi no/such/dir/bass.mid", "does not exist")
    r = stemtui(env, "export", sid, "--chords", str(tmp_path), cwd=tmp_path)
    one_line_error(r, 2, "is a directory")
    assert list(tmp_path.iterdir()) == []


def test_unknown_song_is_one_line_exit_2(analysed):
    one_line_error(stemtui(analysed[1], "analyze", "no-such-song"), 2, "no-such-song")


@pytest.fixture
def own_data(analysed, tmp_path):
    """A copy of the module's data folder (its cache), so a test can recompute without changing the others'."""
    root, _, sid, _, _ = analysed
    data = tmp_path / "data"
    shutil.copytree(root / "data", data)
    return dirs_env(root, data), cache_file(root, sid, data)


def test_force_recomputes(analysed, own_data):
    _, _, sid, doc, _ = analysed
    env, path = own_data
    before = path.stat().st_mtime_ns
    r = stemtui(env, "analyze", sid, "--force", "--json")
    assert r.returncode == 0, r.stderr
    assert "analysed Synth D major in" in r.stderr and path.stat().st_mtime_ns != before
    assert json.loads(r.stdout)["chords"] == doc["chords"]  # the same analysis, the same answer


@pytest.mark.parametrize("damage", ["garbage", "old version"])
def test_a_damaged_or_old_cache_is_recomputed(analysed, own_data, damage):
    _, _, sid, doc, _ = analysed
    env, path = own_data
    if damage == "garbage":
        path.write_bytes(b'{"schema": 1, "so')
        why = "is not valid JSON: analysing again"
    else:
        envelope = json.loads(path.read_text())
        envelope["map"]["version"] = ANALYSIS_VERSION - 1
        path.write_text(json.dumps(envelope))
        why = f"has analysis version {ANALYSIS_VERSION - 1}"
    r = stemtui(env, "analyze", sid, "--json")
    assert r.returncode == 0, r.stderr
    assert sum(why in line for line in r.stderr.splitlines()) == 1, r.stderr
    assert json.loads(r.stdout)["key"] == doc["key"]
    assert json.loads(path.read_text())["map"]["version"] == ANALYSIS_VERSION  # saved whole again


def _mapjob_child(pid: int) -> int | None:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    for k in kids:
        try:
            if "stemtui.core.analysis.mapjob" in Path(f"/proc/{k}/cmdline").read_text():
                return int(k)
        except OSError:
            continue
    return None


def test_worker_death_is_one_line_exit_1_and_the_cache_unchanged(analysed, own_data):
    _, _, sid, _, _ = analysed
    env, path = own_data
    before = path.read_bytes()
    p = subprocess.Popen(
        [sys.executable, "-m", "stemtui", "analyze", sid, "--force"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        child = None
        while child is None and time.monotonic() < deadline and p.poll() is None:
            child = _mapjob_child(p.pid)
            time.sleep(0.05)
        assert child is not None, "the analysis worker never started"
        os.kill(child, signal.SIGKILL)
        out, err = p.communicate(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
    r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    one_line_error(r, 1, "song analysis failed: its worker process died (killed by SIGKILL)")
    assert out == "" and path.read_bytes() == before


def _slice(stems: dict[str, np.ndarray], seconds: float) -> dict[str, np.ndarray]:
    return {k: v[: int(seconds * SR)] for k, v in stems.items()}


def test_short_vocals_only_and_silent_songs_give_empty_results(analysed):
    root, env, _, _, _ = analysed
    stems = synthsongs.render(synthsongs.TEST_SPECS[1]).stems
    cases = {
        "short": _slice(stems, 10.0),
        "vocals": {"vocals": _slice(stems, 20.0)["vocals"]},
        "silence": {k: np.zeros(int(20.0 * SR), np.float32) for k in ("vocals", "drums", "bass", "other")},
    }
    for name, case in cases.items():
        sid = import_stems(env, root / "stems" / name, case, f"Edge {name}")
        r = stemtui(env, "analyze", sid, "--json")
        assert r.returncode == 0, (name, r.stderr)
        d = json.loads(r.stdout)
        jsonschema.validate(d, SONG_MAP_SCHEMA)
        skipped = {s["analysis"]: s["reason"] for s in d["skipped"]}
        if name == "short":
            assert d["sections"] == [] and "too short" in skipped["sections"]
            assert d["chords"] and d["bass_notes"] and d["key"] == "A:min"
        elif name == "vocals":
            assert d["chords"] == [] and d["bass_notes"] == [] and d["key"] is None
            assert skipped["bass_notes"] == "no bass stem" and skipped["chords"] == "no harmonic stem"
        else:
            assert d["chords"] == d["bass_notes"] == d["sections"] == [] and d["bpm"] is None and d["key"] is None
            assert skipped["sections"] == "the song is silent"
        human = stemtui(env, "analyze", sid)
        assert human.returncode == 0 and "from the cache" in human.stdout and "  skipped   " in human.stdout
