"""Tempo and transpose: Signalsmith runs rendered by worker processes, played by the mixer.

The acceptance criteria of the practice-tools issue, on a 440 Hz sine stem,
go through the whole player path: Mixer.set_tempo -> TempoControl ->
StretchRun (a real worker process) -> the mixer's callback code.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from stemtui.core.audio.mixer import Mixer
from stemtui.core.audio.song import Song, SongMeta
from stemtui.core.errors import BadInput
from stemtui.core.tempo.stretch import (
    RunRenderer,
    check_semitones,
    check_tempo,
    out_frames,
    stretch_song_region,
)

SR = 44100


def sine_song(seconds: float = 6.0, freq: float = 440.0, extra_stems: int = 1) -> Song:
    t = np.arange(int(seconds * SR)) / SR
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    stems = {"sine": x}
    rng = np.random.default_rng(3)
    for i in range(extra_stems):
        stems[f"noise{i}"] = (rng.standard_normal(len(x)) * 0.05).astype(np.float32)
    return Song.from_stems(stems, SR, SongMeta("sine"))


def peak_hz(x: np.ndarray) -> float:
    w = x * np.hanning(len(x))
    spec = np.abs(np.fft.rfft(w))
    k = int(np.argmax(spec))
    # Parabolic interpolation of the peak bin: 0.1 Hz resolution from a 2 s window.
    a, b, c = np.log(spec[k - 1 : k + 2] + 1e-12)
    k += 0.5 * (a - c) / (a - 2 * b + c)
    return k * SR / len(x)


def max_step(x: np.ndarray) -> float:
    return float(np.abs(np.diff(x)).max())


def wait_for(cond, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting for the tempo worker"
        time.sleep(0.01)


def play_all(m: Mixer, block: int = 512, max_frames: int | None = None) -> np.ndarray:
    """Run the callback code until the song ends."""
    out = []
    buf = np.zeros((block, 2), dtype=np.float32)
    total = 0
    while not m.ended:
        m.process(buf)
        assert not m.starved
        out.append(buf.copy())
        total += block
        if max_frames and total >= max_frames:
            break
    y = np.concatenate(out)
    # Trim the silent blocks at the end (the ended flag lags one block).
    nz = np.nonzero(np.abs(y).max(axis=1) > 0)[0]
    return y[: nz[-1] + 1] if len(nz) else y[:0]


def switch_to_run(m: Mixer, block: int = 512) -> None:
    """Run (paused) callbacks until the mixer has switched to a stretched run."""
    buf = np.zeros((block, 2), dtype=np.float32)

    def switched() -> bool:
        m.process(buf)
        return m.current_source is not m.song_source

    wait_for(switched)


def stretched_mixer(song: Song, tempo: float, semitones: int = 0) -> Mixer:
    """A mixer playing ``song`` from 0 at a tempo, through the real TempoControl path."""
    m = Mixer(song, xfade_ms=5.0)
    for name in song.names:
        if name != "sine":
            m.set_mute(song.index(name), True)
    m.start_at(0, playing=False)
    m.set_tempo(tempo, semitones)
    # Paused: the switch happens as soon as the run has audio at the playhead.
    switch_to_run(m)
    # Unpaced playback would outrun the worker: let it finish first (the
    # real-time behaviour is the tempo benchmark's and the audio tests' job).
    wait_for(lambda: m.current_source.done)
    m.play()
    return m


@pytest.mark.parametrize("tempo", [0.5, 0.75, 1.25, 1.5])
def test_sine_keeps_pitch_length_and_smoothness(tempo):
    song = sine_song(6.0)
    clean_step = max_step(song.data[0, :, 0])
    m = stretched_mixer(song, tempo)
    try:
        y = play_all(m)[:, 0]
    finally:
        m.close()
    # Length scales by 1/tempo within 10 ms (the first block fades in from pause).
    expected = song.frames / tempo
    assert abs(len(y) - expected) <= 0.010 * SR, (len(y), expected)
    mid = y[len(y) // 2 - SR : len(y) // 2 + SR]
    assert abs(peak_hz(mid) - 440.0) <= 2.0
    # No sample-to-sample step above twice the clean signal's (skip the
    # one-block fade-in at the start and the stretcher's flush at the end).
    body = y[2048 : len(y) - int(0.1 * SR)]
    assert max_step(body) <= 2 * clean_step, (max_step(body), clean_step)


def test_transpose_octave_up_gives_880():
    song = sine_song(4.0)
    m = stretched_mixer(song, 1.0, 12)
    try:
        y = play_all(m)[:, 0]
    finally:
        m.close()
    assert abs(len(y) - song.frames) <= 0.010 * SR
    assert abs(peak_hz(y[SR : 3 * SR]) - 880.0) <= 4.0


def test_tempo_and_transpose_together():
    song = sine_song(4.0)
    m = stretched_mixer(song, 0.75, -12)
    try:
        y = play_all(m)[:, 0]
    finally:
        m.close()
    assert abs(len(y) - song.frames / 0.75) <= 0.010 * SR
    assert abs(peak_hz(y[SR : 3 * SR]) - 220.0) <= 2.0


def test_progressive_run_matches_tonal_content_without_seams():
    """Successive renders of a run join without a step or a dip in a steady tone."""
    song = sine_song(20.0, extra_stems=0)
    out = np.zeros((1, out_frames(song.frames, 0.75), 2), dtype=np.float32)
    r = RunRenderer(song.data, 0, song.frames, SR, 0.75, 0, out)
    steps = 0
    while not r.done:
        r.step()
        steps += 1
    assert steps >= 4  # 1 s, 2 s, 4 s, 8 s, ... the junctions are really there
    y = out[0, :, 0]
    body = y[4096:-8192]
    assert max_step(body) <= 2 * max_step(song.data[0, :, 0])
    n = len(body) // 147 * 147
    env = np.abs(body[:n]).reshape(-1, 147).max(axis=1)  # 147 frames: over 1 period of 440 Hz
    assert env.min() > 0.45  # no dip where two renders meet (0.5 amplitude)
    ref = stretch_song_region(song.data, 0, song.frames, SR, 0.75, 0)
    assert ref.shape == out.shape


def test_mute_and_solo_work_at_another_tempo():
    """Stems stay sample-locked: muting the sine leaves exactly the other stem."""
    t = np.arange(3 * SR) / SR
    a = (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    b = (0.4 * np.sin(2 * np.pi * 660 * t)).astype(np.float32)
    song = Song.from_stems({"a": a, "b": b}, SR, SongMeta("two"))
    m = Mixer(song)
    m.start_at(0, playing=False)
    m.set_tempo(0.8, 0)
    switch_to_run(m)
    run = m.current_source
    wait_for(lambda: run.done)
    try:
        m.start_at(0, source=run)
        m.set_mute(0, True)
        m.process(np.zeros((512, 2), dtype=np.float32))  # the gain ramp
        y = play_all(m, max_frames=SR)[:, 0]
        assert abs(peak_hz(y[: SR // 2]) - 660.0) <= 3.0
        np.testing.assert_allclose(y[: SR // 2], run.data[1, 512 : 512 + SR // 2, 0], atol=1e-6)
    finally:
        m.close()


def test_loop_wraps_at_the_same_song_time_at_any_tempo():
    song = sine_song(8.0)
    la, lb = int(2.0 * SR), int(3.5 * SR)
    wraps = {}
    for tempo in (1.0, 0.75):
        m = Mixer(song, xfade_ms=5.0)
        m.set_loop(la, lb)
        m.start_at(la, playing=False)
        if tempo != 1.0:
            m.set_tempo(tempo, 0)
            switch_to_run(m, 64)
            loop_run, run = m.loop_source, m.current_source
            wait_for(lambda: loop_run is not None and loop_run.done and run.done)  # noqa: B023
        m.play()
        block = 64
        buf = np.zeros((block, 2), dtype=np.float32)
        positions = []
        for _ in range(int(4 * (lb - la) / tempo / block)):
            m.process(buf)
            positions.append(m.position)
        m.close()
        p = np.array(positions)
        drops = np.nonzero(np.diff(p) < 0)[0]
        assert len(drops) >= 2
        before, after = p[drops], p[drops + 1]
        step = block * tempo
        # Last position before each wrap is within one block of B, first after
        # it within one block of A: the loop points are song time.
        assert np.all(before <= lb) and np.all(before >= lb - step - 1), (tempo, before, lb)
        assert np.all(after >= la) and np.all(after <= la + step + 1), (tempo, after, la)
        wraps[tempo] = np.diff(drops) * block
    # The loop takes (B - A) / tempo of output time.
    assert abs(np.mean(wraps[0.75]) - (lb - la) / 0.75) <= 64
    assert abs(np.mean(wraps[1.0]) - (lb - la)) <= 64


def test_back_to_normal_plays_the_song_itself():
    song = sine_song(3.0)
    m = Mixer(song)
    m.start_at(0, playing=False)
    buf = np.zeros((512, 2), dtype=np.float32)
    m.set_tempo(0.6, 0)
    switch_to_run(m)
    m.set_tempo(1.0, 0)
    wait_for(lambda: (m.process(buf), m.current_source is m.song_source)[1])
    assert m.tempo == 1.0 and m.semitones == 0
    m.close()


def test_seek_at_another_tempo_lands_on_the_target():
    song = sine_song(6.0)
    m = Mixer(song)
    m.start_at(0, playing=True)
    buf = np.zeros((512, 2), dtype=np.float32)
    m.set_tempo(0.75, 0)
    switch_to_run(m)
    m.seek(4 * SR)
    assert m.pending_seek == 4 * SR
    wait_for(lambda: (m.process(buf), m.current_source.start == 4 * SR)[1])
    assert 4 * SR <= m.position <= 4 * SR + 512
    m.close()


@pytest.mark.parametrize("bad", ["0.2", "abc", "2", "nan"])
def test_bad_tempo_is_refused(bad):
    with pytest.raises(BadInput):
        check_tempo(bad)


@pytest.mark.parametrize("bad", ["13", "-13", "1.5", "x"])
def test_bad_transpose_is_refused(bad):
    with pytest.raises(BadInput):
        check_semitones(bad)


def test_workers_and_files_are_cleaned_up():
    song = sine_song(3.0)
    m = Mixer(song)
    m.start_at(0, playing=False)
    m.set_tempo(0.75, 0)
    switch_to_run(m)
    folder = m.tempo_control.folder
    assert folder is not None and any(folder.iterdir())
    m.close()
    assert not folder.exists()


def test_tempo_on_a_song_still_separating_continues_as_it_grows(tmp_path):
    """A run ends where the song ended; as the song grows, a new run takes over."""
    n = 12 * SR
    data = np.memmap(tmp_path / "sep.f32", dtype=np.float32, mode="w+", shape=(1, n, 2))
    t = np.arange(n) / SR
    data[0] = (0.4 * np.sin(2 * np.pi * 440 * t))[:, None]
    song = Song(["sine"], data, SR, SongMeta("growing"), available=4 * SR)
    m = Mixer(song)
    m.start_at(0, playing=False)
    m.set_tempo(1.25, 0)
    switch_to_run(m)
    first = m.current_source
    assert first.end == 4 * SR
    song.mark_available(n)  # the separation finishes
    m.play()
    buf = np.zeros((512, 2), dtype=np.float32)
    deadline = time.monotonic() + 60
    while m.position < 6 * SR:
        m.process(buf)
        time.sleep(512 / SR / 2)  # twice real time: the worker keeps up
        assert time.monotonic() < deadline, "playback never got past the first run"
    assert m.current_source is not first and m.current_source.end == n
    m.close()


def test_stretching_a_read_only_region_of_zero_or_one_frames():
    """A seek to the very end at 0.85x renders 0 or 1 frames of the shared (read-only) song."""
    from stemtui.core.tempo.stretch import stretch_stem

    song = np.zeros((SR, 2), dtype=np.float32)
    song.flags.writeable = False
    for n in (0, 1, 2):
        out = stretch_stem(song[:n], SR, 0.85, 0, 4)
        assert out.shape == (4, 2) and out.dtype == np.float32
