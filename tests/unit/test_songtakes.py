"""Extra tracks in a song (takes in the mix): placement, progressive songs, and a real mixer on them."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import soundfile as sf

from stemtui.core.audio.mixer import Mixer
from stemtui.core.audio.song import Song, SongMeta
from stemtui.core.audio.songtakes import with_tracks
from stemtui.core.takes.takemix import song_with_takes, take_id_of
from stemtui.core.takes.takestore import TakeStore

SR = 8000


def song(frames: int = 4 * SR, names=("vocals", "drums")) -> Song:
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((len(names), frames, 2)) * 0.1).astype(np.float32)
    return Song(list(names), data, SR, SongMeta("t"), "0123456789abcdef")


def test_tracks_are_placed_padded_made_stereo_and_cut_at_the_end():
    base = song()
    mono = np.linspace(-0.5, 0.5, 2 * SR, dtype=np.float32)
    stereo = np.stack([mono, -mono], axis=1)
    out = with_tracks(base, [("take:1", mono, SR), ("take:2", stereo, 3 * SR), ("take:3", mono, -SR)], {"take:1": "a"})
    assert out.names == ["vocals", "drums", "take:1", "take:2", "take:3"] and out.frames == base.frames
    assert out.label("take:1") == "a" and out.label("take:2") == "take:2" and out.id == base.id
    assert np.array_equal(out.data[:2], base.data) and out.complete.is_set() and out.available == out.frames
    one = out.stem("take:1")
    assert np.all(one[:SR] == 0) and np.array_equal(one[SR : 3 * SR, 0], mono) and np.array_equal(one[:, 0], one[:, 1])
    assert np.all(one[3 * SR :] == 0)
    two = out.stem("take:2")
    assert np.array_equal(two[3 * SR :], stereo[:SR])  # cut at the song's end
    three = out.stem("take:3")
    assert np.array_equal(three[:SR, 0], mono[SR:]) and np.all(three[SR:] == 0)  # started before 0: its head cut
    assert with_tracks(base, []) is base
    with pytest.raises(ValueError, match="already taken"):
        with_tracks(base, [("Vocals", mono, 0)])


def test_a_song_still_filling_in_stays_progressive():
    full = song()
    filling = Song(full.names, np.zeros_like(full.data), SR, full.meta, full.id, available=0)
    out = with_tracks(filling, [("take:1", np.ones(SR, np.float32) * 0.5, 0)])
    assert out.available == 0 and not out.complete.is_set()

    def fill() -> None:
        for s in range(0, full.frames, SR // 2):
            filling.write(s, full.data[:, s : s + SR // 2])
            time.sleep(0.01)

    threading.Thread(target=fill).start()
    assert out.complete.wait(10)
    assert out.load_error is None and out.available == out.frames
    assert np.array_equal(out.data[:2], full.data) and np.all(out.stem("take:1")[:SR] == 0.5)


def test_a_load_error_of_the_song_carries_over():
    filling = Song(["vocals"], np.zeros((1, SR, 2), np.float32), SR, SongMeta("t"), available=0)
    out = with_tracks(filling, [("take:1", np.ones(10, np.float32), 0)])
    filling.load_error = "damaged entry (boom)"
    filling.complete.set()
    assert out.complete.wait(5) and out.load_error == "damaged entry (boom)"


def test_takes_mix_like_stems_and_a_broken_take_is_left_out(tmp_path):
    base = song()
    store = TakeStore(tmp_path)
    src = tmp_path / "t.wav"
    sf.write(str(src), np.full(SR, 0.25, np.float32), SR)
    store.import_file(base.id, src, 1.0, SR, base.frames, name="mine")
    bad = store.import_file(base.id, src, 2.0, SR, base.frames)
    bad.path.write_bytes(b"fLaC but not really")
    out, problems = song_with_takes(base, store)
    assert out.names == ["vocals", "drums", "take:1"] and out.label("take:1") == "mine"
    assert len(problems) == 1 and "take 2 unreadable" in problems[0] and "left out of the mix" in problems[0]
    assert take_id_of("take:1") == "1" and take_id_of("vocals") is None
    # The real mixer: solo the take and only it plays, from its song time, at 0 dB.
    mixer = Mixer(out)
    mixer.set_solo(out.index("take:1"), True)
    mixer.start_at(0, playing=True)
    buf = np.zeros((512, 2), np.float32)
    got = []
    for _ in range(3 * SR // 512):
        mixer.process(buf)
        got.append(buf.copy())
    heard = np.concatenate(got)
    assert np.abs(heard[: SR - 512]).max() == 0.0
    assert np.allclose(heard[SR + 512 : 2 * SR - 512], 0.25, atol=1e-4)
