"""The tempo control thread survives failures and reports them; a dead worker never freezes playback.

Real failures only: the scratch folder taken away under a command, and the
stretch worker processes killed while they render.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

import numpy as np

from stemtui.core.audio.mixer import Mixer
from tests.fault_inject import stretch_workers
from tests.unit.test_tempo import SR, sine_song, switch_to_run, wait_for


def kill_stretch_workers() -> int:
    """SIGKILL this process's stretch worker children (the runs' and the pool's spares)."""
    pids = stretch_workers(os.getpid())
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return len(pids)


def test_the_control_thread_survives_a_failing_command_and_reports_it():
    song = sine_song(6.0)
    m = Mixer(song)
    m.start_at(0, playing=False)
    m.set_tempo(0.75, 0)
    switch_to_run(m)
    tc = m.tempo_control
    assert tc.take_errors() == []
    shutil.rmtree(tc.folder)  # the next run has nowhere to go: its command raises
    m.seek(2 * SR)
    wait_for(lambda: not tc.seeking, timeout=10)
    (line,) = tc.take_errors()
    assert line.startswith("tempo: seek failed: FileNotFoundError"), line
    assert tc.take_errors() == []  # taken once
    # The thread is alive: the next command is served.
    m.set_tempo(1.0, 0)
    buf = np.zeros((512, 2), dtype=np.float32)
    wait_for(lambda: (m.process(buf), m.current_source is m.song_source)[1], timeout=10)
    assert m.take_tempo_errors() == []
    m.close()


def test_a_run_whose_worker_dies_is_replaced_and_the_song_plays_at_100_meanwhile():
    song = sine_song(90.0, extra_stems=0)
    m = Mixer(song)
    m.start_at(0, playing=False)
    m.set_tempo(0.6, 0)
    switch_to_run(m)
    run = m.current_source
    assert kill_stretch_workers() >= 1
    wait_for(lambda: run.error is not None, timeout=10)
    assert not run.done, "the run finished before its worker was killed: make the song longer"
    # Play on, unpaced: past what the dead worker rendered, the player would
    # wait forever for audio that will not come.
    m.play()
    buf = np.zeros((512, 2), dtype=np.float32)
    wait_for(lambda: (m.process(buf), m.current_source is m.song_source)[1], timeout=10)
    errors = m.take_tempo_errors()
    assert len(errors) == 1, errors
    assert errors[0].startswith("stretch worker died; playing at 100 % while it restarts (tempo 60%"), errors
    assert m.tempo == 0.6 and m.semitones == 0  # the asked tempo is kept
    at = m.position
    for _ in range(40):
        m.process(buf)
        assert not m.starved
    assert m.position >= at + 39 * 512  # the song itself, at once
    assert np.abs(buf).max() > 0.4
    # A new run at the asked tempo takes over from the playhead, with new workers.
    wait_for(lambda: (m.process(buf), m.current_source is not m.song_source)[1], timeout=30)
    new = m.current_source
    assert new is not run and new.tempo == 0.6 and new.error is None
    assert set(new.pids).isdisjoint(run.pids)
    assert 0 < new.start <= at  # from the playhead (where the fallback began), not where the dead run did
    wait_for(lambda: new.ready >= m.source_position + 200 * 512, timeout=30)  # this loop is unpaced
    before = m.position
    for _ in range(200):
        m.process(buf)
        assert not m.starved
    # Stretched: 200 blocks of output are 0.6 x as many song frames.
    assert abs((m.position - before) - 0.6 * 200 * 512) <= 512
    assert m.take_tempo_errors() == []  # the streak was told once
    m.close()


def test_tempo_gives_up_after_three_deaths_in_a_row():
    song = sine_song(90.0, extra_stems=0)
    m = Mixer(song)
    m.start_at(0, playing=True)
    m.set_tempo(0.75, 0)
    buf = np.zeros((512, 2), dtype=np.float32)
    lines: list[str] = []
    # Every worker dies as soon as it exists, the restarts' too.
    deadline = time.monotonic() + 60
    while m.tempo != 1.0:
        assert time.monotonic() < deadline, f"tempo never gave up: {lines}"
        kill_stretch_workers()
        m.process(buf)
        lines += m.take_tempo_errors()
        time.sleep(0.01)
        assert len(lines) <= 2, lines
    wait_for(lambda: (m.process(buf), m.current_source is m.song_source and m.pending_seek is None)[1], timeout=10)
    lines += m.take_tempo_errors()
    assert len(lines) == 2, lines
    assert lines[0].startswith("stretch worker died; playing at 100 % while it restarts"), lines
    assert lines[1].startswith("stretch worker died 3 times in 30 s; tempo 75% given up, playing at 100 %"), lines
    tc = m.tempo_control
    assert tc.identity and tc._runs == []  # nothing left rendering
    at = m.position
    for _ in range(40):
        m.process(buf)
        assert not m.starved
    assert m.position == at + 40 * 512
    m.close()


def test_a_loop_run_whose_worker_dies_is_replaced():
    song = sine_song(40.0, extra_stems=0)
    m = Mixer(song)
    m.set_loop(2 * SR, 30 * SR)
    m.start_at(2 * SR, playing=False)
    m.set_tempo(0.7, 0)
    wait_for(lambda: m.loop_source is not None and m.loop_source.ready > 0, timeout=30)
    dead = m.loop_source
    for pid in dead.pids:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: m.loop_source is not dead and m.loop_source is not None, timeout=10)
    new = m.loop_source
    assert (new.start, new.tempo, new.error) == (2 * SR, 0.7, None)
    wait_for(lambda: new.ready > SR, timeout=30)
    (line,) = m.take_tempo_errors()
    assert line.startswith("stretch worker died; playing at 100 % while it restarts (tempo 70%"), line
    assert m.tempo == 0.7
    m.close()


def test_a_seek_whose_run_fails_lands_unstretched():
    song = sine_song(8.0)
    m = Mixer(song)
    m.start_at(0, playing=True)
    m.set_tempo(0.75, 0)
    switch_to_run(m)
    tc = m.tempo_control
    for f in tc.folder.glob("song-*.f32"):
        f.unlink()  # the song copy the workers read: the next worker fails to start its job
    m.seek(5 * SR)
    buf = np.zeros((512, 2), dtype=np.float32)
    wait_for(lambda: (m.process(buf), m.pending_seek is None and m.current_source is m.song_source)[1], timeout=20)
    assert 5 * SR <= m.position <= 5 * SR + 4 * 512
    # Each new run fails the same way: after three tries it plays on unstretched.
    wait_for(lambda: (m.process(buf), m.tempo == 1.0)[1], timeout=20)
    first, gave_up = m.take_tempo_errors()
    assert first.startswith("stretch worker died; playing at 100 % while it restarts"), first
    assert "given up, playing at 100 %" in gave_up and "FileNotFoundError" in gave_up, gave_up
    assert m.tempo == 1.0
    m.close()
