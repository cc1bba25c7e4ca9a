"""The store: atomic writes, content ids, damaged entries, progressive opening."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from stemtui.core.audio.song import Song, SongMeta
from stemtui.core.errors import BadInput, WriteFailed
from stemtui.core.library.catalog import demo_id, ensure_demo, import_path
from stemtui.core.library.stemfiles import CHUNK, write_stem
from stemtui.core.library.store import MANIFEST, Store
from tests.tmpfs import tmpfs

SR = 22050


def small_song(seconds: float = 2.0, seed: int = 0) -> Song:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    stems = {k: (rng.standard_normal((n, 2)) * 0.1).astype(np.float32) for k in ("vocals", "drums", "bass")}
    return Song.from_stems(stems, SR, SongMeta("Small Song", "Tester", source="test"))


def test_add_and_open_roundtrip(tmp_store):
    song = small_song()
    entry = tmp_store.add_song(song, "abc123")
    assert entry.ok and entry.stems == ["vocals", "drums", "bass"]
    assert entry.frames == song.frames and entry.sample_rate == SR
    assert entry.size_bytes == sum(entry.stem_path(n).stat().st_size for n in entry.stems)
    back = tmp_store.open(entry, block=True)
    assert back.load_error is None
    # 16-bit FLAC: within one quantization step of the original.
    np.testing.assert_allclose(back.data, song.data, atol=1.0 / 32767 + 1e-6)
    assert not list(tmp_store.tmp_dir.iterdir())


def test_flac_is_smaller_than_16bit_pcm(tmp_store):
    """A quiet, mostly silent stem (like a separated vocal) compresses well."""
    n = SR * 4
    t = np.arange(n) / SR
    voice = (0.2 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)).astype(np.float32)
    song = Song.from_stems({"vocals": voice}, SR, SongMeta("v"))
    entry = tmp_store.add_song(song, "v1")
    assert entry.size_bytes < 0.6 * n * 2 * 2


def test_cache_hit_returns_existing(tmp_store):
    e1 = tmp_store.add_song(small_song(), "same")
    created = e1.created
    e2 = tmp_store.add_song(small_song(seed=9), "same")
    assert e2.created == created and e2.path == e1.path


def test_progressive_open_publishes_first_chunk(tmp_store):
    song = small_song(seconds=30)
    entry = tmp_store.add_song(song, "long")
    opened = tmp_store.open(entry)
    opened.complete.wait(10)
    assert opened.available == song.frames
    np.testing.assert_allclose(opened.data[:, :CHUNK], song.data[:, :CHUNK], atol=1e-4)


def test_truncated_stem_is_damaged_not_fatal(tmp_store):
    entry = tmp_store.add_song(small_song(), "trunc")
    p = entry.stem_path("drums")
    with open(p, "r+b") as fh:
        fh.truncate(p.stat().st_size // 2)
    e = tmp_store.get("trunc")
    assert e.state == "damaged" and "drums" in e.reason
    assert [x.state for x in tmp_store.entries()] == ["damaged"]
    with pytest.raises(BadInput, match="damaged"):
        tmp_store.resolve("trunc")
    tmp_store.remove(tmp_store.resolve("trunc", allow_damaged=True))
    assert tmp_store.entries() == []


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", json.dumps({"schema": 1, "stems": "x", "frames": "many"})])
def test_bad_manifest_is_damaged(tmp_store, content):
    entry = tmp_store.add_song(small_song(), "badman")
    (entry.path / "manifest.json").write_text(content)
    e = tmp_store.get("badman")
    assert e.state == "damaged"


def test_old_schema_is_reported(tmp_store):
    entry = tmp_store.add_song(small_song(), "old")
    m = json.loads((entry.path / "manifest.json").read_text())
    m["schema"] = 0
    (entry.path / "manifest.json").write_text(json.dumps(m))
    e = tmp_store.get("old")
    assert e.state == "old" and "schema" in e.reason


def test_stale_tmp_dirs_are_swept(tmp_path):
    store = Store(tmp_path / "c")
    dead = store.tmp_dir / "abc.999999.deadbeef"  # a pid that does not exist
    dead.mkdir()
    (dead / "vocals.flac").write_bytes(b"half")
    alive = store.tmp_dir / f"abc.{os.getppid()}.cafe"
    alive.mkdir()
    Store(tmp_path / "c")
    assert not dead.exists() and alive.exists()


def test_resolve_by_prefix_and_title(tmp_store):
    tmp_store.add_song(small_song(), "aaaa1111")
    s2 = small_song(seed=2)
    s2.meta = SongMeta("Another Tune")
    tmp_store.add_song(s2, "aaaa2222")
    assert tmp_store.resolve("aaaa2").id == "aaaa2222"
    assert tmp_store.resolve("another").id == "aaaa2222"
    with pytest.raises(BadInput, match="matches 2 songs"):
        tmp_store.resolve("aaaa")


def test_demo_on_first_run_and_after_rm(tmp_store):
    e = ensure_demo(tmp_store)
    assert e.id == demo_id() and e.stems == ["vocals", "drums", "bass", "chords"]
    tmp_store.remove(e)
    assert ensure_demo(tmp_store) is None  # a removed demo stays removed
    assert ensure_demo(tmp_store, force=True).ok


def test_import_folder_is_content_addressed(tmp_store, tmp_path):
    import soundfile as sf

    song = small_song()
    folder = tmp_path / "stems"
    folder.mkdir()
    for i, n in enumerate(song.names):
        sf.write(folder / f"{n}.wav", song.data[i], SR)
    e1, new1 = import_path(tmp_store, folder)
    renamed = tmp_path / "renamed"
    folder.rename(renamed)
    e2, new2 = import_path(tmp_store, renamed)
    assert new1 and not new2 and e1.id == e2.id
    assert set(e1.stems) == {"vocals", "drums", "bass"}


def test_a_removal_left_half_done_is_swept(tmp_path):
    store = Store(tmp_path / "c")
    trash = store.tmp_dir / "trash.0.0badf00d"  # a removal killed between its rename and its rmtree
    (trash / "x").mkdir(parents=True)
    Store(tmp_path / "c")
    assert not trash.exists()


# -- write failures on real small disks ---------------------------------------------------
def _fill(folder) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    chunk = 1 << 16
    try:
        while chunk:
            try:
                os.write(fd, b"\0" * chunk)
            except OSError:
                chunk //= 2
    finally:
        os.close(fd)


def test_a_full_disk_fails_add_song_in_one_line_and_leaves_no_temp(tmp_path):
    with tmpfs(tmp_path / "c", size="1m") as root:
        store = Store(root)
        with pytest.raises(WriteFailed, match=r"\.flac: cannot write: no space left on device$"):
            store.add_song(small_song(5.0), "big")  # 3 noise stems of 5 s: ~2.6 MB of FLAC
        assert list(store.tmp_dir.iterdir()) == [] and list(store.songs_dir.iterdir()) == []


def test_a_full_disk_fails_the_manifest_in_one_line_and_removes_the_temp(tmp_path):
    with tmpfs(tmp_path / "c", size="1m") as root:
        store = Store(root)
        song = small_song(0.2)
        tmp = store.new_tmp("s1")
        for i, name in enumerate(song.names):
            write_stem(tmp / f"{name}.flac", song.data[i], SR)
        _fill(root)
        with pytest.raises(WriteFailed) as err:
            store.commit(tmp, "s1", song.names, song.frames, SR, song.meta)
        assert str(err.value) == f"{tmp / MANIFEST}: cannot write: no space left on device"
        assert not tmp.exists() and store.entries() == []


def test_a_read_only_cache_is_bad_input(tmp_path):
    with tmpfs(tmp_path / "ro", read_only=True) as ro:
        with pytest.raises(BadInput, match=r"/songs: cannot write: read-only file system$"):
            Store(ro)
