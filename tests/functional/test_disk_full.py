"""A full disk everywhere: a small real tmpfs as the cache or the data dir (as root, else skipped).

``separate``, ``import``, ``export`` and ``list`` through the real CLI, and
practice-state saves in the real store and the real player: one line
naming the path and the reason, no traceback, nothing half-written (no
temp entry folders, no ``.part``/``.tmp`` files), and what was there before
intact and readable afterwards. ``list`` still lists on a full disk.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemtui.core.errors import BadInput, WriteFailed
from stemtui.core.library.catalog import demo_id
from stemtui.core.library.practice import PracticeState, PracticeStore, StemMix
from stemtui.core.library.store import Store
from stemtui.ui.practice_keeper import PracticeKeeper
from tests.functional.test_bad_inputs import assert_one_line, run
from tests.functional.test_ui_player import run as run_app
from tests.functional.test_ui_support import make_app, open_demo, settle, wait_for
from tests.tmpfs import tmpfs

NOSPACE = "cannot write: no space left on device"


def fill(folder: Path) -> Path:
    """Fill the file system under ``folder`` to the last byte; returns the filler (delete it to free the disk)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        chunk = 1 << 16
        while chunk:
            try:
                os.write(fd, b"\0" * chunk)
            except OSError:
                chunk //= 2
    finally:
        os.close(fd)
    assert os.statvfs(folder).f_bavail == 0
    return filler


def litter(root: Path) -> list[str]:
    """Temp entry folders, part and tmp files anywhere under ``root``."""
    out = [str(p) for p in (root / "tmp").iterdir()] if (root / "tmp").is_dir() else []
    out += [str(p) for p in root.rglob("*") if p.name.endswith((".part", ".tmp"))]
    return out


def stems_folder(where: Path, seconds: float, seed: int = 0) -> Path:
    """Four noise stems (noise does not compress: 16-bit FLAC of S s stereo is ~176 kB per second)."""
    where.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for name in ("vocals", "drums", "bass", "other"):
        sf.write(where / f"{name}.wav", (rng.standard_normal((int(44100 * seconds), 2)) * 0.1).astype("float32"), 44100)
    return where


def song_ids(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "songs").iterdir())


@pytest.fixture
def small_cache(tmp_path):
    with tmpfs(tmp_path / "cache", size="3m") as cache:
        yield cache


# -- list -------------------------------------------------------------------------------
def test_list_on_a_full_fresh_cache_lists_and_says_the_demo_is_missing(small_cache):
    fill(small_cache)
    r = run(["list"], small_cache)
    line = assert_one_line(r, 0, "the demo song could not be installed", NOSPACE)
    assert str(small_cache) in line
    assert "library is empty" in r.stdout
    assert litter(small_cache) == [] and song_ids(small_cache) == []


def test_list_on_a_full_cache_still_shows_its_songs(small_cache, tmp_path):
    r = run(["import", str(stems_folder(tmp_path / "short", 0.5)), "--title", "Short One"], small_cache)
    assert r.returncode == 0, r.stderr
    (small_cache / ".demo-installed").unlink(missing_ok=True)  # as if the demo never fit
    fill(small_cache)
    r = run(["list", "--json"], small_cache)
    assert_one_line(r, 0, "the demo song could not be installed", NOSPACE)
    listed = json.loads(r.stdout)
    assert [e["title"] for e in listed] == ["Short One"] and listed[0]["state"] == "complete"
    assert litter(small_cache) == []


# -- import, export, separate -------------------------------------------------------------
def test_import_on_a_full_disk_is_one_line_and_the_store_stays_whole(small_cache, tmp_path):
    r = run(["import", str(stems_folder(tmp_path / "short", 0.5, seed=1))], small_cache)
    assert r.returncode == 0, r.stderr
    before = song_ids(small_cache)
    # 4 stems of 5 s of noise (~3.5 MB of FLAC) cannot fit in what is left of 3 MB.
    r = run(["import", str(stems_folder(tmp_path / "long", 5.0, seed=2))], small_cache)
    line = assert_one_line(r, 1, NOSPACE)
    assert line.startswith(f"stemtui: {small_cache}/")
    assert litter(small_cache) == [] and song_ids(small_cache) == before
    assert all(e.ok for e in Store(small_cache).entries())
    r = run(["list"], small_cache)  # still readable
    assert r.returncode == 0 and "complete" in r.stdout


