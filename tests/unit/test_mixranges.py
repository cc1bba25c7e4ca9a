"""Per-stem mute and solo ranges in the mixer: sample-exact edges, ramps only there, any tempo, no allocation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stemtui.core.audio.mixer import Mixer
from stemtui.core.audio.mixranges import build_schedule
from stemtui.core.audio.mixstate import Range
from stemtui.core.audio.song import Song, SongMeta
from stemtui.core.audio.source import ArraySource
from stemtui.core.library.export import render_blocks
from tests.unit.test_mixer import callback_alloc_peak, make_song, render

SR = 8000
A, B = SR + 77, 2 * SR + 123  # range edges, off any block boundary


def rendered(m: Mixer, start: int = 0, end: int | None = None, block: int = 4096, source=None) -> np.ndarray:
    end = m.frames if end is None else end
    return np.concatenate(list(render_blocks(m, start, end, block=block, source=source)))


def differing(x: np.ndarray, y: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Frame indices where two stereo signals differ by more than ``tol``."""
    return np.flatnonzero(np.abs(x - y).max(axis=1) > tol)


def test_a_mute_range_is_the_full_mix_outside_and_the_mix_without_the_stem_inside():
    song = make_song()
    m = Mixer(song)
    m.set_ranges([Range(1, A, B, "mute")])
    out = rendered(m)
    r = m.xfade_frames
    full = song.data.sum(axis=0)
    without = full - song.data[1]
    assert r > 0
    # Inside [A, B): the mix without the stem, every frame.
    assert differing(out[A:B], without[A:B]).size == 0
    # Outside: the full mix, except within the ramp before A and after B.
    diff = differing(out, full)
    outside = diff[(diff < A) | (diff >= B)]
    assert outside.size > 0  # there is a ramp at all
    assert np.all(((outside >= A - r) & (outside < A)) | ((outside >= B) & (outside < B + r))), outside
    # The ramp is a ramp: the stem's share falls steadily across it.
    share = (out[A - r : A] - without[A - r : A])[:, 0] / song.data[1, A - r : A, 0]
    assert np.all(np.diff(share) < 0) and share[0] > 0.9 and share[-1] < 0.1


def test_reset_mix_removes_the_ranges_too():
    song = make_song()
    m = Mixer(song)
    m.set_ranges([Range(1, A, B, "mute"), Range(2, A, B, "solo")])
    m.set_mute(0, True)
    assert m.reset_mix() == 2 and m.ranges == ()
    # Heard: the full mix everywhere, the former range included.
    out = rendered(m)
    assert differing(out, song.data.sum(axis=0)).size == 0


def test_a_solo_range_leaves_only_that_stem_inside():
    song = make_song()
    m = Mixer(song)
    m.set_ranges([Range(2, A, B, "solo")])
    out = rendered(m, block=1000)
    r = m.xfade_frames
    full = song.data.sum(axis=0)
    assert differing(out[A:B], song.data[2, A:B]).size == 0
    diff = differing(out, full)
    outside = diff[(diff < A) | (diff >= B)]
    assert outside.size > 0
    assert np.all(((outside >= A - r) & (outside < A)) | ((outside >= B) & (outside < B + r))), outside


def test_a_range_solo_adds_to_the_whole_song_solo_and_a_mute_still_wins():
    song = make_song()
    m = Mixer(song)
    m.set_solo(0, True)
    m.set_mute(3, True)
    m.set_ranges([Range(1, A, B, "solo"), Range(3, A, B, "solo")])
    out = rendered(m)
    d = song.data
    assert differing(out[: A - 100], d[0, : A - 100]).size == 0  # only the soloed stem before
    r = m.xfade_frames  # a stem coming in fades in after A and out before B
    assert differing(out[A + r : B - r], d[0, A + r : B - r] + d[1, A + r : B - r]).size == 0  # 1 joins, 3 not


def test_blocks_of_the_callback_match_the_export_and_have_no_jump_at_the_edges():
    song = make_song(3, SR * 4)
    m = Mixer(song)
    m.set_volume(0, 0.5)
    m.set_ranges([Range(0, A, B, "mute"), Range(2, B - 500, B + 900, "solo")])
    exported = rendered(m, block=4096)
    m.start_at(0)
    live = render(m, song.frames, block=512)
    np.testing.assert_allclose(live, exported, atol=1e-6)
    # On a smooth song, no edge makes a step: the biggest frame-to-frame move
    # near the edges is no bigger than the music's own.
    t = np.arange(song.frames) / SR
    tone = (0.3 * np.sin(2 * np.pi * 110 * t)).astype(np.float32)
    smooth = Song.from_stems({f"s{i}": np.stack([tone, tone], 1) for i in range(3)}, SR, SongMeta("tone"))
    m = Mixer(smooth)
    m.set_ranges([Range(0, A, B, "mute"), Range(2, B - 500, B + 900, "solo")])
    m.start_at(0)
    out = render(m, smooth.frames, block=512)
    step = np.abs(np.diff(out[:, 0]))
    music = np.abs(np.diff(3 * tone)).max()
    for e in (A, B - 500, B, B + 900):
        assert step[e - 100 : e + 100].max() <= music * 1.01, e


def test_a_range_over_the_loop_keeps_the_stem_silent_across_wraps():
    song = make_song()
    m = Mixer(song)
    m.set_loop(A, B)
    m.set_ranges([Range(1, A, B, "mute")])
    m.start_at(A)
    out = render(m, 3 * (B - A), block=512)
    # The reference: the same loop with the stem muted for the whole song, its
    # wrap crossfades included. The range must be exactly that, at every wrap.
    ref = Mixer(song)
    ref.set_loop(A, B)
    ref.set_mute(1, True)
    ref.start_at(A)
    expected = render(ref, 3 * (B - A), block=512)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert np.abs(out).max() > 0.1


