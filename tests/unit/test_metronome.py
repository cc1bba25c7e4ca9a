"""The metronome channel: clicks in song time, count-in before playback and loop restarts."""

from __future__ import annotations

import itertools

import numpy as np

from stemtui.core.analysis.beats import BeatGrid
from stemtui.core.audio.mixer import Mixer
from stemtui.core.audio.song import Song, SongMeta
from tests.unit.test_mixer import callback_alloc_peak
from tests.unit.test_tempo import switch_to_run, wait_for

SR = 44100


def silent_song(seconds: float = 6.0) -> Song:
    n = int(seconds * SR)
    return Song.from_stems({"a": np.zeros(n, np.float32), "b": np.zeros(n, np.float32)}, SR, SongMeta("quiet"))


def onsets(y: np.ndarray, threshold: float = 0.002, gap: float = 0.1) -> np.ndarray:
    """Frames where a click starts: loud after at least ``gap`` s of quiet."""
    loud = np.abs(y).max(axis=1) > threshold
    idx = np.nonzero(loud)[0]
    if not len(idx):
        return idx
    starts = [idx[0]]
    for a, b in itertools.pairwise(idx):
        if b - a > gap * SR:
            starts.append(b)
    return np.array(starts)


def render(m: Mixer, frames: int, block: int = 512) -> tuple[np.ndarray, list[int]]:
    buf = np.zeros((block, 2), np.float32)
    out, pos = [], []
    for _ in range(frames // block):
        m.process(buf)
        out.append(buf.copy())
        pos.append(m.position)
    return np.concatenate(out), pos


def test_count_in_plays_n_clicks_at_the_bpm_before_playback():
    m = Mixer(silent_song())
    m.metronome.set_grid(BeatGrid(120.0, 0.0, 4, "manual"))
    m.metronome.set_count_in(4)
    m.start_at(SR, playing=False)
    m.play()
    y, pos = render(m, 3 * SR)
    on = onsets(y)
    assert len(on) == 4
    assert np.allclose(np.diff(on), 0.5 * SR, atol=4)  # 120 BPM
    # The playhead waits during the count-in, then starts where it was.
    n_ci = round(4 * 0.5 * SR)
    assert pos[n_ci // 512 - 1] == SR
    assert pos[-1] > SR


def test_count_in_turned_off_or_shortened_while_counting_in():
    """The audio thread reads the count-in it started with gone or replaced: it just goes on."""
    for change in ("off", "shorter"):
        m = Mixer(silent_song())
        m.metronome.set_grid(BeatGrid(120.0, 0.0, 4, "manual"))
        m.metronome.set_count_in(4)
        m.start_at(SR, playing=False)
        m.play()
        _, pos = render(m, SR // 2)  # one click in: two seconds of count-in remain
        assert m.counting_in and pos[-1] == SR
        m.metronome.set_count_in(0 if change == "off" else 1)
        _, pos = render(m, SR)
        assert not m.counting_in and pos[-1] > SR, change  # the song plays


def test_count_in_before_each_loop_restart_at_the_set_bpm():
    m = Mixer(silent_song())
    la, lb = SR, 2 * SR
    m.set_loop(la, lb)
    m.metronome.set_grid(BeatGrid(100.0, 0.0, 4, "manual"))
    m.metronome.set_count_in(2)
    m.start_at(la, playing=True)  # already playing: the first pass has no count-in
    y, pos = render(m, int(2.2 * SR))
    on = onsets(y)
    # The loop plays 1 s, then 2 clicks 0.6 s apart, then the loop again.
    assert len(on) == 2, on
    assert abs(on[0] - (lb - la)) <= 512  # the count-in starts at the wrap
    assert abs((on[1] - on[0]) - 0.6 * SR) <= 6
    p = np.array(pos)
    assert p.max() <= lb and (p[len(p) // 2 :] >= la).all()


def test_click_follows_song_beats_and_accents_downbeats():
    m = Mixer(silent_song())
    m.metronome.set_grid(BeatGrid(120.0, 0.25, 4, "manual"))
    m.metronome.set_click(True)
    m.start_at(0)
    y, _ = render(m, 3 * SR)
    on = onsets(y)
    assert np.allclose(on, (0.25 + 0.5 * np.arange(len(on))) * SR, atol=6)
    peaks = [np.abs(y[o : o + 600]).max() for o in on]
    assert peaks[0] > peaks[1]  # beat 0 of the bar is the accent
    m.metronome.set_click(False)
    y2, _ = render(m, SR)
    assert np.abs(y2).max() == 0.0  # mutable: the channel goes silent


def test_click_and_count_in_at_075_tempo():
    """At 75 % the clicks land on the stretched beats: 1/0.75 further apart."""
    m = Mixer(silent_song(8.0))
    m.metronome.set_grid(BeatGrid(120.0, 0.0, 4, "manual"))
    m.start_at(0, playing=False)
    m.set_tempo(0.75, 0)
    switch_to_run(m)
    run = m.current_source
    wait_for(lambda: run.done)
    m.metronome.set_count_in(3)
    m.metronome.set_click(True)
    m.play()
    y, _ = render(m, 4 * SR)
    m.close()
    on = onsets(y)
    spacing = 0.5 / 0.75 * SR
    assert len(on) >= 5
    assert np.allclose(np.diff(on), spacing, atol=6), np.diff(on)


def test_callback_allocates_nothing_with_click_count_in_and_tempo():
    rng = np.random.default_rng(0)
    n = 8 * SR
    song = Song.from_stems(
        {f"s{i}": (rng.standard_normal((n, 2)) * 0.1).astype(np.float32) for i in range(6)}, SR, SongMeta("six")
    )
    m = Mixer(song)
    m.set_loop(SR, int(1.6 * SR))
    m.metronome.set_grid(BeatGrid(130.0, 0.1, 4, "manual"))
    m.metronome.set_click(True)
    m.metronome.set_count_in(2)
    m.start_at(SR, playing=False)
    m.set_tempo(0.75, 0)
    switch_to_run(m)
    loop_run, run = m.loop_source, m.current_source
    # Wait for the workers to exit too: tracemalloc counts every thread, and
    # their reader threads allocate while reading the last lines.
    wait_for(lambda: loop_run is not None and loop_run.finished.is_set() and run.finished.is_set())
    m.play()
    try:
        peak = callback_alloc_peak(m, 600)  # several loop wraps with count-ins
    finally:
        m.close()
    assert peak < 2048, peak
