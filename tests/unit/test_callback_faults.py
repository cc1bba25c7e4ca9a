"""Failures in the audio callback are contained and reported, never silent.

A source whose read raises (tests/fault_inject.py) is played by the real
engine: directly through its callback on plain buffers, and through its
device-free null stream (the real-time thread the player uses without a
device). The PulseAudio recordings are in tests/functional/test_stream_faults.py.
"""

from __future__ import annotations

import time

import numpy as np
import sounddevice as sd

from stemtui.core.audio.mixer import Mixer
from tests.fault_inject import SR, sine_song
from tests.unit.test_mixer import callback_alloc_peak

BLOCK = 512


def wait_for(cond, timeout: float = 10.0, what: str = "the audio thread") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_raising_source_plays_one_silent_block_then_the_song_again(null_engine):
    song, data = sine_song(4.0)
    mixer = null_engine.load(song)
    null_engine.stop_stream()  # drive the engine's callback ourselves, block by block
    mixer.start_at(0)
    x = song.data[0].view(np.ndarray)
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    blocks = []
    for k in range(12):
        if k == 5:
            data.arm(1)
        null_engine.callback(out, BLOCK, None, None)
        blocks.append(out.copy())
    assert data.raised == 1
    np.testing.assert_array_equal(blocks[4], x[4 * BLOCK : 5 * BLOCK])
    assert not blocks[5].any(), "the failed block is not silent"
    # The playhead stayed where the failed block began; the next block plays
    # those frames, fading in from silence over the crossfade.
    xf = mixer.xfade_frames
    assert 0 < xf < BLOCK
    np.testing.assert_array_equal(blocks[6][xf:], x[5 * BLOCK + xf : 6 * BLOCK])
    assert np.abs(blocks[6][:xf]).max() <= np.abs(x[5 * BLOCK : 5 * BLOCK + xf]).max()
    assert np.abs(np.diff(blocks[6][:xf, 0])).max() < 0.05  # a fade, not a click
    for k in range(7, 12):
        np.testing.assert_array_equal(blocks[k], x[(k - 1) * BLOCK : k * BLOCK])
    assert null_engine.callback_errors == 1
    last = null_engine.last_callback_error
    assert last.startswith("InjectedFault: injected fault") and "fault_inject.py" in last, last
    faults = null_engine.faults()
    assert len(faults) == 1 and "audio callback failed once" in faults[0] and "\n" not in faults[0], faults


