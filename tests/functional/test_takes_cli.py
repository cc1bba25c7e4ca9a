"""``stemtui takes`` and takes in the mix, through the real CLI on the real demo song.

Import, list, rename, rm; bad inputs (one line, exit 2); ``rm`` keeping the
takes (or not, ``--with-takes``) and the takes coming back with the song;
a recording killed mid-take recovered by the next command; a full data
dir; and exports checked in the audio: the take at its ``--at`` time, the
muted vocals gone, ``--solo take:1`` only the take.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from stemtui.core.library.catalog import demo_id
from stemtui.core.takes.takestore import TakeStore
from tests.functional.test_bad_inputs import assert_one_line, run
from tests.functional.test_disk_full import fill, litter
from tests.tmpfs import tmpfs

SR = 44100  # the demo's rate
AT = 7.5


def noise_take(path: Path, seconds: float = 2.0, sr: int = 48000, seed: int = 5) -> np.ndarray:
    """A mono noise burst (nothing in the demo correlates with it), written as float WAV at ``sr``."""
    x = (np.random.default_rng(seed).standard_normal(int(seconds * sr)) * 0.15).astype(np.float32)
    sf.write(str(path), x, sr, subtype="FLOAT")
    return x


@pytest.fixture
def demo_cache(demo_store) -> Path:
    return demo_store.root


def takes_json(cache: Path) -> list[dict]:
    r = run(["takes", "demo", "--json"], cache)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_import_list_rename_rm(demo_cache, tmp_path, settings):
    noise_take(tmp_path / "mine.wav")
    r = run(
        ["takes", "demo", "import", str(tmp_path / "mine.wav"), "--at", "0:07.500", "--name", "first try"], demo_cache
    )
    assert r.returncode == 0 and r.stdout.strip() == "1", (r.stdout, r.stderr)
    assert "imported take 1 (first try)" in r.stderr
    r = run(["takes", "demo", "import", str(tmp_path / "mine.wav"), "--at", "12"], demo_cache)
    assert r.stdout.strip() == "2"
    [one, two] = takes_json(demo_cache)
    assert (one["id"], one["name"], one["start_s"], one["sample_rate"], one["channels"]) == (
        "1",
        "first try",
        AT,
        SR,
        1,
    )
    assert abs(one["duration_s"] - 2.0) < 1e-3 and two["name"] == "take 2" and two["start_s"] == 12.0
    assert Path(one["path"]) == settings.data_dir / "takes" / demo_id() / "1.flac"
    assert sf.info(one["path"]).subtype == "PCM_24"
    table = run(["takes", "demo"], demo_cache).stdout
    assert "first try" in table and "0:07.50" in table and one["path"] in table
    assert run(["takes", "demo", "rename", "2", "chorus"], demo_cache).returncode == 0
    assert run(["takes", "demo", "rm", "1"], demo_cache).stdout.startswith("removed take 1 (first try)")
    assert [(t["id"], t["name"]) for t in takes_json(demo_cache)] == [("2", "chorus")]
    assert not Path(one["path"]).exists()
    r = run(["takes", "demo", "import", str(tmp_path / "mine.wav"), "--at", "0"], demo_cache)
    assert r.stdout.strip() == "3"  # 1 is never given again


def test_bad_inputs_are_one_line_and_exit_2(demo_cache, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("these are words, not audio\n" * 10)
    noise_take(tmp_path / "mine.wav")
    assert_one_line(
        run(["takes", "demo", "import", str(text), "--at", "0"], demo_cache), 2, str(text), "not an audio file"
    )
    r = run(["takes", "demo", "import", str(tmp_path / "mine.wav"), "--at", "0:31"], demo_cache)
    assert_one_line(r, 2, "--at 0:31", "past the song's end")
    assert_one_line(run(["takes", "demo", "import", str(tmp_path / "mine.wav"), "--at", "x"], demo_cache), 2, "--at")
    assert_one_line(run(["takes", "demo", "rm", "4"], demo_cache), 2, "take 4: no such take")
    assert_one_line(run(["takes", "demo", "rename", "4", "x"], demo_cache), 2, "take 4: no such take")
    r = run(["export", "demo", "--solo", "take:4", "-o", str(tmp_path / "x.wav")], demo_cache)
    assert_one_line(r, 2, "take:4: no such take of this song")
    assert takes_json(demo_cache) == [] and not (tmp_path / "x.wav").exists()


def test_rm_keeps_takes_and_they_come_back_with_the_song(demo_cache, tmp_path, settings):
    stems = tmp_path / "stems"
    stems.mkdir()
    for name, f in (("drums", 200), ("bass", 100), ("vocals", 880)):
        t = np.arange(SR * 6) / SR
        sf.write(str(stems / f"{name}.wav"), (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32), SR)
    sid = run(["import", str(stems)], demo_cache).stdout.split()[1]
    noise_take(tmp_path / "mine.wav", seconds=1.0)
    assert run(["takes", sid, "import", str(tmp_path / "mine.wav"), "--at", "1"], demo_cache).returncode == 0
    r = run(["rm", sid], demo_cache)
    assert r.returncode == 0 and "kept its 1 take" in r.stdout, r.stdout
    folder = next((settings.data_dir / "takes").glob(f"{sid}*"))
    assert (folder / "1.flac").is_file()
    # The same audio again: the same song id, and its take is back.
    sid2 = run(["import", str(stems)], demo_cache).stdout.split()[1]
    assert sid2 == sid
    r = run(["takes", sid, "--json"], demo_cache)
    assert [t["start_s"] for t in json.loads(r.stdout)] == [1.0]
    r = run(["rm", sid, "--with-takes"], demo_cache)
    assert "removed its 1 take" in r.stdout and not folder.exists()


def test_a_take_killed_mid_recording_is_recovered_by_the_next_command(demo_cache, settings):
    takes = TakeStore(settings.data_dir)
    part = takes.begin(demo_id(), 3.0, SR, 2, reference="vocals")
    (np.ones((SR, 2), np.float32) * 0.25).tofile(part.audio)
    side = part.audio.with_name("1.part.json")
    side.write_text(json.dumps({**part.to_json(), "pid": 999999999}))
    r = run(["list"], demo_cache)
    assert r.returncode == 0
    assert f"take 1 of {demo_id()}: recovered 1.0 s of an interrupted recording" in r.stderr
    [t] = takes_json(demo_cache)
    assert (t["start_s"], t["duration_s"], t["channels"], t["reference"]) == (3.0, 1.0, 2, "vocals")
    assert not part.audio.exists() and not side.exists()


def test_an_import_on_a_full_data_dir_is_one_line_and_leaves_nothing(demo_cache, tmp_path, monkeypatch):
    big = tmp_path / "big.wav"
    noise_take(big, seconds=8.0, sr=SR)
    with tmpfs(tmp_path / "fulldata", size="1m") as data:
        monkeypatch.setenv("STEMTUI_DATA_DIR", str(data))
        filler = fill(data)
        r = run(["takes", "demo", "import", str(big), "--at", "0"], demo_cache)
        line = assert_one_line(r, 1, "no space left on device")
        assert str(data) in line and litter(data) == []
        assert not list(data.rglob("*.flac"))
        assert json.loads(run(["takes", "demo", "--json"], demo_cache).stdout) == []
        filler.unlink()
        assert run(["takes", "demo", "import", str(big), "--at", "0"], demo_cache).stdout.strip() == "1"


def placed(take: np.ndarray, frames: int, at: int) -> np.ndarray:
    out = np.zeros(frames, np.float32)
    n = min(take.shape[0], frames - at)
    out[at : at + n] = take[:n]
    return out


def test_export_with_a_take_has_it_at_its_time_and_solo_has_only_it(demo_cache, tmp_path, demo_store):
    original = noise_take(tmp_path / "mine.wav")  # at 48 kHz: resampled to the song's 44.1 kHz
    assert run(["takes", "demo", "import", str(tmp_path / "mine.wav"), "--at", "0:07.5"], demo_cache).returncode == 0
    [t] = takes_json(demo_cache)
    stored = sf.read(t["path"], dtype="float32")[0]
    song = demo_store.open(demo_store.get(demo_id()), block=True)
    at = round(AT * SR)

    out = tmp_path / "backing.wav"
    r = run(["export", "demo", "--mute", "vocals", "-o", str(out)], demo_cache)
    assert r.returncode == 0, r.stderr
    mix = sf.read(str(out), dtype="float32")[0].mean(axis=1)
    take_track = placed(stored, mix.shape[0], at)
    # The take is there, at --at: the mix correlates best with the take's first second at exactly that lag.
    xc = np.correlate(mix[at - 2000 : at + 2000 + SR], stored[:SR], mode="valid")
    assert int(np.argmax(xc)) == 2000, int(np.argmax(xc))
    # And the stored take is the imported one, resampled to the song's rate (24-bit: ~1e-7 apart).
    assert np.abs(stored - soxr.resample(original, 48000, SR, quality="HQ")).max() < 1e-5
    # What is left after taking out the take and the unmuted stems is (16-bit) rounding: no vocals.
    backing = sum(song.stem(n).mean(axis=1) for n in song.names if n != "vocals")
    rest = mix - take_track - backing[: mix.shape[0]]
    vocals = song.stem("vocals").mean(axis=1)[: mix.shape[0]]
    assert np.sqrt(np.mean(rest**2)) < 1e-3 < np.sqrt(np.mean(vocals**2))
    assert abs(np.dot(mix, vocals)) / np.dot(vocals, vocals) < 0.02  # no vocals in it
    assert abs(np.dot(mix, take_track) / np.dot(take_track, take_track) - 1.0) < 0.02  # the take at 0 dB

    solo = tmp_path / "solo.wav"
    r = run(["export", "demo", "--mute", "vocals", "--solo", "take:1", "-o", str(solo)], demo_cache)
    assert r.returncode == 0, r.stderr
    only = sf.read(str(solo), dtype="float32")[0]
    assert np.abs(only[:, 0] - only[:, 1]).max() == 0.0  # a mono take, on both sides
    assert np.abs(only[:, 0] - take_track[: only.shape[0]]).max() < 1e-4  # only the take, at its time
    assert np.abs(only[:at]).max() == 0.0

    quiet = tmp_path / "quiet.wav"
    r = run(["export", "demo", "--solo", "take:1", "--volume", "take:1=-6dB", "-o", str(quiet)], demo_cache)
    half = sf.read(str(quiet), dtype="float32")[0][:, 0]
    assert r.returncode == 0 and abs(np.dot(half, take_track) / np.dot(take_track, take_track) - 0.501) < 0.01


@pytest.mark.audio
def test_play_mutes_the_vocals_and_plays_the_take_at_its_time(pulse, demo_cache, tmp_path, settings):
    import subprocess
    import sys

    from tests.functional.test_play_audio import demo_stems, stem_weights, underruns

    noise_take(tmp_path / "mine.wav", seconds=3.0, sr=SR)
    assert run(["takes", "demo", "import", str(tmp_path / "mine.wav"), "--at", "0:10"], demo_cache).returncode == 0
    [t] = takes_json(demo_cache)
    stems = demo_stems(demo_cache)
    frames = next(iter(stems.values())).shape[0]
    take = placed(sf.read(t["path"], dtype="float32")[0], frames, 10 * SR)
    stems["take:1"] = np.stack([take, take], axis=1)
    env = {**pulse.env, "STEMTUI_CACHE_DIR": str(demo_cache), "STEMTUI_DATA_DIR": str(settings.data_dir)}
    argv = ["play", "demo", "--device", "pulse", "--duration", "8", "--mute", "vocals", "--from", "0:08"]
    with pulse.record() as rec:
        r = subprocess.run(
            [sys.executable, "-m", "stemtui", *argv], env=env, capture_output=True, text=True, timeout=60
        )
    assert r.returncode == 0 and underruns(r.stderr) == 0, r.stderr
    start = 8 * SR
    expected = sum(stems[n] for n in ("drums", "bass", "chords", "take:1"))[start : start + 7 * SR]
    w = stem_weights(rec.data, stems, expected, start)
    assert w["take:1"] == pytest.approx(1.0, abs=0.005) and abs(w["vocals"]) < 0.005, w
    assert all(w[n] == pytest.approx(1.0, abs=0.005) for n in ("drums", "bass", "chords")), w
