"""The speed trainer: the plan (pure), the exported session, and the live wraps.

The song is a 440 Hz sine with a 2 kHz marker burst at the loop start, so
every pass's start is found in the audio itself: the export's passes are
measured for length (loop / tempo) and pitch (440 Hz at every tempo); the
live path (Mixer + TempoControl with real stretch workers, paced at real
time) is checked for gaps at the wraps and for the old tempo bleeding in.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from stemtui.core.audio.mixer import Mixer
from stemtui.core.audio.song import Song, SongMeta
from stemtui.core.errors import BadInput
from stemtui.core.library.trainsession import export_session
from stemtui.core.tempo.trainer import parse_trainer, status_line

SR = 44100
A_S, B_S = 1.0, 2.5
BURST_S = 0.04


def marker_song(seconds: float = 5.0) -> Song:
    """A 440 Hz sine; a 2 kHz burst for the first 40 ms after the loop start A."""
    t = np.arange(int(seconds * SR)) / SR
    x = 0.5 * np.sin(2 * np.pi * 440 * t)
    burst = (t >= A_S) & (t < A_S + BURST_S)
    x[burst] += 0.4 * np.sin(2 * np.pi * 2000 * t[burst])
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(len(t)) * 0.01
    return Song.from_stems({"sine": x.astype(np.float32), "noise": noise.astype(np.float32)}, SR, SongMeta("marker"))


def looped_mixer(song: Song) -> Mixer:
    m = Mixer(song, xfade_ms=5.0)
    m.set_mute(song.index("noise"), True)
    m.set_loop(int(A_S * SR), int(B_S * SR))
    return m


def burst_onsets(y: np.ndarray) -> np.ndarray:
    """Sample indices where the 2 kHz marker starts (half its peak envelope, rising)."""
    n = np.arange(len(y))
    base = y * np.exp(-2j * np.pi * 2000 * n / SR)
    w = np.hanning(441)
    env = np.abs(np.convolve(base, w / w.sum(), mode="same"))
    above = env > 0.5 * env.max()
    rises = np.nonzero(above[1:] & ~above[:-1])[0] + 1
    if above[0]:
        rises = np.concatenate([[0], rises])
    return rises


def peak_hz(x: np.ndarray) -> float:
    w = x * np.hanning(len(x))
    spec = np.abs(np.fft.rfft(w, 4 * len(x)))
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1 : k + 2] + 1e-12)
    k += 0.5 * (a - c) / (a - 2 * b + c)
    return k * SR / (4 * len(x))


def quiet_runs_ms(y: np.ndarray, win: int = 44) -> float:
    """The longest stretch of ~1 ms windows with near-zero RMS, in ms."""
    m = len(y) // win
    rms = np.sqrt((y[: m * win].reshape(m, win) ** 2).mean(axis=1))
    quiet = rms < 0.05
    best = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        best = max(best, run)
    return best * win / SR * 1000


# -- the plan -------------------------------------------------------------
def test_percent_and_factor_specs_are_the_same_plan():
    a = parse_trainer("70:5:2:100")
    b = parse_trainer("0.7:0.05:2:1.0")
    assert a == b
    assert a.tempos == (0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
    assert a.total == 14
    assert a.schedule()[:5] == [0.7, 0.7, 0.75, 0.75, 0.8]
    assert parse_trainer("70:5:2").end == 1.0  # END defaults to 100 %


def test_passes_cap_or_extend_the_plan():
    spec = parse_trainer("70:10:1:100", passes=6)
    assert spec.schedule() == [0.7, 0.8, 0.9, 1.0, 1.0, 1.0]
    assert parse_trainer("70:10:2:100", passes=3).schedule() == [0.7, 0.7, 0.8]
    # A step that overshoots stops at END.
    assert parse_trainer("70:20:1:100").tempos == (0.7, 0.9, 1.0)


def test_status_line():
    assert status_line(3, 12, 0.8) == "pass 3/12 · 80 %"
    assert status_line(13, 12, 1.0) == "pass 13 · 100 %"


@pytest.mark.parametrize(
    ("spec", "passes", "why"),
    [
        ("70:5", None, "expected START:STEP:EVERY"),
        ("70:x:2:100", None, "expected START:STEP:EVERY"),
        ("90:5:2:80", None, "START 90 % is above END 80 %"),
        ("70:0:2:100", None, "STEP must be above 0"),
        ("70:-5:2:100", None, "STEP must be above 0"),
        ("70:5:0:100", None, "EVERY must be"),
        ("70:5:1.5:100", None, "EVERY must be"),
        ("40:5:2:100", None, "START 40 % is outside the allowed 50–150 %"),
        ("70:5:2:160", None, "END 160 % is outside"),
        ("70:5:2:nan", None, "expected START:STEP:EVERY"),
        ("70:5:2:100", 0, "must be at least 1"),
    ],
)
def test_bad_specs_name_the_input_and_the_reason(spec, passes, why):
    with pytest.raises(BadInput) as err:
        parse_trainer(spec, passes=passes)
    assert why in str(err.value)
    assert "\n" not in str(err.value)


# -- the exported session ----------------------------------------------------
def test_exported_session_has_each_pass_at_its_length_and_the_pitch_kept(tmp_path):
    song = marker_song()
    m = looped_mixer(song)
    spec = parse_trainer("70:10:1:100", passes=4)
    path, _lengths = export_session(m, spec, tmp_path / "session.wav")
    import soundfile as sf

    y, sr = sf.read(path, dtype="float32")
    y = y[:, 0]
    assert sr == SR
    loop = (B_S - A_S) * SR
    want = [loop / t for t in (0.7, 0.8, 0.9, 1.0)]
    assert abs(len(y) - sum(want)) <= 4
    on = burst_onsets(y)
    assert len(on) == 4, on
    # Pass 1 starts the file; the last one ends it.
    bounds = [0, *on[1:].tolist(), len(y)]
    got = np.diff(bounds)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert abs(g - w) / SR * 1000 <= 10, (k, g, w)
    for k in range(4):
        a, b = bounds[k] + int(0.1 * SR), bounds[k + 1] - int(0.02 * SR)
        assert abs(peak_hz(y[a:b]) - 440.0) <= 2.0, k
    assert quiet_runs_ms(y[256:]) <= 5.0  # no silence at the wraps
    m.close()


def test_exported_session_with_a_count_in_before_each_pass(tmp_path):
    song = marker_song()
    m = looped_mixer(song)
    from stemtui.core.analysis.beats import BeatGrid

    m.metronome.set_grid(BeatGrid(120.0, 0.0, 4, "manual"))
    m.metronome.set_count_in(2)
    spec = parse_trainer("80:20:1:100", passes=2)
    _path, lengths = export_session(m, spec, tmp_path / "ci.wav")
    # Two clicks at 120 BPM × tempo before each pass, then the loop at that tempo.
    loop = (B_S - A_S) * SR
    for t, n in zip((0.8, 1.0), lengths, strict=True):
        assert abs(n - (2 * 60 / (120 * t) * SR + loop / t)) <= 2
    m.close()


# -- live: the mixer's callback code with real stretch workers, paced ---------
def play_paced(m: Mixer, seconds_max: float, stop) -> np.ndarray:
    """Run 512-frame callbacks at real time until ``stop()``; the audio out."""
    block = 512
    buf = np.zeros((block, 2), np.float32)
    out = []
    t0 = time.monotonic()
    n = 0
    while n * block / SR < seconds_max and not stop():
        delay = t0 + n * block / SR - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        m.process(buf)
        out.append(buf[:, 0].copy())
        n += 1
    return np.concatenate(out)


def test_live_trainer_steps_at_the_wrap_without_gap_or_bleed():
    song = marker_song()
    m = looped_mixer(song)
    m.start_at(int(A_S * SR), playing=False)
    m.start_trainer(parse_trainer("70:10:1:100", passes=4))
    m.play()
    seen = []

    def stop() -> bool:
        st = m.trainer
        if st is not None and (not seen or seen[-1] != st.line):
            seen.append(st.line)
        return st is not None and st.done

    y = play_paced(m, 30.0, stop)
    st = m.trainer
    assert st is not None and st.done and st.late == 0, (st, m.take_tempo_errors())
    assert seen[-1].startswith("pass 5")
    assert [s for s in seen if s.startswith("pass ")][:4] == [
        "pass 1/4 · 70 %",
        "pass 2/4 · 80 %",
        "pass 3/4 · 90 %",
        "pass 4/4 · 100 %",
    ]
    on = burst_onsets(y)
    # The song plays until the first pass's run is rendered, then jumps to A:
    # the last five onsets are passes 1-4 and the start of pass 5.
    on = on[-5:]
    got = np.diff(on)
    loop = (B_S - A_S) * SR
    for k, t in enumerate((0.7, 0.8, 0.9, 1.0)):
        assert abs(got[k] - loop / t) / SR * 1000 <= 10, (k, got[k], loop / t)
    assert quiet_runs_ms(y[on[0] : on[-1]]) <= 5.0
    m.close()


def test_a_late_next_pass_repeats_the_tempo_instead_of_silence():
    """The next run is held back: the wrap plays the old tempo once more and it is told."""
    song = marker_song()
    m = looped_mixer(song)
    m.start_at(int(A_S * SR), playing=False)
    m.start_trainer(parse_trainer("70:20:1:90", passes=3))
    m.play()
    tc = m.tempo_control
    assert tc is not None
    held: dict = {"real": None, "done": False}

    class Unrendered:
        """The next run as the audio thread sees it while held: nothing rendered yet."""

        def __init__(self, run) -> None:
            self.run, self.avail, self.frames = run, np.zeros(1, np.int64), run.frames

        def run_frame(self, frame: int) -> int:
            return self.run.run_frame(frame)

    def stop() -> bool:
        st = m.trainer
        nxt = m._next_pass  # the test's hand on the audio side: the next run looks unrendered
        if not held["done"] and held["real"] is None and nxt is not None:
            held["real"] = nxt
            m._next_pass = nxt._replace(source=Unrendered(nxt.source))
        if held["real"] is not None and not held["done"] and st is not None and st.late >= 1:
            m._next_pass, held["done"] = held["real"], True  # rendered after all: taken at the next wrap
        return st is not None and st.done

    y = play_paced(m, 30.0, stop)
    st = m.trainer
    assert st is not None and st.done and st.late >= 1
    errors = m.take_tempo_errors()
    assert any("90 % was not rendered in time; one more pass at 70 %" in e for e in errors), errors
    on = burst_onsets(y)[-4:]
    loop = (B_S - A_S) * SR
    got = np.diff(on)
    # 70 %, 70 % again (late), then 90 %.
    for k, t in enumerate((0.7, 0.7, 0.9)):
        assert abs(got[k] - loop / t) / SR * 1000 <= 10, (k, got[k], loop / t)
    assert quiet_runs_ms(y[on[0] : on[-1]]) <= 5.0
    m.close()
