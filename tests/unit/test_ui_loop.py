"""LoopEditor: setting edges one at a time on a real mixer."""

from __future__ import annotations

import numpy as np
import pytest

from stemtui.core.audio.mixer import Mixer
from stemtui.core.audio.song import Song, SongMeta
from stemtui.core.errors import BadInput
from stemtui.ui.loop import LoopEditor

SR = 1000  # 1 frame per ms keeps the arithmetic readable


@pytest.fixture
def editor():
    data = np.zeros((2, 10 * SR, 2), dtype=np.float32)
    mixer = Mixer(Song(["a", "b"], data, SR, SongMeta("t")), xfade_ms=5.0)
    return LoopEditor(mixer)


def test_a_lone_edge_waits_for_its_partner(editor):
    editor.set_start(2000)
    assert editor.mixer.loop == (0, 0, False)
    assert editor.seconds() == (2.0, None) and not editor.complete
    editor.set_end(5000)
    assert editor.mixer.loop == (2000, 5000, True)
    assert editor.describe() == "loop 0:02.000–0:05.000 on"


def test_an_edge_past_the_other_starts_a_new_loop(editor):
    editor.set_seconds(2.0, 5.0)
    editor.set_start(6000)  # after B: B is forgotten
    assert (editor.a, editor.b) == (6000, None)
    assert editor.mixer.loop == (0, 0, False)
    editor.set_end(8000)
    assert editor.mixer.loop == (6000, 8000, True)
    editor.set_end(3000)  # before A: A is forgotten
    assert (editor.a, editor.b) == (None, 3000)


def test_toggle_nudge_and_clear(editor):
    with pytest.raises(BadInput, match="set a loop first"):
        editor.toggle()
    editor.set_seconds(2.0, 5.0)
    assert editor.toggle() is False
    editor.nudge(10)  # B is active after a typed loop
    assert editor.mixer.loop == (2000, 5010, False)  # off stays off
    editor.switch_edge()
    editor.nudge(-10)
    assert editor.mixer.loop == (1990, 5010, False)
    with pytest.raises(BadInput, match="stay before"):
        editor.nudge(3100)
    editor.clear()
    assert editor.mixer.loop == (0, 0, False) and editor.home() == 0
    with pytest.raises(BadInput, match="not set yet"):
        editor.nudge(10)


def test_typed_loops_clamp_to_the_song(editor):
    editor.set_seconds(8.0, 60.0)
    assert editor.mixer.loop == (8000, 10_000, True)
    with pytest.raises(BadInput, match="after the song ends"):
        editor.set_seconds(12.0, 14.0)
    with pytest.raises(BadInput, match="too short"):
        editor.set_seconds(1.0, 1.005)


def test_outside_and_home(editor):
    editor.set_seconds(2.0, 5.0)
    assert editor.outside(1000) and editor.outside(5000) and not editor.outside(2000)
    assert editor.home() == 2000
    editor.toggle()
    assert not editor.outside(9000)  # a loop that is off never pulls the playhead
