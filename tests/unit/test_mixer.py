"""Mixer tests on plain numpy buffers: sums, ramps, loops, seeks, allocations."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stemtui.core.audio.mixer import Mixer, db_to_gain, gain_to_db
from stemtui.core.audio.mixstate import CountIn
from stemtui.core.audio.song import Song, SongMeta
from stemtui.core.library.export import render_blocks

SR = 8000


def make_song(n_stems: int = 4, frames: int = SR * 4, seed: int = 0) -> Song:
    rng = np.random.default_rng(seed)
    stems = {f"s{i}": (rng.standard_normal((frames, 2)) * 0.1).astype(np.float32) for i in range(n_stems)}
    return Song.from_stems(stems, SR, SongMeta("test"))


def ramp_song(frames: int = SR * 2) -> Song:
    """One stem whose sample value is its frame index: positions are readable."""
    idx = np.arange(frames, dtype=np.float32)
    return Song.from_stems({"idx": np.stack([idx, idx], axis=1)}, SR, SongMeta("idx"))


def render(m: Mixer, frames: int, block: int = 256) -> np.ndarray:
    out = np.zeros((frames, 2), dtype=np.float32)
    buf = np.zeros((block, 2), dtype=np.float32)
    o = 0
    while o < frames:
        n = min(block, frames - o)
        m.process(buf[:n])
        out[o : o + n] = buf[:n]
        o += n
    return out


def settled(m: Mixer, block: int = 256) -> None:
    """Run one block so pending gain ramps finish."""
    m.process(np.zeros((block, 2), dtype=np.float32))


def callback_alloc_peak(m: Mixer, calls: int, stems: int = 6, between=None) -> int:
    """Largest traced allocation of one 512-frame callback, gain ramps kept going.

    tracemalloc sees every thread: callers make sure no other thread of the
    process is working meanwhile.
    """
    out = np.zeros((512, 2), np.float32)
    for _ in range(50):  # warm-up: first-call caches
        m.process(out)
    tracemalloc.start()
    peak = 0
    try:
        for _ in range(3):  # not measured: the first calls under tracemalloc allocate its own bookkeeping
            m.process(out)
        for i in range(calls):
            if i % 7 == 0:
                # UI side (not measured), but it keeps gain ramps happening.
                m.set_volume(i % stems, 0.25 + (i % 4) * 0.25)
            if between is not None:
                between()  # UI/control side too (not measured)
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            m.process(out)
            peak = max(peak, tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()
    return peak


def expected_mix(song: Song, gains: np.ndarray, start: int, n: int) -> np.ndarray:
    return np.tensordot(gains.astype(np.float64), song.data[:, start : start + n].astype(np.float64), axes=1)


class TestGains:
    def test_all_unity_is_plain_sum(self):
        song = make_song()
        m = Mixer(song)
        m.start_at(0)
        out = render(m, 4000)
        np.testing.assert_allclose(out, song.data[:, :4000].sum(axis=0), atol=1e-6)

    def test_mute_removes_exactly_that_stem(self):
        song = make_song()
        m = Mixer(song)
        m.set_mute(1, True)
        m.start_at(0)
        out = render(m, 4000)
        np.testing.assert_allclose(out, expected_mix(song, np.array([1, 0, 1, 1]), 0, 4000), atol=1e-6)

    def test_several_solos(self):
        song = make_song()
        m = Mixer(song)
        m.set_solo(0, True)
        m.set_solo(3, True)
        m.set_mute(2, True)  # muting a non-soloed stem changes nothing
        m.start_at(0)
        out = render(m, 4000)
        np.testing.assert_allclose(out, expected_mix(song, np.array([1, 0, 0, 1]), 0, 4000), atol=1e-6)
        assert [m.audible(i) for i in range(4)] == [True, False, False, True]

    def test_muted_solo_is_silent(self):
        song = make_song()
        m = Mixer(song)
        m.set_solo(2, True)
        m.set_mute(2, True)
        m.start_at(0)
        assert np.abs(render(m, 1000)).max() == 0.0

    def test_volume_and_master(self):
        song = make_song()
        m = Mixer(song)
        m.set_volume(0, db_to_gain(-6.0))
        m.set_volume(1, 2.0)
        m.set_volume(2, 5.0)  # clamped to 200 %
        m.set_master(0.5)
        m.start_at(0)
        g = np.array([db_to_gain(-6.0), 2.0, 2.0, 1.0]) * 0.5
        np.testing.assert_allclose(render(m, 3000), expected_mix(song, g, 0, 3000), atol=1e-6)

    def test_reset_mix(self):
        song = make_song()
        m = Mixer(song)
        m.set_mute(0, True)
        m.set_solo(1, True)
        m.set_volume(2, 0.3)
        m.set_master(0.2)
        m.reset_mix()
        np.testing.assert_array_equal(m.gains, np.ones(4, dtype=np.float32))

    def test_db_conversions(self):
        assert db_to_gain(0.0) == 1.0
        assert gain_to_db(db_to_gain(-6.0)) == pytest.approx(-6.0)
        assert gain_to_db(0.0) == float("-inf")


class TestRamps:
    @pytest.mark.parametrize("change", ["mute", "unmute", "solo", "volume", "master"])
    def test_no_step_larger_than_signal(self, change):
        """A gain change ramps over one block: no sample step beyond the signal's own."""
        frames = SR * 2
        t = np.arange(frames) / SR
        sine = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        song = Song.from_stems({"a": sine, "b": sine * 0.5}, SR, SongMeta("s"))
        m = Mixer(song)
        if change == "unmute":
            m.set_mute(0, True)
        m.start_at(0)
        before = render(m, 1000)
        {
            "mute": lambda: m.set_mute(0, True),
            "unmute": lambda: m.set_mute(0, False),
            "solo": lambda: m.set_solo(1, True),
            "volume": lambda: m.set_volume(0, 0.0),
            "master": lambda: m.set_master(0.0),
        }[change]()
        after = render(m, 2000)
        out = np.concatenate([before, after])
        clean_step = np.abs(np.diff(1.5 * sine)).max()
        assert np.abs(np.diff(out[:, 0])).max() <= clean_step * 1.0001

    def test_ramp_reaches_target_within_one_block(self):
        song = Song.from_stems({"dc": np.ones(SR, np.float32)}, SR, SongMeta("dc"))
        m = Mixer(song)
        m.start_at(0)
        render(m, 256)
        m.set_volume(0, 0.0)
        out = render(m, 512, block=256)
        ramp = out[:256, 0]
        assert np.all(np.diff(ramp) < 0)  # strictly falling over the block
        assert ramp[-1] == 0.0 and np.all(out[256:] == 0.0)

    def test_pause_and_resume_fade(self):
        song = Song.from_stems({"dc": np.ones(SR * 2, np.float32)}, SR, SongMeta("dc"))
        m = Mixer(song)
        m.start_at(0)
        render(m, 256)
        m.pause()
        out = render(m, 512)
        assert np.all(np.diff(out[:256, 0]) <= 0) and out[255, 0] == 0.0
        assert np.all(out[256:] == 0.0)
        pos = m.position
        m.play()
        out = render(m, 256)
        assert np.all(np.diff(out[:, 0]) >= 0) and out[-1, 0] == 1.0
        assert m.position == pos + 256