def test_export_of_a_folder_into_a_full_cache_is_one_line(small_cache, tmp_path):
    fill(small_cache)
    out = tmp_path / "mix.wav"
    r = run(["export", str(stems_folder(tmp_path / "long", 2.0)), "-o", str(out)], small_cache)
    assert_one_line(r, 1, NOSPACE, str(small_cache))
    assert not out.exists() and litter(small_cache) == [] and song_ids(small_cache) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_separate_on_a_full_disk_is_one_line_and_stores_nothing(small_cache, tmp_path):
    song = tmp_path / "song.wav"
    sf.write(song, (np.random.default_rng(3).standard_normal((441000, 2)) * 0.1).astype("float32"), 44100)
    fill(small_cache)
    r = run(["separate", str(song), "-n", "demucs_unittest"], small_cache)
    assert r.returncode in (1, 2), r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(small_cache) in lines[0], r.stderr
    assert litter(small_cache) == [] and [s for s in song_ids(small_cache) if s != demo_id()] == []


# -- practice state -----------------------------------------------------------------------
def test_a_practice_save_on_a_full_disk_keeps_the_old_file(tmp_path):
    with tmpfs(tmp_path / "data", size="1m") as data:
        states = PracticeStore(data)
        first = PracticeState(stems={"vocals": StemMix(mute=True)})
        path = states.save("song1", first)
        before = path.read_bytes()
        filler = fill(data)
        with pytest.raises(WriteFailed) as err:
            states.save("song1", PracticeState(stems={"drums": StemMix(solo=True)}, tempo=0.8))
        assert str(err.value) == f"{path}: {NOSPACE}"
        assert path.read_bytes() == before and litter(data) == []
        state, message = states.load("song1", ["vocals", "drums"])
        assert message is None and state.stems["vocals"].mute and state.tempo == 1.0
        filler.unlink()
        states.save("song1", PracticeState(tempo=0.8))
        assert states.load("song1", ["vocals"])[0].tempo == 0.8


def test_a_practice_save_on_a_read_only_disk_is_bad_input(tmp_path):
    with tmpfs(tmp_path / "ro", read_only=True) as ro:
        with pytest.raises(BadInput) as err:
            PracticeStore(ro).save("song1", PracticeState())
        assert "cannot write: read-only file system" in str(err.value)


def test_the_player_tells_a_failed_save_once_and_goes_on(demo_store, null_engine, settings):
    with tmpfs(settings.data_dir, size="1m") as data:
        app = make_app(demo_store, null_engine, settings, autoplay=False)
        path = PracticeStore(data).path(demo_id())

        async def scenario(pilot):
            player = await open_demo(pilot)
            await settle(pilot, player)
            await pilot.press("1")  # mute the vocals: saved after the pause
            await wait_for(pilot, path.exists, timeout=10, what="the first save")
            before = path.read_bytes()
            filler = fill(data)
            for key in ("2", "3", "2"):  # three changes, each saved (and failing) after its pause
                await pilot.press(key)
                await pilot.pause(PracticeKeeper.DELAY + 0.8)
            told = [(s, m) for s, m in app.messages if "practice state" in m]
            assert told == [("error", f"could not save the practice state: {path}: {NOSPACE}")], told
            assert path.read_bytes() == before and litter(data) == []
            assert list(player.mixer.mute) == [True, False, True, False]  # the UI went on: every change is in the mix
            filler.unlink()
            await pilot.press("4")
            await wait_for(pilot, lambda: path.read_bytes() != before, timeout=10, what="a save after the disk freed")
            with contextlib.suppress(Exception):
                await pilot.press("q")

        run_app(app, scenario)
