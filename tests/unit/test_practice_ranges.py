"""Mute and solo ranges in the saved practice state: schema 2, schema 1 files, bad entries, the mixer side."""

from __future__ import annotations

import json

from stemtui.core.audio.mixstate import Range
from stemtui.core.library.practice import SCHEMA, PracticeState, StemRange
from stemtui.core.library.practicemix import apply, capture
from tests.unit.test_practice import SID, SR, STEMS, full_state, silent_mixer, write_raw


def test_ranges_round_trip_through_the_file(practice_store):
    state = full_state()
    state.ranges = [StemRange("vocals", 30.0, 45.5, "mute"), StemRange("bass", 1.25, 2.0, "solo")]
    path = practice_store.save(SID, state)
    assert json.loads(path.read_text())["schema"] == SCHEMA == 2
    loaded, message = practice_store.load(SID, STEMS, 60.0)
    assert message is None
    assert loaded == state


def test_a_schema_1_file_still_loads_without_ranges(practice_store):
    old = full_state().to_json(SID)
    old["schema"] = 1
    del old["ranges"]
    write_raw(practice_store, old)
    loaded, message = practice_store.load(SID, STEMS, 60.0)
    assert message is None
    assert loaded == full_state() and loaded.ranges == []


def test_bad_range_entries_are_dropped_and_the_rest_kept(practice_store):
    doc = full_state().to_json(SID)
    doc["ranges"] = [
        {"stem": "vocals", "start": 1.0, "end": 2.0, "kind": "mute"},
        {"stem": "vocals", "start": 3.0, "end": 2.0, "kind": "mute"},  # end before start
        {"stem": "guitar", "start": 1.0, "end": 2.0, "kind": "mute"},  # no such stem
        {"stem": "bass", "start": 1.0, "end": 2.0, "kind": "loud"},
        {"stem": "bass", "start": 1.0, "end": 99.0, "kind": "solo"},  # past the end
        "vocals",
    ]
    write_raw(practice_store, doc)
    loaded, message = practice_store.load(SID, STEMS, 60.0)
    assert loaded.ranges == [StemRange("vocals", 1.0, 2.0, "mute")]
    assert message is not None and "range" in message and loaded.loop is not None


def test_capture_and_apply_carry_ranges_between_mixers():
    m = silent_mixer()
    m.set_ranges([Range(0, 8 * SR, 12 * SR, "mute"), Range(2, SR, 2 * SR, "solo")])
    state = capture(m)
    assert state.ranges == [StemRange("vocals", 8.0, 12.0, "mute"), StemRange("bass", 1.0, 2.0, "solo")]
    m2 = silent_mixer()
    assert apply(m2, state) is None
    assert m2.ranges == m.ranges


def test_apply_drops_a_range_the_song_cannot_take_in_one_line():
    state = PracticeState(ranges=[StemRange("vocals", 40.0, 45.0), StemRange("drums", 1.0, 2.0)])
    m = silent_mixer(30.0)
    problem = apply(m, state)
    assert problem is not None and "range" in problem
    assert m.ranges == (Range(1, SR, 2 * SR, "mute"),)