class TestTransport:
    @settings(max_examples=60, deadline=None)
    @given(
        a=st.integers(0, SR - 100),
        length=st.integers(10, SR),
        block=st.sampled_from([64, 256, 500, 1024]),
        start=st.integers(0, SR),
    )
    def test_loop_wrap_sample_exact(self, a, length, block, start):
        """With no crossfade the output is exactly the looped frame sequence."""
        song = ramp_song()
        m = Mixer(song, xfade_ms=0)
        b = a + length
        start = min(start, b - 1)
        m.set_loop(a, b)
        m.start_at(start)
        total = 3 * length + block
        out = render(m, total, block)
        expected, p = [], start
        for _ in range(total):
            expected.append(p)
            p += 1
            if p == b and start < b:
                p = a
        np.testing.assert_array_equal(out[:, 0], np.array(expected, dtype=np.float32))

    @settings(max_examples=40, deadline=None)
    @given(target=st.integers(0, 2 * SR - 1), block=st.sampled_from([64, 256, 1000]))
    def test_seek_sample_exact(self, target, block):
        song = ramp_song()
        m = Mixer(song, xfade_ms=0)
        m.start_at(100)
        render(m, block)
        m.seek(target)
        out = render(m, block, block)
        n = min(block, 2 * SR - target)
        np.testing.assert_array_equal(out[:n, 0], np.arange(target, target + n, dtype=np.float32))
        assert np.all(out[n:] == 0)

    def test_loop_crossfade_is_smooth_and_lands_on_loop_start(self):
        """With the default crossfade, a wrap between unrelated material has no click."""
        t = np.arange(SR * 3) / SR
        sig = (0.5 * np.sin(2 * np.pi * 110 * t)).astype(np.float32)
        song = Song.from_stems({"a": sig}, SR, SongMeta("s"))
        m = Mixer(song)
        a, b = 1234, 1234 + 3001  # not a whole number of periods: a hard cut would click
        m.set_loop(a, b)
        m.start_at(a)
        out = render(m, 3 * 3001, 256)[:, 0]
        clean = np.abs(np.diff(sig)).max()
        assert np.abs(np.diff(out)).max() < 1.5 * clean
        # After the crossfade the output is exactly the loop start region again.
        x = m.xfade_frames
        np.testing.assert_allclose(out[3001 + x : 3001 + x + 500], sig[a + x : a + x + 500], atol=1e-6)

    def test_loop_ms_points(self):
        m = Mixer(ramp_song())
        m.set_loop_ms(250.0, 1000.0)
        assert m.loop == (2000, 8000, True)
        with pytest.raises(ValueError):
            m.set_loop_ms(500, 500)

    def test_end_of_song(self):
        song = ramp_song(1000)
        m = Mixer(song)
        m.start_at(900)
        out = render(m, 256)
        assert m.ended and m.position == 1000
        np.testing.assert_array_equal(out[:100, 0], np.arange(900, 1000, dtype=np.float32))
        assert np.all(out[100:] == 0)

    def test_waits_for_progressive_stems(self):
        song = Song.empty(["a"], 4000, SR, SongMeta("p"))
        m = Mixer(song, xfade_ms=0)
        m.start_at(0)
        song.write(0, np.ones((1, 1000, 2), np.float32))
        out = render(m, 1500, 500)
        assert m.starved and m.position == 1000
        assert np.all(out[:1000] == 1.0) and np.all(out[1000:] == 0.0)
        song.write(1000, np.full((1, 3000, 2), 2.0, np.float32))
        out = render(m, 500, 500)
        assert not m.starved and np.all(out == 2.0)


