"""The files made from a song map: MIDI, ``.lab`` and the chord chart (``core/analysis/mapfiles``)."""

from __future__ import annotations

import io
import os

import mido
import pytest

from stemtui.core.analysis.beats import BeatGrid
from stemtui.core.analysis.mapfiles import bass_midi, check_target, chord_chart, chord_name, chords_lab, write_atomic
from stemtui.core.analysis.songmap import BassNote, SongMap, Span
from stemtui.core.errors import BadInput

GRID = BeatGrid(120.0, 0.0, 4, "drums")  # a bar is 2 s
MAP = SongMap(
    bpm=120.0,
    key="D:maj",
    sections=(Span(0.0, 4.0, "A"), Span(4.0, 8.0, "B")),
    chords=(Span(0.0, 2.0, "D:maj"), Span(2.0, 3.0, "B:min"), Span(3.0, 6.0, "G:maj"), Span(6.0, 8.0, "N")),
    bass_notes=(BassNote(0.0, 0.5, 38), BassNote(0.5, 1.0, 45), BassNote(2.0, 2.25, 47)),
    duration=8.0,
    grid=GRID,
)


@pytest.mark.parametrize(("label", "name"), [("D:maj", "D"), ("B:min", "Bm"), ("F#:min", "F#m"), ("N", "N.C.")])
def test_chord_names(label, name):
    assert chord_name(label) == name


def test_the_chart_is_bars_of_the_grid_with_section_letters():
    lines = chord_chart(MAP, "Song").splitlines()
    assert lines == [
        "Song",
        "key D  120 bpm",
        "A  | D . . . | Bm . G . |",
        "B  | G . . . | N.C. . . . |",
    ]


def test_the_chart_without_a_grid_lists_chords_by_time_and_an_empty_map_says_so():
    from dataclasses import replace

    text = chord_chart(replace(MAP, grid=None, bpm=None))
    assert "(no beat grid: chords by time)" in text and "Bm" in text and "no steady beat" in text
    assert "(no chords found)" in chord_chart(SongMap())


def test_midi_holds_the_bass_notes_at_the_songs_tempo():
    f = mido.MidiFile(file=io.BytesIO(bass_midi(MAP)))
    assert f.type == 0 and abs(f.length - 2.25) < 1e-3
    now, on, got = 0.0, {}, []
    for msg in f:
        now += msg.time
        if msg.type == "note_on" and msg.velocity:
            on[msg.note] = now
        elif msg.type in ("note_on", "note_off"):
            got.append((round(on.pop(msg.note), 3), round(now, 3), msg.note))
    assert sorted(got) == [(0.0, 0.5, 38), (0.5, 1.0, 45), (2.0, 2.25, 47)]
    assert mido.MidiFile(file=io.BytesIO(bass_midi(SongMap()))).length == 0  # no notes: a valid empty file


def test_lab_lines():
    assert chords_lab(MAP).splitlines()[1] == "2.000\t3.000\tB:min"


def test_targets_and_atomic_writes(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        check_target(tmp_path / "nope" / "x.mid", "--midi")
    with pytest.raises(BadInput, match="is a directory"):
        check_target(tmp_path, "--chart")
    if os.path.exists("/dev/null"):
        with pytest.raises(BadInput, match="not a regular file"):
            check_target("/dev/null", "--chords")
    target = check_target(tmp_path / "c.lab", "--chords")
    (tmp_path / "c.lab").write_text("old")
    write_atomic(target, b"new\n")
    assert target.read_bytes() == b"new\n" and sorted(p.name for p in tmp_path.iterdir()) == ["c.lab"]
