"""The song map cache: per song and analysis version, atomic, and a damaged or old file is recomputed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stemtui.core.analysis.mapcache import SongMapCache
from stemtui.core.analysis.songmap import ANALYSIS_VERSION, BassNote, SongMap, Span
from stemtui.core.procs.protocol import package_env

MAP = SongMap(
    bpm=96.0,
    key="A:min",
    sections=(Span(0.0, 10.0, "A"), Span(10.0, 20.0, "B")),
    chords=(Span(0.0, 2.5, "A:min"), Span(2.5, 20.0, "F:maj")),
    bass_notes=(BassNote(0.2, 0.6, 33),),
    duration=20.0,
)


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> SongMap:
        self.calls += 1
        return MAP


def test_a_saved_map_is_read_back_without_recomputing(tmp_path):
    cache = SongMapCache(tmp_path)
    compute = Counter()
    assert cache.get("song1", compute) == (MAP, None)
    assert cache.path("song1") == tmp_path / "analysis" / "song1.json"
    assert SongMapCache(tmp_path).get("song1", compute) == (MAP, None)
    assert compute.calls == 1
    assert cache.get("song1", compute, force=True)[0] == MAP and compute.calls == 2
    assert [p.name for p in (tmp_path / "analysis").iterdir()] == ["song1.json"]  # no temp file left


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda p: p.write_bytes(b'{"schema": 1, "song": "song1", "map": {"vers'), "not valid JSON"),
        (lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), "not valid JSON"),
        (lambda p: p.write_text("[1, 2]"), "not a song map"),
        (lambda p: _edit(p, lambda d: d["map"].update(version=ANALYSIS_VERSION - 1)), "analysis version 0"),
        (lambda p: _edit(p, lambda d: d["map"].update(chords=[{"start": "x"}])), "damaged"),
        (lambda p: _edit(p, lambda d: d.update(song="other")), "not a song map of this song"),
    ],
)
def test_a_damaged_or_old_cache_is_recomputed_never_a_crash(tmp_path, damage, why):
    cache = SongMapCache(tmp_path)
    cache.save("song1", MAP)
    damage(cache.path("song1"))
    compute = Counter()
    got, message = cache.get("song1", compute)
    assert got == MAP and compute.calls == 1
    assert message is not None and why in message and "\n" not in message
    assert cache.load("song1") == (MAP, None)  # and the fresh one was saved


def _edit(path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_a_failed_save_leaves_the_old_file_whole(tmp_path):
    # A file-size limit makes the write fail for real (as root too): EFBIG.
    cache = SongMapCache(tmp_path)
    cache.save("song1", MAP)
    before = cache.path("song1").read_bytes()
    big = SongMap(chords=tuple(Span(i, i + 1, "C:maj") for i in range(2000)), duration=2000.0)
    code = f"""
import resource, signal, sys
from stemtui.core.analysis.mapcache import SongMapCache
from stemtui.core.analysis.songmap import SongMap
import json
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    SongMapCache({str(tmp_path)!r}).save("song1", SongMap.from_json(json.loads(sys.stdin.read())))
except Exception as exc:
    print(type(exc).__name__, exc)
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(big.to_json()),
        capture_output=True,
        text=True,
        timeout=60,
        env=package_env(),
    )
    assert out.stdout.startswith("WriteFailed ") and "song1.json: cannot write: file too large" in out.stdout, out
    assert cache.path("song1").read_bytes() == before
    assert [p.name for p in (tmp_path / "analysis").iterdir()] == ["song1.json"]


def test_temp_files_of_dead_writers_are_swept(tmp_path):
    folder = tmp_path / "analysis"
    folder.mkdir()
    dead = folder / ".song1.json.999999999.0123abcd.tmp"
    dead.write_text("{")
    SongMapCache(tmp_path)
    assert not dead.exists()


def test_song_ids_cannot_escape_the_folder(tmp_path):
    with pytest.raises(ValueError):
        SongMapCache(tmp_path).path("../evil")
