"""The tempo control thread survives failures and reports them; a dead worker never freezes playback.

Real failures only: the scratch folder taken away under a command, and the
stretch worker processes killed while they render.
"""

from __future__ import annotations

import os
import shutil
import signal

import numpy as np

from stemtui.core.audio.mixer import Mixer
from tests.unit.test_tempo import SR, sine_song, switch_to_run, wait_for


def kill_stretch_workers() -> int:
    """SIGKILL this process's stretch worker children (the runs' and the pool's spares)."""
    n = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as fh:
                cmd = fh.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"stemtui.core.tempo.stretchworker" in cmd:
            os.kill(int(d), signal.SIGKILL)
            n += 1
    return n


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


def test_a_run_whose_worker_dies_is_reported_and_playback_goes_on_at_100():
    song = sine_song(90.0, extra_stems=0)
    m = Mixer(song)
    m.start_at(0, playing=False)
    m.set_tempo(0.6, 0)
    switch_to_run(m)
    run = m.current_source
    assert kill_stretch_workers() >= 1
    wait_for(lambda: run.error is not None, timeout=10)
    assert not run.done, "the run finished before its worker was killed: make the song longer"
    ready = run.ready
    # Play on, unpaced: past what the dead worker rendered, the player would
    # wait forever for audio that will not come.
    m.play()
    buf = np.zeros((512, 2), dtype=np.float32)
    wait_for(lambda: (m.process(buf), m.current_source is m.song_source)[1], timeout=10)
    errors = m.take_tempo_errors()
    assert len(errors) == 1 and "tempo 60%: the stretch worker failed" in errors[0], errors
    assert "playing the song at 100 %" in errors[0], errors
    assert m.tempo == 1.0 and m.semitones == 0  # what is heard
    at = m.position
    for _ in range(40):
        m.process(buf)
        assert not m.starved
    assert m.position >= at + 39 * 512
    assert np.abs(buf).max() > 0.4  # the sine, unstretched
    assert ready < run.frames
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
    (line,) = m.take_tempo_errors()
    assert "the stretch worker failed" in line and "FileNotFoundError" in line, line
    m.close()
