"""The song map's quality on synthesized multitrack songs with known truth, scored with mir_eval.

Seven songs (stemtui.core.analysis.synthsongs.TEST_SPECS): seven keys, major
and minor, 84-150 BPM, forms like ABABCAB, pads, plucked arpeggios and
distorted chugs, drums that change at each section, a bass with passing
notes, detached or legato. The set means must clear thresholds a little
below the issue's targets:

===============================  ==========  ======
score                            test        target
===============================  ==========  ======
chords, WCSR majmin (mean)       0.80        0.85
sections, boundary F ±1.5 s      0.75        0.80
key accuracy (share of the set)  0.80        0.90
bass, onset F 50 ms / 50 cents   0.80        0.85
===============================  ==========  ======

Measured at writing (``python -m stemtui.bench analysis --held-out``), set
means: chords 0.958, boundaries 0.960 (trimmed: the song's own start and
end not counted), key 1.0, bass 0.995; on the same specs drawn with other
seeds (never tuned on): 0.944, 0.927, 1.0, 1.0.
"""

from __future__ import annotations

import numpy as np
import pytest

from stemtui.bench.mapscores import bass_f, chord_wcsr, score
from stemtui.core.analysis import synthsongs
from stemtui.core.analysis.songmap import analyze_stems

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scored() -> list[dict[str, float]]:
    out = []
    for spec in synthsongs.TEST_SPECS:
        song = synthsongs.render(spec)
        out.append(score(song.truth, analyze_stems(song.stems, song.sr)))
    return out


def test_the_set_is_varied_enough():
    specs = synthsongs.TEST_SPECS
    assert len(specs) >= 5
    assert {s.mode for s in specs} == {"maj", "min"}
    assert len({s.tonic for s in specs}) >= 5 and len({s.bpm for s in specs}) >= 5
    assert len({s.form for s in specs}) >= 4
    assert all(set(s.timbres.values()) == {"pad", "pluck", "dist"} for s in specs)


def mean(scored: list[dict[str, float]], key: str) -> float:
    return float(np.mean([s[key] for s in scored]))


def test_chords_weighted_symbol_recall_majmin(scored):
    assert mean(scored, "chords_majmin") >= 0.80, [round(s["chords_majmin"], 3) for s in scored]


def test_section_boundaries_hit_rate_at_1_5_s(scored):
    assert mean(scored, "boundary_f") >= 0.75, [round(s["boundary_f"], 3) for s in scored]


def test_key_accuracy(scored):
    assert mean(scored, "key_exact") >= 0.80, [s["key_exact"] for s in scored]


def test_bass_note_onset_f_measure(scored):
    assert mean(scored, "bass_onset_f") >= 0.80, [round(s["bass_onset_f"], 3) for s in scored]


def test_repeated_sections_share_letters(scored):
    # Not one of the targets, but "A B A B C" is what the lane shows.
    assert mean(scored, "pairwise_f") >= 0.75, [round(s["pairwise_f"], 3) for s in scored]


def test_the_demo_song_from_another_generator():
    """The demo (core/library/demo.py, not written for this) scored the same way: Am F C G a bar."""
    from stemtui.core.analysis.synthsongs import Truth
    from stemtui.core.library import demo

    bar = 60.0 / demo.DEMO_BPM * demo.DEMO_BEATS_PER_BAR
    names = {"Am": "A:min", "F": "F:maj", "C": "C:maj", "G": "G:maj"}
    prog = [demo._PROGRESSION[b % 4] for b in range(demo.DEMO_BARS)]
    chords = [(b * bar, (b + 1) * bar, names[c]) for b, c in enumerate(prog)]
    beat = bar / demo.DEMO_BEATS_PER_BAR
    bass = [
        (b * bar + at * beat, b * bar + (at + length) * beat, demo._ROOTS[c] + step)
        for b, c in enumerate(prog)
        for at, length, step in demo._BASS_FIGURE
    ]
    stems = demo.synthesize()
    duration = len(stems["bass"]) / synthsongs.SR
    truth = Truth("A:min", demo.DEMO_BPM, duration, 0.0, chords, [(0.0, duration, "A")], bass)
    m = analyze_stems(stems, synthsongs.SR)
    got = {"chords_majmin": chord_wcsr(truth, m), "bass_onset_f": bass_f(truth, m)}
    assert got["chords_majmin"] >= 0.85 and got["bass_onset_f"] >= 0.85, got
    assert m.bpm == pytest.approx(demo.DEMO_BPM, rel=0.01)
