"""The take store: manifest, ids, damaged files, recovery of a killed recording, a full disk.

Real files under the test's data dir, real FLAC, a real child process
killed with SIGKILL mid-take, a real full tmpfs; nothing mocked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemtui.core.errors import BadInput, WriteFailed
from stemtui.core.library.safeio import pid_alive
from stemtui.core.takes.takestore import PartInfo, TakeStore
from tests.functional.test_disk_full import fill, litter
from tests.tmpfs import tmpfs

SID = "0123456789abcdef"
SR = 48000
SONG_FRAMES = 10 * SR


def tone(seconds: float, sr: int, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def wav(path: Path, data: np.ndarray, sr: int) -> Path:
    sf.write(str(path), data, sr, subtype="FLOAT")
    return path


@pytest.fixture
def takes(settings) -> TakeStore:
    return TakeStore(settings.data_dir)


def test_an_import_is_stored_as_24_bit_flac_at_the_song_rate(takes, tmp_path):
    src = wav(tmp_path / "mine.wav", tone(1.0, 44100), 44100)
    take = takes.import_file(SID, src, 2.5, SR, SONG_FRAMES, name="my try")
    assert (take.id, take.name, take.start_s, take.channels, take.sample_rate) == ("1", "my try", 2.5, 1, SR)
    assert take.path == takes.root / "takes" / SID / "1.flac"
    info = sf.info(str(take.path))
    assert (info.format, info.subtype, info.samplerate) == ("FLAC", "PCM_24", SR)
    assert abs(take.frames - SR) <= 2 and info.frames == take.frames
    audio = takes.read(take)
    assert audio.shape == (take.frames, 1)
    # The same tone, resampled: a 440 Hz peak.
    spec = np.abs(np.fft.rfft(audio[:, 0]))
    assert abs(np.argmax(spec) * SR / take.frames - 440.0) < 2.0
    manifest = json.loads((takes.root / "takes" / SID / "takes.json").read_text())
    assert manifest["schema"] == 1 and manifest["takes"][0]["start_s"] == 2.5
    assert takes.takes(SID) == [take] and takes.get(SID, "1") == take


def test_ids_count_up_and_are_never_reused(takes, tmp_path):
    src = wav(tmp_path / "a.wav", tone(0.2, SR), SR)
    ids = [takes.import_file(SID, src, 0.0, SR, SONG_FRAMES).id for _ in range(3)]
    assert ids == ["1", "2", "3"]
    takes.remove(SID, "3")
    takes.remove(SID, "1")
    assert [t.id for t in takes.takes(SID)] == ["2"]
    assert not (takes.root / "takes" / SID / "3.flac").exists()
    assert takes.import_file(SID, src, 0.0, SR, SONG_FRAMES).id == "4"
    part = takes.begin(SID, 1.0, SR, 1)
    assert part.id == "5"
    takes.discard(part)
    assert takes.import_file(SID, src, 0.0, SR, SONG_FRAMES).id == "6"
    assert [t.name for t in takes.takes(SID)] == ["take 2", "take 4", "take 6"]


def test_rename_and_unknown_ids(takes, tmp_path):
    takes.import_file(SID, wav(tmp_path / "a.wav", tone(0.2, SR), SR), 1.0, SR, SONG_FRAMES)
    assert takes.rename(SID, "1", "  chorus try ").name == "chorus try"
    assert takes.get(SID, "1").name == "chorus try"
    for call in (lambda: takes.get(SID, "9"), lambda: takes.remove(SID, "9"), lambda: takes.rename(SID, "9", "x")):
        with pytest.raises(BadInput, match="take 9: no such take"):
            call()
    with pytest.raises(BadInput, match="cannot be empty"):
        takes.rename(SID, "1", "  ")
    with pytest.raises(BadInput, match="no such take"):
        takes.get("fedcba9876543210", "1")


def test_bad_imports_are_one_line_bad_input(takes, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 20)
    with pytest.raises(BadInput, match="not an audio file"):
        takes.import_file(SID, text, 0.0, SR, SONG_FRAMES)
    with pytest.raises(BadInput, match="no such file"):
        takes.import_file(SID, tmp_path / "nope.wav", 0.0, SR, SONG_FRAMES)
    src = wav(tmp_path / "a.wav", tone(0.2, SR), SR)
    with pytest.raises(BadInput, match=r"--at 10\.0: past the song's end \(10\.00 s\)"):
        takes.import_file(SID, src, 10.0, SR, SONG_FRAMES)
    with pytest.raises(BadInput, match="--at -1"):
        takes.import_file(SID, src, -1.0, SR, SONG_FRAMES)
    assert takes.takes(SID) == []
    assert not (takes.root / "takes" / SID / "1.flac").exists()


def test_nan_in_an_import_becomes_silence_with_a_warning(takes, tmp_path, caplog):
    x = tone(0.5, SR)
    x[100:200] = np.nan
    take = takes.import_file(SID, wav(tmp_path / "nan.wav", x, SR), 0.0, SR, SONG_FRAMES)
    audio = takes.read(take)
    assert np.isfinite(audio).all() and np.all(audio[100:200] == 0.0)
    assert "100 non-finite samples" in caplog.text


def test_a_damaged_manifest_is_reported_and_the_takes_still_list(takes, tmp_path):
    src = wav(tmp_path / "a.wav", tone(0.3, SR, channels=2), SR)
    takes.import_file(SID, src, 1.0, SR, SONG_FRAMES)
    takes.import_file(SID, src, 2.0, SR, SONG_FRAMES)
    manifest = takes.root / "takes" / SID / "takes.json"
    manifest.write_bytes(b'{"schema": 1, "takes": [{"id": "1", "na')
    listed, problems = takes.listing(SID)
    assert [t.id for t in listed] == ["1", "2"] and all(t.start_s == 0.0 and t.channels == 2 for t in listed)
    assert len(problems) == 1 and "not valid JSON" in problems[0] and str(manifest) in problems[0]
    # The next change keeps the damaged file aside and writes a good one; no id is reused.
    assert takes.import_file(SID, src, 0.5, SR, SONG_FRAMES).id == "3"
    assert (manifest.parent / "takes.json.bad").exists()
    assert takes.listing(SID)[1] == [] and [t.id for t in takes.takes(SID)] == ["1", "2", "3"]


def test_a_bad_entry_is_skipped_and_a_missing_audio_file_reported(takes, tmp_path, caplog):
    src = wav(tmp_path / "a.wav", tone(0.3, SR), SR)
    for at in (1.0, 2.0, 3.0):
        takes.import_file(SID, src, at, SR, SONG_FRAMES)
    manifest = takes.root / "takes" / SID / "takes.json"
    data = json.loads(manifest.read_text())
    data["takes"][0]["frames"] = "many"
    manifest.write_text(json.dumps(data))
    (manifest.parent / "3.flac").unlink()
    listed, problems = takes.listing(SID)
    # Take 1's entry is unusable: listed from its audio file, at 0:00.
    assert [(t.id, t.start_s) for t in listed] == [("1", 0.0), ("2", 2.0)]
    assert len(problems) == 2
    assert "take '1': damaged entry" in problems[0]
    assert "take 3 (take 3): audio file missing" in problems[1]
    assert "audio file missing" in caplog.text
    with pytest.raises(BadInput):
        takes.get(SID, "3")
    takes.remove(SID, "3")  # the dangling entry can still be removed; the rewrite repairs take 1's
    listed, problems = takes.listing(SID)
    assert problems == [] and [(t.id, t.start_s) for t in listed] == [("1", 0.0), ("2", 2.0)]
    (manifest.parent / "4.flac").write_bytes((manifest.parent / "2.flac").read_bytes())
    listed, problems = takes.listing(SID)
    assert [t.id for t in listed] == ["1", "2", "4"] and "take 4 had no entry" in problems[0]


def test_a_newer_manifest_is_not_overwritten(takes, tmp_path):
    folder = takes.root / "takes" / SID
    folder.mkdir(parents=True)
    (folder / "takes.json").write_text(json.dumps({"schema": 99, "takes": []}))
    listed, problems = takes.listing(SID)
    assert listed == [] and "schema 99" in problems[0]
    with pytest.raises(BadInput, match="newer stemtui"):
        takes.import_file(SID, wav(tmp_path / "a.wav", tone(0.2, SR), SR), 0.0, SR, SONG_FRAMES)
    assert json.loads((folder / "takes.json").read_text())["schema"] == 99


def test_begin_and_finish_a_recording(takes):
    part = takes.begin(SID, 3.0, SR, 2, reference="vocals")
    side = json.loads((part.audio.parent / "1.part.json").read_text())
    assert PartInfo.from_json(side) == part and part.pid == os.getpid() and part.audio.stat().st_size == 0
    x = tone(0.5, SR, channels=2)
    with open(part.audio, "ab") as fh:
        fh.write(x.tobytes())
    take = takes.finish(part, start_s=2.95, name="verse")
    assert (take.id, take.start_s, take.frames, take.reference, take.name) == ("1", 2.95, x.shape[0], "vocals", "verse")
    assert np.abs(takes.read(take) - x).max() < 1e-6  # 24-bit
    assert sorted(p.name for p in part.audio.parent.iterdir()) == [".lock", "1.flac", "takes.json"]
    empty = takes.begin(SID, 0.0, SR, 1)
    with pytest.raises(BadInput, match="nothing was recorded"):
        takes.finish(empty)
    assert not empty.audio.exists() and [t.id for t in takes.takes(SID)] == ["1"]


def test_frames_before_song_time_0_are_trimmed_not_shifted(takes):
    # Frame k holds k / n: which frames were kept shows in the audio itself.
    n = SR // 2
    x = np.repeat((np.arange(n, dtype=np.float32) / n)[:, None], 2, axis=1)
    part = takes.begin(SID, 0.0, SR, 2)
    with open(part.audio, "ab") as fh:
        fh.write(x.tobytes())
    take = takes.finish(part, start_s=-0.01)  # the input's first 10 ms precede the song
    skip = round(0.01 * SR)
    assert take.start_s == 0.0 and take.frames == n - skip
    audio = takes.read(take)
    # Frame j of the take is frame skip + j of the recording: still at song time j / SR.
    assert np.abs(audio - x[skip:]).max() < 1e-6
    early = takes.begin(SID, 0.0, SR, 1)
    with open(early.audio, "ab") as fh:
        fh.write(np.zeros(100, np.float32).tobytes())
    with pytest.raises(BadInput, match="nothing was recorded after the song's start"):
        takes.finish(early, start_s=-1.0)  # all of it before the song
    assert not early.audio.exists() and [t.id for t in takes.takes(SID)] == [take.id]


CHILD = r"""
import sys, time
import numpy as np
from stemtui.core.takes.takestore import TakeStore
store = TakeStore(sys.argv[1])
part = store.begin(sys.argv[2], 4.0, 8000, 2, reference="vocals")
t = np.arange(8000 * 3) / 8000
x = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t)], axis=1).astype(np.float32)
with open(part.audio, "ab", buffering=0) as fh:
    fh.write(x.tobytes())
    fh.write(x[:1, :1].tobytes())  # half a frame: the kill comes mid-frame
    print("written", flush=True)
    time.sleep(60)
