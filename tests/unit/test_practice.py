"""Saved practice state: the file, its atomic writes, bad files, and the mixer side.

Real files under the test's data dir (``practice_store``, tests/conftest.py), a real
Mixer on a silent song; nothing mocked.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from stemtui.core.audio.mixer import Mixer, db_to_gain
from stemtui.core.audio.song import Song, SongMeta
from stemtui.core.library.practice import (
    SCHEMA,
    ActiveLoop,
    NamedLoop,
    PracticeState,
    PracticeStore,
    StemMix,
)
from stemtui.core.library.practicemix import apply, capture
from stemtui.core.library.store import Store

SR = 8000
STEMS = ["vocals", "drums", "bass", "other"]
SID = "0123456789abcdef"


def full_state() -> PracticeState:
    """A state with every field away from its default."""
    return PracticeState(
        stems={"vocals": StemMix(1.0, True, False), "bass": StemMix(db_to_gain(-6.0), False, True)},
        master=0.8,
        loop=ActiveLoop(4.0, 8.5, True, "verse"),
        loops=[NamedLoop("verse", 4.0, 8.5), NamedLoop("solo", 12.25, 20.0)],
        position=5.5,
        tempo=0.75,
        transpose=-2,
        grid={"bpm": 96.0, "offset": 0.12, "beats_per_bar": 3, "source": "tap"},
        count_in=4,
        click=True,
    )


def silent_mixer(seconds: float = 30.0, names=STEMS) -> Mixer:
    data = np.zeros((len(names), int(seconds * SR), 2), dtype=np.float32)
    return Mixer(Song(list(names), data, SR, SongMeta("test")))


def write_raw(states: PracticeStore, obj) -> Path:
    path = states.path(SID)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(obj, bytes):
        path.write_bytes(obj)
    else:
        path.write_text(json.dumps(obj))
    return path


# -- where it lives ---------------------------------------------------------------------------
def test_the_file_lives_under_the_data_dir_not_the_cache(tmp_path, settings, practice_store):
    path = practice_store.path(SID)
    assert path == settings.data_dir / "practice" / f"{SID}.json"
    assert path.is_relative_to(tmp_path / "data")
    assert not path.is_relative_to(settings.cache_dir)


def test_ids_that_are_not_plain_names_are_refused_and_never_read(practice_store):
    for bad in ("../escape", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            practice_store.path(bad)
        state, message = practice_store.load(bad, STEMS)
        assert state == PracticeState() and message


def test_no_file_is_the_defaults_without_a_message(practice_store):
    assert practice_store.load(SID, STEMS) == (PracticeState(), None)
    s = PracticeState()
    assert (s.tempo, s.transpose, s.grid, s.count_in, s.click, s.position, s.loop) == (
        1.0,
        0,
        None,
        0,
        False,
        0.0,
        None,
    )


# -- writing -----------------------------------------------------------------------------------
def test_round_trip_keeps_every_field(practice_store):
    state = full_state()
    path = practice_store.save(SID, state)
    assert path == practice_store.path(SID)
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA and data["song"] == SID
    assert data["mix"]["stems"]["vocals"] == {"volume": 1.0, "mute": True, "solo": False}
    assert data["loop"] == {"start": 4.0, "end": 8.5, "enabled": True, "name": "verse"}
    assert data["loops"][1] == {"name": "solo", "start": 12.25, "end": 20.0}
    loaded, message = practice_store.load(SID, STEMS, duration=30.0)
    assert message is None
    assert loaded == state


def test_writes_are_atomic_and_leave_no_temp_files(practice_store):
    practice_store.save(SID, full_state())
    second = full_state()
    second.position = 9.0
    practice_store.save(SID, second)
    folder = practice_store.path(SID).parent
    assert sorted(p.name for p in folder.iterdir()) == [f"{SID}.json"]
    # A write that fails half-way (a value JSON cannot hold) leaves the old file whole, and no temp file.
    broken = full_state()
    broken.grid = {"bpm": 120.0, "source": object()}
    with pytest.raises(TypeError):
        practice_store.save(SID, broken)
    assert sorted(p.name for p in folder.iterdir()) == [f"{SID}.json"]
    assert practice_store.load(SID, STEMS)[0].position == 9.0


def test_clearing_the_cache_keeps_the_practice_state(practice_store, settings):
    store = Store(settings.cache_dir)
    data = np.zeros((2, SR, 2), dtype=np.float32)
    entry = store.add_song(Song(["vocals", "drums"], data, SR, SongMeta("tiny")), SID)
    practice_store.save(SID, full_state())
    store.remove(entry)  # `stemtui rm`
    shutil.rmtree(store.root)  # and the whole cache folder
    state, message = practice_store.load(SID, ["vocals", "drums", "bass"])
    assert message is None and state.loops == full_state().loops and state.stems["vocals"].mute


# -- bad files: defaults (valid parts kept), one message, no exception ------------------------------
def test_garbage_bytes_open_with_defaults_and_are_set_aside(practice_store):
    path = write_raw(practice_store, b"\x00\xff{not json at all")
    state, message = practice_store.load(SID, STEMS)
    assert state == PracticeState()
    assert "not valid JSON" in message and "defaults" in message
    assert not path.exists() and path.with_name(path.name + ".bad").read_bytes().startswith(b"\x00")


def test_json_that_is_not_an_object_opens_with_defaults(practice_store):
    write_raw(practice_store, [1, 2, 3])
    state, message = practice_store.load(SID, STEMS)
    assert state == PracticeState() and "not a JSON object" in message


def test_an_unknown_schema_opens_with_defaults_and_keeps_the_file_aside(practice_store):
    path = write_raw(practice_store, {**full_state().to_json(SID), "schema": SCHEMA + 1})
    state, message = practice_store.load(SID, STEMS)
    assert state == PracticeState()
    assert f"schema {SCHEMA + 1}" in message
    assert json.loads(path.with_name(path.name + ".bad").read_text())["schema"] == SCHEMA + 1


def test_wrong_types_fall_back_field_by_field(practice_store):
    good = full_state().to_json(SID)
    write_raw(
        practice_store,
        {
            **good,
            "mix": {
                "master": "loud",
                "stems": {
                    "vocals": {"volume": 1.0, "mute": "yes", "solo": False},
                    "bass": {"volume": 0.5, "mute": False, "solo": True},
                },
            },
            "loop": {"start": 9.0, "end": 3.0, "enabled": True},
            "loops": [{"name": "verse", "start": 4.0, "end": 8.5}, {"name": 7, "start": 1, "end": 2}, "chorus"],
            "position": -3,
            "tempo": True,
            "transpose": 1.5,
            "grid": {"bpm": "fast"},
            "count_in": -1,
            "click": 1,
        },
    )
    state, message = practice_store.load(SID, STEMS)
    assert message.startswith("saved practice state partly unusable") and "the rest restored" in message
    assert state.master == 1.0
    assert "vocals" not in state.stems  # its mute was not a bool
    assert state.stems["bass"] == StemMix(0.5, False, True)  # valid: kept
    assert state.loop is None
    assert state.loops == [NamedLoop("verse", 4.0, 8.5)]
    assert (state.position, state.tempo, state.transpose, state.grid, state.count_in, state.click) == (
        0.0,
        1.0,
        0,
        None,
        0,
        False,
    )


def test_a_stem_that_no_longer_exists_is_skipped_and_said(practice_store):
    data = full_state().to_json(SID)
    data["mix"]["stems"]["guitar"] = {"volume": 0.5, "mute": True, "solo": False}
    write_raw(practice_store, data)
    state, message = practice_store.load(SID, STEMS)
    assert "'guitar' no longer exists" in message
    assert "guitar" not in state.stems
    assert state.stems["vocals"].mute and state.loops == full_state().loops


def test_loops_and_positions_past_the_end_of_the_song_are_dropped(practice_store):
    practice_store.save(SID, full_state())
    state, message = practice_store.load(SID, STEMS, duration=10.0)
    assert state.loops == [NamedLoop("verse", 4.0, 8.5)]  # the solo ends at 20 s
    assert "solo" in message


# -- the mixer side ------------------------------------------------------------------------------
def test_apply_then_capture_gives_the_state_back():
    m = silent_mixer()
    state = full_state()
    assert apply(m, state) is None
    assert m.mute.tolist() == [True, False, False, False]
    assert m.solo.tolist() == [False, False, True, False]
    assert m.volume[2] == pytest.approx(db_to_gain(-6.0))
    assert m.master == pytest.approx(0.8)
    assert m.loop == (4 * SR, int(8.5 * SR), True)
    assert m.pending_seek == int(5.5 * SR)
    back = capture(m, state, loop_name="verse")
    assert back.loops == state.loops and back.tempo == 0.75 and back.grid == state.grid
    assert back.loop == state.loop and back.position == pytest.approx(5.5)
    assert back.stems["vocals"] == StemMix(1.0, True, False)
    assert back.stems["drums"] == StemMix()
    assert back.stems["bass"].volume == pytest.approx(db_to_gain(-6.0))


def test_apply_starts_inside_an_enabled_loop_and_resets_stems_not_saved():
    m = silent_mixer()
    m.set_mute(1, True)
    state = PracticeState(loop=ActiveLoop(10.0, 12.0, True), position=3.0)
    apply(m, state)
    assert not m.mute.any()
    assert m.pending_seek == 10 * SR


def test_a_saved_loop_that_does_not_fit_the_song_is_dropped_with_a_message():
    m = silent_mixer(seconds=5.0)
    problem = apply(m, PracticeState(loop=ActiveLoop(5.0, 6.0, True)))
    assert problem and "loop" in problem
    assert m.loop == (0, 0, False)


def test_temp_files_of_dead_writers_are_swept_when_the_store_opens(practice_store):
    folder = practice_store.root / "practice"
    folder.mkdir(parents=True, exist_ok=True)
    dead = folder / ".song1.json.999999.deadbeef.tmp"  # a save killed by SIGKILL (pid gone)
    live = folder / f".song1.json.{os.getppid()}.cafef00d.tmp"  # a writer still running
    other = folder / ".notes.tmp"  # not ours
    for p in (dead, live, other):
        p.write_text("{")
    PracticeStore(practice_store.root)
    assert sorted(p.name for p in folder.iterdir()) == sorted([live.name, other.name])