class TestMetersAndExport:
    def test_peaks_are_post_gain(self):
        song = make_song(2)
        m = Mixer(song)
        m.set_volume(1, 0.5)
        m.start_at(0)
        render(m, 512)
        pk = m.take_peaks()
        np.testing.assert_allclose(pk[0], np.abs(song.data[0, :512]).max(), rtol=1e-6)
        np.testing.assert_allclose(pk[1], 0.5 * np.abs(song.data[1, :512]).max(), rtol=1e-6)
        assert np.all(m.take_peaks() == 0)

    def test_export_equals_sum_of_unmuted_stems(self):
        song = make_song()
        m = Mixer(song)
        m.set_mute(0, True)
        m.set_mute(2, True)
        out = np.concatenate(list(render_blocks(m, 500, 20500, block=4096)))
        np.testing.assert_allclose(out, song.data[1, 500:20500] + song.data[3, 500:20500], atol=1e-6)

    def test_callback_allocates_nothing(self):
        """Steady-state callbacks (ramps, loop wraps, meters) allocate no buffers."""
        song = make_song(6, SR * 10)
        m = Mixer(song)
        m.set_loop(SR, SR + 3000)
        m.start_at(SR)
        # One 512-frame stereo block is 4096 bytes: any audio-sized temporary would show.
        assert callback_alloc_peak(m, 500) < 2048

    def test_callback_allocates_nothing_with_the_trainer_on(self):
        """Wraps that take the trainer's next pass (a new source, its count-in) allocate nothing either."""
        from stemtui.core.audio.source import ArraySource

        song = make_song(6, SR * 10)
        m = Mixer(song)
        la, lb = SR, SR + 3000
        m.set_loop(la, lb)
        m.set_count_in(np.full((300, 2), 0.1, np.float32))
        runs = []
        for t in (0.8, 0.9):
            n = int((lb + 800 - la) / t) + 1
            runs.append(ArraySource(np.ascontiguousarray(song.data[:, la : la + n]), la, lb + 800, t, 0))
        m.start_at(la, source=runs[0])
        taken = []

        def next_pass() -> None:
            wraps, adopted, _late, _at = m.trainer_counters()
            if not taken or adopted == taken[-1]:
                nxt = runs[len(taken) % 2 - 1] if taken else runs[1]
                ci = CountIn(np.full((200 + 50 * (len(taken) % 2), 2), 0.1, np.float32), True)
                taken.append(m.set_next_pass(nxt, wraps + 1, ci))

        next_pass()
        assert callback_alloc_peak(m, 500, between=next_pass) < 2048
        assert len(taken) >= 5  # the wraps did take the next passes


def test_resample_at_load_keeps_pitch_and_lock():
    """A song resampled for a device keeps its pitch, length and stem alignment."""
    sr = 22050
    t = np.arange(sr) / sr
    a = np.sin(2 * np.pi * 441 * t).astype(np.float32)
    song = Song.from_stems({"a": a, "b": a[::-1].copy()}, sr, SongMeta("r"))
    up = song.resampled(48000)
    assert up.sample_rate == 48000 and abs(up.frames - 48000) <= 1
    spec = np.abs(np.fft.rfft(up.data[0, :, 0]))
    assert abs(np.argmax(spec) * 48000 / up.frames - 441) < 2
    assert up.data.shape[0] == 2 and up.data.dtype == np.float32
