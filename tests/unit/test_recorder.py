"""The recorder's parts without a device: the input ring, the song clock, the writer, calibration."""

from __future__ import annotations

import json
import time
import tracemalloc

import numpy as np
import pytest

from stemtui.core.audio.engine import Engine
from stemtui.core.audio.song import Song, SongMeta
from stemtui.core.takes.capture import InputCapture
from stemtui.core.takes.inputring import InputRing
from stemtui.core.takes.latency import CalibrationStore, find_anchor, measure_offset
from stemtui.core.takes.recorder import MemorySink, Recorder, StoreSink
from stemtui.core.takes.takestore import TakeStore

SR = 44100


def blocks(n: int, frames: int = 512, channels: int = 2, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((frames, channels)).astype(np.float32) for _ in range(n)]


# -- the ring -------------------------------------------------------------------
def test_ring_passes_frames_through_in_order_across_the_wrap():
    ring = InputRing(1000, 2)
    out = np.zeros((300, 2), np.float32)
    got = []
    sent = blocks(20, frames=128)
    for b in sent:
        assert ring.write(b)
        n = ring.read_into(out)
        got.append(out[:n].copy())
    while n := ring.read_into(out):
        got.append(out[:n].copy())
    np.testing.assert_array_equal(np.concatenate(got), np.concatenate(sent))
    assert ring.overflows == 0


def test_ring_counts_and_drops_blocks_that_do_not_fit():
    ring = InputRing(1024, 1)
    sent = blocks(3, frames=512, channels=1)
    assert ring.write(sent[0]) and ring.write(sent[1])
    assert not ring.write(sent[2])  # full: dropped whole, counted
    assert ring.overflows == 1 and ring.dropped_frames == 512
    out = np.zeros((2048, 1), np.float32)
    assert ring.read_into(out) == 1024
    np.testing.assert_array_equal(out[:1024], np.concatenate(sent[:2]))


def test_ring_peak_is_the_largest_absolute_sample_since_the_last_take():
    ring = InputRing(4096, 2)
    b = np.zeros((512, 2), np.float32)
    b[10, 1] = -0.7
    b[20, 0] = 0.4
    ring.write(b)
    assert ring.take_peak() == pytest.approx(0.7)
    assert ring.take_peak() == 0.0


def test_ring_write_allocates_nothing():
    """The callback path: many ring writes (with wraps and peaks) allocate no buffer."""
    ring = InputRing(SR, 2)
    out = np.zeros((4096, 2), np.float32)
    data = blocks(4)
    for b in data:  # warm-up
        ring.write(b)
        ring.read_into(out)
    tracemalloc.start()
    peak = 0
    try:
        for i in range(3):
            ring.write(data[i])
            ring.read_into(out)
        for i in range(2000):
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            ring.write(data[i % 4])
            peak = max(peak, tracemalloc.get_traced_memory()[1] - base)
            if i % 3 == 0:
                ring.read_into(out)  # the reader's side, not measured
    finally:
        tracemalloc.stop()
    # One 512-frame stereo block is 4096 bytes: any audio-sized temporary would show.
    assert peak < 2048  # (numpy's reduction bookkeeping for the peak is ~1 KB; the mixer test allows the same)


def test_capture_callback_counts_portaudio_input_overflows_and_ring_overflows():
    cap = InputCapture(SR, 512, None, 2, ring_seconds=0.025)  # 1102 frames: two blocks fit

    class Status:
        input_overflow = True

    b = np.zeros((512, 2), np.float32)
    cap.callback(b, 512, None, Status())
    cap.callback(b, 512, None, None)
    cap.callback(b, 512, None, None)  # the ring is full: dropped
    assert cap.input_overflows == 1
    assert cap.ring.overflows == 1
    assert cap.callbacks == 3 and cap.callback_errors == 0


# -- the song clock and the mapping -----------------------------------------------
def test_find_anchor_skips_paused_count_in_and_wrapping_blocks():
    rows = np.array(
        [
            [0, 0, 10.00, 512],  # paused / counting in: the song did not move
            [0, 300, 10.01, 512],  # half a block: the count-in ended inside it
            [300, 512, 10.02, 512],
            [812, 512, 10.03, 512],
        ],
        dtype=np.float64,
    )
    assert find_anchor(rows, 9.0)[2] == 10.02
    assert find_anchor(rows[:2], 9.0) is None


def test_measure_offset_finds_a_known_delay():
    rng = np.random.default_rng(3)
    ref = rng.standard_normal(SR).astype(np.float32)
    rec = np.concatenate([np.zeros(123, np.float32), ref])[:SR]
    lag, q = measure_offset(rec, ref, max_lag=2000)
    assert lag == 123 and q > 0.99
    lag, _ = measure_offset(ref[50:], ref, max_lag=2000)
    assert lag == -50


