"""The song map's result type, its degenerate cases, transposition and the bass tab.

Degenerate songs (10 s, vocals only, silence, no bass) go through the real
analyses; each must come back as a well-formed map that says what it skipped.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from stemtui.core.analysis import synthsongs
from stemtui.core.analysis.basslines import bass_tab, fret_for, midi_name
from stemtui.core.analysis.chordest import transpose_label
from stemtui.core.analysis.songmap import BASS_HEAD_S, BassNote, SongMap, Span, analyze_stems

SR = synthsongs.SR


@pytest.fixture(scope="module")
def song() -> synthsongs.SynthSong:
    return synthsongs.render(synthsongs.TEST_SPECS[0])


def skipped(m: SongMap) -> dict[str, str]:
    return {s.analysis: s.reason for s in m.skipped}


def well_formed(m: SongMap) -> None:
    back = SongMap.from_json(json.loads(json.dumps(m.to_json())))
    assert back == m
    for spans in (m.sections, m.chords):
        for a, b in itertools.pairwise(spans):
            assert a.end == pytest.approx(b.start) and a.start < a.end
        if spans:
            assert spans[0].start == 0.0 and spans[-1].end == pytest.approx(m.duration)


def test_silence_gives_an_empty_map():
    z = np.zeros((10 * SR, 2), dtype=np.float32)
    m = analyze_stems({"vocals": z, "drums": z, "bass": z, "other": z}, SR)
    well_formed(m)
    assert (m.bpm, m.key, m.sections, m.chords, m.bass_notes) == (None, None, (), (), ())
    assert set(skipped(m)) == {"beats", "bass_notes", "chords", "key", "sections"}
    assert skipped(m)["bass_notes"] == "bass stem is silent"


def test_a_song_of_only_vocals_skips_harmony_and_bass(song):
    m = analyze_stems({"vocals": song.stems["vocals"]}, SR)
    well_formed(m)
    assert m.chords == () and m.key is None and m.bass_notes == ()
    s = skipped(m)
    assert s["chords"] == s["key"] == "no harmonic stem" and s["bass_notes"] == "no bass stem"


def test_a_10_s_song_has_chords_but_no_sections(song):
    short = {k: v[: 10 * SR] for k, v in song.stems.items()}
    m = analyze_stems(short, SR)
    well_formed(m)
    assert m.duration == pytest.approx(10.0)
    assert m.sections == () and "too short" in skipped(m)["sections"]
    assert m.chords and m.bass_notes  # what can be found in 10 s is found
    assert m.chord_at(1.0) is not None and m.chord_at(1.0).label == "D:maj"


def test_no_bass_stem_says_so_and_the_rest_runs(song):
    m = analyze_stems({k: v for k, v in song.stems.items() if k != "bass"}, SR)
    well_formed(m)
    assert skipped(m) == {"bass_notes": "no bass stem"}
    assert m.bass_notes == () and m.chords and m.sections and m.key == "D:maj"


def test_progress_names_each_analysis_in_order(song):
    seen: list[tuple[str, float]] = []
    short = {k: v[: 20 * SR] for k, v in song.stems.items()}
    analyze_stems(short, SR, progress=lambda name, frac: seen.append((name, frac)))
    assert [n for n, _ in seen] == ["bass_notes", "beats", "chords", "key", "sections", "done"]
    fracs = [f for _, f in seen]
    assert fracs == sorted(fracs) and fracs[0] == 0.0 and fracs[-1] == 1.0


def test_bad_stems_are_refused_in_one_line():
    with pytest.raises(ValueError, match="shape"):
        analyze_stems({"other": np.zeros((2, 2, 2), dtype=np.float32)}, SR)
    with pytest.raises(ValueError, match="sample rate"):
        analyze_stems({}, 0)


def test_from_json_refuses_damage():
    good = SongMap(120.0, "D:maj", (Span(0.0, 4.0, "A"),), (Span(0.0, 4.0, "D:maj"),), (BassNote(0.0, 0.5, 38),))
    data = good.to_json()
    assert SongMap.from_json(data) == good
    for key, bad in [
        ("chords", [{"start": 2.0, "end": 1.0, "label": "C:maj"}]),
        ("bass_notes", [{"midi": "x"}]),
        ("bpm", "fast"),
        ("version", None),
        ("sections", {"A": 1}),
    ]:
        with pytest.raises(ValueError):
            SongMap.from_json({**data, key: bad})


def test_transposition_moves_chords_key_and_bass():
    m = SongMap(120.0, "B:min", (), (Span(0, 2, "B:min"), Span(2, 4, "N"), Span(4, 6, "F#:maj")), (BassNote(0, 1, 35),))
    up = m.transposed(3)
    assert up.key == "D:min" and [c.label for c in up.chords] == ["D:min", "N", "A:maj"]
    assert up.bass_notes[0].midi == 38
    assert m.transposed(-12).chords == m.chords and m.transposed(0) is m
    assert transpose_label("Db:maj", 1) == "D:maj" and transpose_label("C:min7/b3", -1) == "B:min7/b3"
    with pytest.raises(ValueError):
        transpose_label("H:maj", 1)


def test_chord_and_section_lookup():
    m = SongMap(chords=(Span(0, 2, "C:maj"), Span(2, 4, "C:maj"), Span(4, 6, "G:maj")), sections=(Span(0, 6, "A"),))
    assert m.chord_at(2.5).label == "C:maj" and m.next_chord(0.5).label == "G:maj"
    assert m.chord_at(7.0) is None and m.next_chord(5.0) is None and m.section_at(3.0).label == "A"


def test_frets_are_the_lowest_that_fit():
    assert fret_for(28) == ("E", 0) and fret_for(33) == ("A", 0) and fret_for(37) == ("A", 4)
    assert fret_for(43) == ("G", 0) and fret_for(55) == ("G", 12) and fret_for(27) is None and fret_for(56) is None
    assert midi_name(40) == "E2" and midi_name(27) == "Eb1"


def test_bass_tab_of_one_bar():
    # 33 = open A; 40 = D 2 (not A 7 or E 12); 45 = G 2; 20 is below a 4-string's E; 30 is in the next bar.
    notes = [(10.0, 10.4, 33), (10.5, 10.9, 40), (11.0, 11.4, 45), (11.5, 11.9, 20), (12.0, 12.5, 30)]
    assert bass_tab(notes, 10.0, 12.0, width=16) == [
        "G|--------2-------|",
        "D|----2-----------|",
        "A|0---------------|",
        "E|------------?---|",
    ]


def test_bass_tab_never_overwrites_a_note():
    # Two onsets in one cell, then a two-digit fret at the bar's very end.
    lines = bass_tab([(0.0, 0.1, 33), (0.01, 0.1, 52), (1.99, 2.0, 55)], 0.0, 2.0, width=8)
    assert lines == ["G|--9---12|", "D|--------|", "A|0-------|", "E|--------|"]
    with pytest.raises(ValueError):
        bass_tab([], 1.0, 1.0)


def test_nan_samples_are_silence_and_the_callers_stems_untouched(song):
    other = song.stems["other"][: 20 * SR, 0].copy()
    other[1000:5000] = np.nan
    before = other.copy()
    m = analyze_stems({"other": other}, SR)
    well_formed(m)
    assert m.chords and np.array_equal(np.isnan(other), np.isnan(before))


def test_a_long_song_shows_the_bass_line_of_its_start_first():
    import mir_eval

    song = synthsongs.render(synthsongs.BENCH_SPEC)  # about 4 minutes
    parts: list[SongMap] = []
    m = analyze_stems(song.stems, song.sr, partial=parts.append)
    head, whole = parts[0], parts[1]
    assert head.bass_notes and max(n.end for n in head.bass_notes) < BASS_HEAD_S
    assert whole.bass_notes == m.bass_notes and max(n.end for n in whole.bass_notes) > 2 * BASS_HEAD_S
    assert head.chords == () and head.bpm is None
    # The first notes are the same notes the whole line has there.
    first = [n for n in m.bass_notes if n.end < BASS_HEAD_S - 1.0]

    def ivs(notes):
        return np.array([[n.start, n.end] for n in notes]), np.array([440.0 * 2 ** ((n.midi - 69) / 12) for n in notes])

    (ri, rp), (ei, ep) = ivs(first), ivs(head.bass_notes)
    f = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep, offset_ratio=None)[2]
    assert f > 0.95, f
