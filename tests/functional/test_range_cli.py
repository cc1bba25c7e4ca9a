"""`--mute STEM@A-B` and `--solo STEM@A-B` on export and play: sample-exact edges, ramps only there, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from stemtui.core.audio.mixer import XFADE_MS
from tests.functional.test_cli import assert_one_line_error, run

SR = 44100
A, B = SR, round(2.5 * SR)  # the range 0:01-0:02.5
RAMP = round(XFADE_MS * SR / 1000)


@pytest.fixture
def grid_song(tmp_path):
    """Three stems (keys 440 Hz, vocals 660 Hz, bass 110 Hz, with noise), 4 s, imported.

    Every sample is a multiple of 1/32768 and small, so sums of stems pass
    through the store and a 16-bit export exactly: references computed from
    the stems match the file to the bit outside the ramps.
    """
    folder = tmp_path / "Grid Song"
    folder.mkdir()
    rng = np.random.default_rng(3)
    t = np.arange(SR * 4) / SR
    stems = {}
    for name, hz in (("keys", 440), ("vocals", 660), ("bass", 110)):
        x = np.round(5000 * np.sin(2 * np.pi * hz * t) + rng.integers(-1500, 1500, t.size)) / 32768
        sf.write(folder / f"{name}.wav", x, SR, subtype="FLOAT")
        stems[name] = x
    cache = tmp_path / "cache"
    assert run(["import", str(folder)], cache).returncode == 0
    return cache, stems


def export(cache, tmp_path, *flags: str) -> np.ndarray:
    out = tmp_path / "out.wav"
    r = run(["export", "grid song", *flags, "-o", str(out)], cache)
    assert r.returncode == 0, r.stderr
    y, sr = sf.read(out, dtype="float64")
    out.unlink()
    assert sr == SR
    return y[:, 0]


def differing(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.abs(x - y) > 1e-6)


def assert_ramps_only_at_the_edges(y: np.ndarray, outside: np.ndarray, inside: np.ndarray) -> None:
    """``y`` is ``inside`` on [A, B), ``outside`` elsewhere but within RAMP frames before A and after B."""
    assert differing(y[A:B], inside[A:B]).size == 0
    diff = differing(y, outside)
    out = diff[(diff < A) | (diff >= B)]
    assert out.size > RAMP // 2  # the ramps are there...
    assert np.all(((out >= A - RAMP) & (out < A)) | ((out >= B) & (out < B + RAMP))), out  # ...and only there


def test_export_mute_range_is_the_full_mix_outside_and_the_mix_without_vocals_inside(tmp_path, grid_song):
    cache, s = grid_song
    y = export(cache, tmp_path, "--mute", "vocals@0:01-0:02.5")
    full = s["keys"] + s["vocals"] + s["bass"]
    assert_ramps_only_at_the_edges(y, full, full - s["vocals"])


def test_export_solo_range_leaves_only_that_stem_inside(tmp_path, grid_song):
    cache, s = grid_song
    y = export(cache, tmp_path, "--solo", "bass@1-2.5")
    full = s["keys"] + s["vocals"] + s["bass"]
    assert_ramps_only_at_the_edges(y, full, s["bass"])


def test_ranges_combine_with_plain_mutes_and_lists(tmp_path, grid_song):
    cache, s = grid_song
    y = export(cache, tmp_path, "--mute", "keys,vocals@0:01-0:02.5")
    assert_ramps_only_at_the_edges(y, s["vocals"] + s["bass"], s["bass"])


def band_level(y: np.ndarray, hz: float) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    k = round(hz * y.size / SR)
    return float(spec[k - 3 : k + 4].max())


def test_export_at_080_maps_the_range_through_song_time(tmp_path, grid_song):
    """At 0.8x the range 1-2.5 s of the song is 1.25-3.125 s of the file: vocals (660 Hz) absent there only."""
    cache, _ = grid_song
    y = export(cache, tmp_path, "--mute", "vocals@0:01-0:02.5", "--tempo", "0.8")
    assert abs(y.size - 4 * SR / 0.8) <= 0.010 * SR

    def part(a: float, b: float) -> np.ndarray:
        return y[round(a * SR) : round(b * SR)]

    inside, before, after = part(1.35, 3.0), part(0.1, 1.15), part(3.25, 4.9)
    for seg in (before, after):
        assert band_level(seg, 660) > 0.5 * band_level(seg, 440)  # vocals as loud as keys outside
    assert band_level(inside, 660) < 0.02 * band_level(inside, 440)  # gone inside
    assert band_level(inside, 440) > 0.5 * band_level(before, 440) * inside.size / before.size


@pytest.mark.parametrize(
    "flag,needle",
    [
        (["--mute", "vocals@0:03-0:05"], "--mute vocals@0:03-0:05: goes past the end of the song"),
        (["--mute", "vocals@0:02-0:01"], "--mute vocals@0:02-0:01: the end must come after the start"),
        (["--solo", "voice@0:01-0:02"], "--solo voice@0:01-0:02: no such stem"),
        (["--mute", "vocals@0:01"], "--mute vocals@0:01: expected STEM@START-END"),
        (["--mute", "vocals@soon-0:02"], "--mute vocals@soon-0:02"),
        (["--mute", "@0:01-0:02"], "expected STEM@START-END"),
    ],
)
def test_bad_ranges_are_one_line_errors_and_write_nothing(tmp_path, grid_song, flag, needle):
    cache, _ = grid_song
    out = tmp_path / "x.wav"
    r = run(["export", "grid song", *flag, "-o", str(out)], cache)
    assert_one_line_error(r, needle)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".x.wav")]
    r = run(["play", "grid song", *flag, "--device", "null", "--duration", "1"], cache)
    assert_one_line_error(r, needle)


def test_play_takes_a_range(grid_song):
    cache, _ = grid_song
    r = run(["play", "grid song", "--mute", "vocals@0:00.5-0:01", "--device", "null", "--duration", "1"], cache)
    assert r.returncode == 0, r.stderr