def test_calibration_store_round_trip_and_damaged_file(tmp_path):
    store = CalibrationStore(tmp_path)
    assert store.get("pulse", "pulse") == 0.0
    store.set("pulse", "pulse", -0.0123, 0.98)
    store.set("hw:0", "USB mic", 0.004)
    assert store.get("pulse", "pulse") == pytest.approx(-0.0123)
    assert store.get("hw:0", "USB mic") == pytest.approx(0.004)
    doc = json.loads((tmp_path / "calibration.json").read_text())
    assert doc["version"] == 1 and len(doc["pairs"]) == 2
    assert not list(tmp_path.glob(".calibration.*"))  # no temp file left
    (tmp_path / "calibration.json").write_text("{not json")
    assert store.get("pulse", "pulse") == 0.0  # damaged: uncalibrated, never an error


# -- the recorder on the device-free engine -------------------------------------------
def song_of(seconds: float) -> Song:
    rng = np.random.default_rng(5)
    x = (0.1 * rng.standard_normal((int(seconds * SR), 2))).astype(np.float32)
    return Song.from_stems({"a": x, "b": x * 0.5}, SR, SMeta)


SMeta = SongMeta("test")


def record_null(sink, seconds: float, feed=None, start_frame: int = SR, loop=None, **kw):
    engine = Engine(null=True)
    try:
        mixer = engine.load(song_of(10))
        if loop is not None:
            mixer.set_loop(*loop)
        mixer.start_at(start_frame, playing=False)
        rec = Recorder(engine, sink, None, feed=feed, min_start_s=start_frame / SR, max_frames=int(seconds * SR), **kw)
        rec.start()
        deadline = time.monotonic() + 5
        while rec.capture.callbacks == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        mixer.play()
        assert rec.done.wait(seconds + 5), "the take never reached its length"
        return rec, rec.stop()
    finally:
        engine.close()


def test_null_input_take_is_the_fed_signal_trimmed_to_the_song_start():
    rng = np.random.default_rng(9)
    feed = rng.standard_normal((5 * SR, 1)).astype(np.float32)
    rec, (start_s, data) = record_null(MemorySink(), 1.0, feed=feed)
    assert data.shape == (SR, 1)
    # Frames from before the song started are trimmed: the take starts at --from.
    assert start_s == pytest.approx(1.0, abs=0.002)  # (the final placement may move it by the clocks' jitter)
    # What is kept is one contiguous stretch of what the input gave.
    lag, _ = measure_offset(feed[: 3 * SR, 0], np.concatenate([data[:, 0], np.zeros(2 * SR, np.float32)]), SR)
    np.testing.assert_array_equal(data[:, 0], feed[lag : lag + SR, 0])
    # The head start the input had (opened before playback) is what was trimmed.
    assert 0 < lag < 2 * SR
    assert rec.overflows == 0


def test_a_take_over_a_loop_is_placed_where_it_began_not_on_a_later_pass():
    """Song time jumps back at each wrap: the take is placed by the pass it started in."""
    rng = np.random.default_rng(2)
    feed = rng.standard_normal((6 * SR, 1)).astype(np.float32)
    # Start 0.7 s into a 1-s loop: a short first pass, then full ones.
    _, (start_s, data) = record_null(
        MemorySink(), 3.0, feed=feed, start_frame=int(1.2 * SR), loop=(SR // 2, 3 * SR // 2)
    )
    assert data.shape[0] == 3 * SR
    assert start_s == pytest.approx(1.2, abs=0.002)


def test_null_recorder_writes_a_take_into_the_store(tmp_path):
    store = TakeStore(tmp_path)
    sink = StoreSink(store, "song1", reference="a")
    _, take = record_null(sink, 0.5)
    assert take.frames == SR // 2 and take.channels == 2 and take.reference == "a"
    assert take.start_s == pytest.approx(1.0, abs=1e-3)
    assert not list((tmp_path / "takes" / "song1").glob("*.part.*"))
    assert np.abs(store.read(take)).max() == 0.0  # the null input records silence


def test_writer_puts_the_take_on_disk_while_recording(tmp_path):
    """A take in progress is on disk within about a second (what a kill -9 leaves)."""
    store = TakeStore(tmp_path)
    engine = Engine(null=True)
    try:
        mixer = engine.load(song_of(10))
        mixer.start_at(0, playing=True)
        rec = Recorder(engine, StoreSink(store, "s"), None, min_start_s=0.0)
        rec.start()
        time.sleep(2.0)
        part = next((tmp_path / "takes" / "s").glob("*.part.f32"))
        on_disk = part.stat().st_size // 8
        assert on_disk >= 0.7 * SR, on_disk
        rec.discard()
        assert not list((tmp_path / "takes" / "s").glob("*.part.*"))
        assert store.takes("s") == []
    finally:
        engine.close()