def test_the_null_stream_survives_a_raising_source_and_reports_it(null_engine):
    song, data = sine_song(6.0)
    mixer = null_engine.load(song)
    mixer.start_at(0)
    wait_for(lambda: mixer.position > SR // 4)
    data.arm(3)
    wait_for(lambda: null_engine.callback_errors == 3, what="three faults")
    pos, calls = mixer.position, null_engine.callbacks
    # Later blocks play again, on the same real-time thread.
    wait_for(
        lambda: mixer.position > pos + SR // 4 and null_engine.callbacks > calls + 10, what="playback after the faults"
    )
    assert data.raised == 3
    assert null_engine.stream_lost is None
    assert null_engine.faults() == [
        f"audio callback failed 3 times, playing silence meanwhile (last: {null_engine.last_callback_error})"
    ]


def test_a_stream_ended_by_the_callback_is_reported(null_engine):
    song, data = sine_song(6.0)
    mixer = null_engine.load(song)
    mixer.start_at(0)
    wait_for(lambda: mixer.position > SR // 10)
    data.arm(1, sd.CallbackAbort)
    wait_for(lambda: null_engine.stream_lost is not None, what="the lost stream to be noticed")
    calls = null_engine.callbacks
    time.sleep(0.1)
    assert null_engine.callbacks == calls, "the stream still runs"
    assert null_engine.callback_errors == 0
    (line,) = null_engine.faults()
    assert "stopped by itself" in line and "CallbackAbort" in line, line


def test_a_stream_stopped_on_purpose_is_not_reported(null_engine):
    song, _ = sine_song(3.0)
    mixer = null_engine.load(song)
    mixer.start_at(0)
    wait_for(lambda: null_engine.callbacks > 5)
    null_engine.close()
    assert null_engine.stream_lost is None and null_engine.faults() == []


class _EngineAsMixer:
    """callback_alloc_peak drives ``process`` and ``set_volume``: route them through the engine."""

    def __init__(self, engine, mixer: Mixer) -> None:
        self.engine, self.mixer = engine, mixer

    def process(self, out: np.ndarray) -> None:
        self.engine.callback(out, out.shape[0], None, None)

    def set_volume(self, stem: int, gain: float) -> None:
        self.mixer.set_volume(stem, gain)


def test_the_guarded_callback_allocates_nothing(null_engine):
    rng = np.random.default_rng(0)
    from stemtui.core.audio.song import Song, SongMeta

    data = (rng.standard_normal((6, 8 * SR, 2)) * 0.1).astype(np.float32)
    mixer = null_engine.load(Song([f"s{i}" for i in range(6)], data, SR, SongMeta("six")))
    null_engine.stop_stream()  # no other thread: tracemalloc sees every thread
    mixer.set_loop(SR, 2 * SR)
    mixer.start_at(SR)
    callback_alloc_peak(mixer, 100)  # not counted: the first run under tracemalloc pays for its start-up
    mixer.start_at(SR)
    mixer_peak = callback_alloc_peak(mixer, 400)
    mixer.start_at(SR)
    engine_peak = callback_alloc_peak(_EngineAsMixer(null_engine, mixer), 400)
    # The try/except and the fault counters add nothing to the mixer's own
    # (tiny, transient) figure: a per-block record or string would.
    assert engine_peak <= mixer_peak + 64 and engine_peak < 2048, (engine_peak, mixer_peak)
    assert null_engine.callback_errors == 0


def test_gap_stats_tell_the_start_up_stall_from_the_steady_state():
    from stemtui.core.audio.devicewatch import STEADY_RUN_S, GapStats

    period = BLOCK / SR
    gaps = GapStats(period)
    t = 100.0
    # PulseAudio's start: three pre-fill callbacks at once, one 1.7-s stall,
    # then callbacks at the period with one late (2 periods) among them.
    times = [t, t + 0.0005, t + 0.001, t + 1.701]
    n_steady = int(3 * STEADY_RUN_S / period)
    for k in range(1, n_steady):
        times.append(times[-1] + (2 * period if k == n_steady // 2 else period))
    for now in times:
        gaps.tick(now)
    assert gaps.steady
    assert gaps.max_gap > 1.69  # the overall figure holds the stall ...
    assert 1.69 < gaps.startup < 1.71  # ... which is the start-up ...
    assert abs(gaps.steady_max_gap - 2 * period) < 1e-6  # ... and not in the steady figure
    # A reopened stream measures its own start-up; the figures so far stay.
    gaps.restart()
    assert not gaps.steady and gaps.steady_max_gap > 0
    gaps.tick(200.0)
    gaps.tick(200.0 + 5 * period)  # late, still in start-up: not a steady gap
    assert abs(gaps.steady_max_gap - 2 * period) < 1e-6


def test_gap_stats_end_start_up_after_at_most_5_s():
    from stemtui.core.audio.devicewatch import STARTUP_MAX_S, GapStats

    period = BLOCK / SR
    gaps = GapStats(period)
    now = 0.0
    while now < STARTUP_MAX_S + 1:  # never a run at the period: every 4th callback is late
        gaps.tick(now)
        now += 4 * period if int(now / period) % 4 == 0 else period
    assert gaps.steady and STARTUP_MAX_S <= gaps.startup <= STARTUP_MAX_S + 4 * period


def test_the_null_stream_starts_and_stops_safely_from_two_threads():
    """A stop on one thread while another (the device watch, a UI worker) starts the null stream:
    never "cannot join thread before it is started", and no null thread outlives the last stop."""
    import threading

    from stemtui.core.audio.engine import Engine

    engine = Engine(null=True)
    engine.load(sine_song(1.0)[0])
    errors: list[BaseException] = []
    done = threading.Event()

    def hammer(step) -> None:
        try:
            while not done.is_set():
                step()
        except BaseException as exc:  # noqa: BLE001 - the test's finding
            errors.append(exc)

    def start() -> None:
        engine._start_null(SR)

    threads = [threading.Thread(target=hammer, args=(f,)) for f in (start, engine.stop_stream)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    done.set()
    for t in threads:
        t.join(10)
    engine.stop_stream()
    # Every null thread ends once stopped (each has its own stop event).
    wait_for(lambda: not [t for t in threading.enumerate() if t.name == "stemtui-null-audio"], what="null threads")
    engine.close()
    assert not errors, errors
