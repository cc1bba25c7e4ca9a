"""The song map lane's pure parts: chord names, the section strip, occurrence names, bars."""

from __future__ import annotations

from stemtui.core.analysis.beats import BeatGrid
from stemtui.core.analysis.songmap import SongMap, Span
from stemtui.ui.map_actions import bar_bounds, occurrence_names
from stemtui.ui.widgets.map_lane import chord_name, section_strip


def test_chord_names_are_lead_sheet_names():
    assert [chord_name(x) for x in ("D:maj", "B:min", "F#:min", "N", "X")] == ["D", "Bm", "F#m", "N.C.", "N.C."]


def test_occurrence_names_count_each_letter():
    secs = tuple(Span(i, i + 1, lab) for i, lab in enumerate("ABABCA"))
    assert occurrence_names(secs) == ["A1", "B1", "A2", "B2", "C1", "A3"]


def test_the_strip_gives_each_cell_its_section():
    cells = section_strip(((0.0, 10.0, "A"), (10.0, 30.0, "B"), (30.0, 40.0, "A")), 40.0, 8)
    assert cells == [0, 0, 1, 1, 1, 1, 2, 2]
    assert section_strip((), 0.0, 4) == [-1] * 4
    # A section too short for a cell still gets one.
    assert 1 in section_strip(((0.0, 39.9, "A"), (39.9, 40.0, "B")), 40.0, 8)


def test_a_bar_is_four_beats_of_the_grid_else_two_seconds():
    grid = BeatGrid(120.0, 0.25, 4, "drums")  # beats every 0.5 s from 0.25
    m = SongMap(grid=grid, duration=60.0)
    assert bar_bounds(m, 2.3) == (2.25, 4.25)
    assert bar_bounds(m, 2.2) == (0.25, 2.25)
    assert bar_bounds(SongMap(duration=60.0), 5.1) == (4.0, 6.0)