def test_a_seek_into_a_range_is_silent_for_the_stem_at_once():
    song = make_song()
    m = Mixer(song)
    m.set_ranges([Range(1, A, B, "mute")])
    m.start_at(0)
    render(m, 1024)
    m.seek(A + 1000)
    out = render(m, 2048, block=512)
    d = song.data
    np.testing.assert_allclose(out[512:], (d[0] + d[2] + d[3])[A + 1000 + 512 : A + 1000 + 2048], atol=1e-6)


def test_toggling_a_range_while_playing_ramps_over_one_block():
    song = make_song()
    m = Mixer(song)
    m.start_at(A + 500)
    render(m, 512)
    assert m.toggle_range(1, A, B) is True
    out = render(m, 1024, block=512)
    d = song.data
    pos = A + 1012
    full = d.sum(axis=0)[pos : pos + 1024]
    without = full - d[1, pos : pos + 1024]
    ramp = np.arange(1, 513, dtype=np.float32)[:, None] / 512
    np.testing.assert_allclose(out[:512], full[:512] + (without[:512] - full[:512]) * ramp, atol=1e-5)
    np.testing.assert_allclose(out[512:], without[512:], atol=1e-6)
    assert m.toggle_range(1, A, B) is False and m.ranges == ()


def test_edges_map_through_a_stretched_source_in_song_time():
    """At 0.8x a run frame j plays song frame start + 0.8 j: the range's run frames are (edge - start) / 0.8."""
    song = make_song(2, SR * 4)
    rng = np.random.default_rng(5)
    start, end, rate = SR // 2, 3 * SR, 0.8
    n = round((end - start) / rate)
    data = (rng.standard_normal((2, n, 2)) * 0.1).astype(np.float32)
    src = ArraySource(data, start, end, rate, 0)
    m = Mixer(song)
    m.set_ranges([Range(1, A, B, "mute")])
    out = rendered(m, start, end, source=src)
    assert out.shape[0] == n
    # Run frames playing song time in [A, B - 1] (the last frame of the range).
    ra, rb = int(np.ceil((A - start) / rate)), int(np.floor((B - 1 - start) / rate)) + 1
    assert differing(out[ra:rb], data[0, ra:rb]).size == 0
    r = int(np.ceil(m.xfade_frames / rate)) + 1
    full = data.sum(axis=0)
    assert differing(out[: ra - r], full[: ra - r]).size == 0
    assert differing(out[rb + r :], full[rb + r :]).size == 0
    # ...and the ramp is there, about xfade / rate frames long.
    assert 0 < differing(out[ra - r : ra], full[ra - r : ra]).size <= r


def test_bad_ranges_are_refused_in_one_line():
    m = Mixer(make_song())
    for bad, why in (
        ((9, 0, 10, "mute"), "no stem"),
        ((0, 10, 10, "mute"), "empty"),
        ((0, 0, m.frames + 1, "mute"), "outside"),
        ((0, 0, 10, "loud"), "'mute' or 'solo'"),
    ):
        with pytest.raises(ValueError, match=why):
            m.set_ranges([bad])
    assert m.ranges == ()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 900), st.integers(1, 400), st.sampled_from(["mute", "solo"])),
        min_size=1,
        max_size=5,
    ),
    st.integers(1, 60),
)
def test_the_schedule_is_continuous_for_any_ranges(items, ramp):
    """However ranges overlap or abut, no stem's gain moves by more than 1/ramp per frame."""
    frames = 1400
    ranges = [Range(s, a, min(frames, a + n), k) for s, a, n, k in items]
    vol = np.array([1.0, 0.5, 2.0])
    rg = build_schedule(ranges, vol, np.zeros(3, bool), np.zeros(3, bool), 1.0, frames, ramp)
    pts = np.asarray(rg.points)
    t = np.arange(frames + 1)
    g = np.stack([np.interp(t, pts, rg.gains[:, i]) for i in range(3)], axis=1)
    assert np.all(np.abs(np.diff(g, axis=0)) <= vol / ramp + 1e-5)
    # Inside a mute range the stem is silent, every frame.
    for r in ranges:
        if r.kind == "mute":
            assert np.all(g[r.start : r.end, r.stem] == 0)


def test_callback_allocates_nothing_with_ranges_on():
    """Ramps at range edges inside blocks, gain ramps and loop wraps: no buffer is allocated."""
    song = make_song(6, SR * 10)
    m = Mixer(song)
    m.set_loop(SR, SR + 3000)
    m.set_ranges([Range(1, SR + 700, SR + 1500, "mute"), Range(4, SR + 1200, SR + 2400, "solo")])
    m.start_at(SR)
    assert callback_alloc_peak(m, 500) < 2048


def test_the_players_export_passes_the_ranges_on_to_the_frame():
    """The export dialog's `stemtui export` arguments give back the mixer's ranges exactly."""
    from itertools import pairwise
    from pathlib import Path

    from stemtui.commands.common import mix_range
    from stemtui.ui.screens.export_screen import export_args

    song = make_song()
    m = Mixer(song)
    m.set_ranges([Range(1, A, B, "mute"), Range(2, 5, 9001, "solo")])
    args = export_args("id", m, Path("x.wav"), False, False)
    specs = [(f, v) for f, v in pairwise(args) if f in ("--mute", "--solo")]
    assert [mix_range(song, f, v) for f, v in specs] == list(m.ranges)
