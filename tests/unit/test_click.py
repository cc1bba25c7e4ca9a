"""Tests for the metronome click, click rendering and the count-in (stemtui.core.audio.click)."""

from __future__ import annotations

import numpy as np
import pytest

from stemtui.core.analysis.beats import BeatGrid
from stemtui.core.audio.click import click_sample, count_in, render_clicks

SR = 44100


def expected(grid: BeatGrid, start: float, rate: float, frames: int, gain: float = 1.0) -> np.ndarray:
    """Reference: each beat's click pasted at round((t * sr - start) / rate)."""
    big = np.zeros((frames + 4 * SR, 2), np.float32)  # room on both sides, cropped below
    pad = 2 * SR
    t_lo, t_hi = (start - pad * rate) / SR, (start + frames * rate) / SR
    for t in grid.beat_times(t_lo, t_hi):
        pos = int(np.floor((t * SR - start) / rate + 0.5)) + pad
        c = click_sample(SR, grid.is_downbeat(grid.beat_index(t + 1e-6)))
        big[pos : pos + len(c)] += c
    return big[pad : pad + frames] * np.float32(gain)


def onsets(x: np.ndarray) -> np.ndarray:
    """Frames where sound starts after silence (a click's first sample is 0)."""
    on = np.abs(x[:, 0]) > 0
    starts = np.flatnonzero(on[1:] & ~on[:-1]) + 1
    return starts - 1  # the click begins one frame before its first non-zero sample


def test_click_shape_and_level():
    for accent, peak in ((True, 0.5), (False, 0.4)):
        c = click_sample(SR, accent)
        assert c.dtype == np.float32 and c.shape[1] == 2
        assert 0.025 * SR <= c.shape[0] <= 0.040 * SR
        assert np.max(np.abs(c)) == pytest.approx(peak, rel=1e-3)
        assert c[0, 0] == 0.0 and abs(c[-1, 0]) < 1e-6  # ramps: no click of its own
        assert np.max(np.abs(np.diff(c[:, 0]))) < 0.35


def test_accent_is_higher():
    def pitch(x: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(x[:, 0], 1 << 16))
        return float(np.argmax(spec) * SR / (1 << 16))

    assert pitch(click_sample(SR, True)) > 1.3 * pitch(click_sample(SR, False))


def test_click_at_low_sample_rate():
    c = click_sample(8000, True)
    assert c.shape[0] == 280 and np.all(np.isfinite(c))


@pytest.mark.parametrize("rate", [1.0, 0.75, 1.25])
def test_render_places_clicks(rate):
    grid = BeatGrid(120.0, 0.1, 4, "drums")
    start = 3.3 * SR
    out = render_clicks(np.empty((4 * SR, 2), np.float32), grid, start, rate, SR)
    np.testing.assert_array_equal(out, expected(grid, start, rate, 4 * SR))
    beats = grid.beat_times(3.3, 3.3 + 4 * rate)
    want = np.floor((beats * SR - start) / rate + 0.5).astype(int)
    np.testing.assert_array_equal(onsets(out), want)
    assert np.all(np.diff(want) >= round(0.5 * SR / rate) - 1)  # spaced 1/rate further apart


def test_render_accents_downbeats():
    grid = BeatGrid(120.0, 0.0, 4, "drums")
    out = render_clicks(np.zeros((3 * SR, 2), np.float32), grid, 0.0, 1.0, SR)
    accent, plain = click_sample(SR, True), click_sample(SR, False)
    for k in range(6):
        pos = k * SR // 2
        want = accent if k % 4 == 0 else plain
        np.testing.assert_array_equal(out[pos : pos + len(want)], want)


@pytest.mark.parametrize("rate", [1.0, 0.75])
def test_blocks_equal_one_shot(rate):
    grid = BeatGrid(137.0, 0.2113, 3, "mix")
    start, total = 12345.6, 5 * SR
    whole = render_clicks(np.zeros((total, 2), np.float32), grid, start, rate, SR, gain=0.8)
    rng = np.random.default_rng(1)
    pieces, done = [], 0
    while done < total:
        n = min(total - done, int(rng.choice([1, 7, 64, 256, 511, 1024, 4096])))
        pieces.append(render_clicks(np.zeros((n, 2), np.float32), grid, start + done * rate, rate, SR, gain=0.8).copy())
        done += n
    np.testing.assert_allclose(np.concatenate(pieces), whole, atol=1e-7)
    np.testing.assert_allclose(whole, expected(grid, start, rate, total, 0.8), atol=1e-7)


def test_click_overlapping_from_previous_block():
    grid = BeatGrid(60.0, 0.0, 4, "tap")
    # The block starts 100 frames after beat 1: only its tail sounds, from index 100.
    out = render_clicks(np.zeros((2048, 2), np.float32), grid, SR + 100, 1.0, SR)
    tail = click_sample(SR)[100:]
    np.testing.assert_array_equal(out[: len(tail)], tail)
    assert not out[len(tail) :].any()


def test_render_without_grid_is_silent_and_overwrites():
    out = np.ones((256, 2), np.float32)
    assert not render_clicks(out, None, 0.0, 1.0, SR).any()
    grid = BeatGrid(120.0, 0.4, 4, "tap")
    out[:] = 1.0
    assert not render_clicks(out, grid, 0.0, 1.0, SR).any()  # no beat in the first 256 frames
    with pytest.raises(ValueError):
        render_clicks(out, grid, 0.0, 0.0, SR)


@pytest.mark.parametrize(("n", "bpm", "bpb"), [(4, 120.0, 4), (8, 90.0 * 0.75, 4), (3, 200.0, 3), (1, 60.0, 4)])
def test_count_in(n, bpm, bpb):
    x = count_in(n, bpm, SR, bpb)
    spacing = 60.0 / bpm * SR
    assert x.dtype == np.float32 and x.shape == (round(n * spacing), 2)
    want = [round(k * spacing) for k in range(n)]
    np.testing.assert_array_equal(onsets(np.vstack([np.zeros((1, 2), np.float32), x]))[:n] - 1, want)
    for k, pos in enumerate(want):
        c = click_sample(SR, k % bpb == 0)
        np.testing.assert_array_equal(x[pos : pos + len(c)], c)


def test_count_in_edge_cases():
    assert count_in(0, 120.0, SR).shape == (0, 2)
    with pytest.raises(ValueError):
        count_in(4, 0.0, SR)
    with pytest.raises(ValueError):
        count_in(-1, 120.0, SR)
