"""The UI's pure helpers: formatting, volume steps, bar geometry, path completion, key table."""

from __future__ import annotations

import pytest
from textual.binding import Binding

from stemtui.core.audio.mixer import VOLUME_MAX, db_to_gain, gain_to_db
from stemtui.ui import fmt
from stemtui.ui.fmt import (
    AHEAD,
    EDGE_A,
    EDGE_B,
    HEAD,
    LOOP_AHEAD,
    LOOP_PLAYED,
    PLAYED,
    fmt_date,
    fmt_db,
    fmt_length,
    fmt_size,
    meter_cells,
    meter_zone_edges,
    step_gain,
    timeline_cells,
    volume_fraction,
)
from stemtui.ui.keymap import (
    APP_KEYS,
    HELP_SECTIONS,
    LIBRARY_KEYS,
    PLAYER_KEYS,
    bindings,
    help_rows,
)
from stemtui.ui.paths import complete_path, is_single_audio_file


def test_sizes_dates_and_lengths_read_like_a_musician_expects():
    assert fmt_size(512) == "512 B"
    assert fmt_size(6_315_753) == "6.0 MB"
    assert fmt_size(3 * 1024**3) == "3.0 GB"
    assert fmt_date("2025-06-01T12:00:00+00:00") == "2025-06-01"
    assert fmt_date("") == "" and fmt_date("garbage-date") == "garbage-da"
    assert fmt_length(30.8) == "0:31" and fmt_length(3725) == "1:02:05"
    assert fmt_db(1.0) == "0 dB" and fmt_db(0.0) == "-inf"
    assert fmt_db(db_to_gain(-6)) == "-6 dB" and fmt_db(db_to_gain(2.5)) == "+2.5 dB"


def test_volume_steps_snap_to_whole_db_and_bottom_out_in_silence():
    assert gain_to_db(step_gain(1.0, -1)) == pytest.approx(-1.0)
    assert gain_to_db(step_gain(1.0, 3)) == pytest.approx(3.0)
    assert step_gain(1.0, 10) == VOLUME_MAX  # +6 dB is the ceiling
    assert gain_to_db(step_gain(VOLUME_MAX, -1)) == pytest.approx(5.0)
    assert gain_to_db(step_gain(db_to_gain(-2.4), 1)) == pytest.approx(-1.0)
    floor = db_to_gain(fmt.VOLUME_FLOOR_DB)
    assert step_gain(floor, -1) == 0.0
    assert step_gain(0.0, 1) == pytest.approx(floor)
    assert step_gain(0.0, -1) == 0.0
    assert step_gain(0.7, 0) == 0.7


def test_volume_bar_and_meter_geometry():
    assert volume_fraction(0.0) == 0.0
    assert volume_fraction(VOLUME_MAX) == pytest.approx(1.0)
    assert 0.8 < volume_fraction(1.0) < 0.9
    assert fmt.gain_at_fraction(0.0) == 0.0
    assert fmt.gain_at_fraction(volume_fraction(1.0)) == pytest.approx(1.0)
    assert meter_cells(float("-inf"), 40) == 0
    assert meter_cells(0.0, 40) == 40
    assert meter_cells(-24.0, 40) == 20
    assert meter_cells(-47.9, 40) == 1  # anything audible lights a cell
    yellow, red = meter_zone_edges(48)
    assert (yellow, red) == (36, 45)


def test_meters_jump_up_and_fall_back_slowly():
    assert fmt.fall(-30.0, -10.0, 0.05) == -10.0
    assert fmt.fall(-10.0, float("-inf"), 0.05) == pytest.approx(-10.0 - fmt.METER_FALL_DB_PER_S * 0.05)
    assert fmt.fall(-47.0, float("-inf"), 0.05) == float("-inf")


def test_timeline_cells_show_playhead_loop_and_edges():
    # 10 cells of 1 s; playhead at 4.5 s; loop 2–6 s.
    cells = timeline_cells(10, 10.0, 4.5, 2.0, 6.0)
    assert cells == [PLAYED, PLAYED, EDGE_A, LOOP_PLAYED, HEAD, EDGE_B, AHEAD, AHEAD, AHEAD, AHEAD]
    assert timeline_cells(10, 10.0, 0.0) == [HEAD] + [AHEAD] * 9
    assert timeline_cells(10, 10.0, 10.0)[-1] == HEAD  # the end stays on the bar
    lone = timeline_cells(10, 10.0, 0.0, 7.0, None)
    assert lone[7] == EDGE_A and LOOP_AHEAD not in lone
    assert timeline_cells(0, 10.0, 1.0) == []
    assert fmt.position_at_cell(4, 10, 10.0) == pytest.approx(4.5)


def test_path_completion_offers_folders_and_audio_only(tmp_path):
    (tmp_path / "My Song").mkdir()
    (tmp_path / "My Other").mkdir()
    (tmp_path / "mix.wav").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden").mkdir()
    assert complete_path(str(tmp_path) + "/My S") == (str(tmp_path / "My Song") + "/", ["My Song/"])
    done, names = complete_path(str(tmp_path) + "/My")
    assert done == str(tmp_path) + "/My " and names == ["My Other/", "My Song/"]
    assert complete_path(str(tmp_path) + "/no") == (str(tmp_path) + "/no", [])
    assert complete_path("m", cwd=tmp_path) == ("mix.wav", ["mix.wav"])
    assert complete_path(str(tmp_path) + "/")[1] == ["My Other/", "My Song/", "mix.wav"]
    assert is_single_audio_file(tmp_path / "mix.wav")
    assert not is_single_audio_file(tmp_path / "My Song")


def test_every_player_binding_is_on_the_help_screen():
    shown = {row for _, keys in HELP_SECTIONS for row in help_rows(keys)}
    for key in PLAYER_KEYS + LIBRARY_KEYS + APP_KEYS:
        assert (key.display, key.help) in shown, key
    bound = {b.key for b in Binding.make_bindings(bindings(PLAYER_KEYS))}
    for n in range(1, 10):
        assert str(n) in bound and f"shift+{n}" in bound
    for symbol in ("exclamation_mark", "at", "number_sign", "left_parenthesis"):
        assert symbol in bound
    for key in (
        "space",
        "left_square_bracket",
        "right_square_bracket",
        "less_than_sign",
        "greater_than_sign",
        "colon",
        "home",
        "backspace",
        "plus",
        "minus",
        "equals_sign",
        "shift+left",
        "shift+right",
        "escape",
    ):
        assert key in bound, key
    # The practice keys: tempo, transpose, tap, click, count-in, export, named loops.
    for key in (
        "left_curly_bracket",
        "right_curly_bracket",
        "comma",
        "full_stop",
        "t",
        "k",
        "c",
        "e",
        "n",
        "L",
        "apostrophe",
    ):
        assert key in bound, key
    # The take keys: record, compare, rename, delete.
    for key in ("R", "C", "f2", "x", "delete"):
        assert key in bound, key


def test_footer_shows_few_keys():
    shown = [b for b in bindings(PLAYER_KEYS) if b.show]
    assert [b.key_display for b in shown] == ["space", "1–9", "s", "+-", "[ ]", ", .", "q"]