"""


def test_a_recording_killed_mid_take_is_recovered_up_to_its_last_whole_frame(takes):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(takes.root), SID], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "written"
        folder = takes.root / "takes" / SID
        assert takes.recover() == []  # its writer is alive: left alone
        assert (folder / "1.part.f32").exists()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert not pid_alive(child.pid)
    lines = takes.recover()
    assert lines == [f"take 1 of {SID}: recovered 3.0 s of an interrupted recording"]
    take = takes.get(SID, "1")
    assert (take.frames, take.channels, take.sample_rate, take.start_s, take.reference) == (
        24000,
        2,
        8000,
        4.0,
        "vocals",
    )
    audio = takes.read(take)
    t = np.arange(24000) / 8000
    assert np.abs(audio[:, 1] - 0.3 * np.sin(2 * np.pi * 330 * t)).max() < 1e-5
    assert not list(folder.glob("*.part.*")) and takes.recover() == []
    assert takes.import_file(SID, take.path, 0.0, 8000, 80000).id == "2"


def test_an_empty_or_damaged_part_of_a_dead_process_is_removed(takes):
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(child.stdout)
    folder = takes.root / "takes" / SID
    for _ in range(2):
        part = takes.begin(SID, 0.0, SR, 1)
        side = folder / f"{part.id}.part.json"
        side.write_text(json.dumps({**part.to_json(), "pid": dead}))
    (folder / "2.part.json").write_text("{broken")
    lines = takes.recover(SID)
    assert lines == [
        f"take 1 of {SID}: interrupted before any audio was recorded: removed",
        f"take 2 of {SID}: interrupted recording with a damaged sidecar: removed",
    ]
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "takes.json"]
    assert takes.takes(SID) == []


def test_finishing_a_take_on_a_full_disk_is_one_line_and_stores_nothing(tmp_path):
    with tmpfs(tmp_path / "data", size="1m") as data:
        store = TakeStore(data)
        store.import_file(SID, wav(tmp_path / "a.wav", tone(0.1, SR), SR), 0.0, SR, SONG_FRAMES)
        manifest = data / "takes" / SID / "takes.json"
        before = manifest.read_bytes()
        part = store.begin(SID, 1.0, SR, 1)
        noise = np.random.default_rng(1).standard_normal(SR * 2).astype(np.float32) * 0.3
        noise.tofile(part.audio)
        # As if its recorder had died: the next start's recovery tries it too.
        (part.audio.parent / "2.part.json").write_text(json.dumps({**part.to_json(), "pid": 999999999}))
        filler = fill(data)
        with pytest.raises(WriteFailed) as err:
            store.finish(part)
        assert str(err.value) == f"{data / 'takes' / SID / '2.flac'}: cannot write: no space left on device"
        big = wav(tmp_path / "big.wav", noise[:, None], SR)
        with pytest.raises(WriteFailed, match="no space left on device"):
            store.import_file(SID, big, 0.0, SR, SONG_FRAMES)
        assert litter(data) == [] and not (data / "takes" / SID / "2.flac").exists()
        assert json.loads(manifest.read_bytes())["takes"] == json.loads(before)["takes"]
        assert [t.id for t in store.takes(SID)] == ["1"]
        [line] = store.recover()
        assert line.startswith(f"take 2 of {SID}: interrupted recording not recovered (") and "no space left" in line
        assert line.endswith(": kept for the next start") and part.audio.stat().st_size == noise.nbytes
        filler.unlink()
        # The recording was kept: the next start recovers it.
        assert store.recover() == [f"take 2 of {SID}: recovered 2.0 s of an interrupted recording"]
