"""The song map scored against a synthesized song's truth with mir_eval (tests and the benchmark).

- chords: weighted chord symbol recall, ``majmin``;
- sections: boundary hit rate F-measure at ±1.5 s (``trim=True``: the song's
  own start and end, which every estimate gets right, are not counted),
  and the pairwise label F-measure;
- key: exact (1/0) and the MIREX weighted score;
- bass notes: note onset F-measure, 50 ms onsets, pitch within 50 cents,
  offsets ignored.
"""

from __future__ import annotations

import numpy as np

from stemtui.core.analysis.songmap import SongMap
from stemtui.core.analysis.synthsongs import Truth


def _adjusted(ref: list[tuple[float, float, str]], est: list[tuple[float, float, str]], fill: str):
    import mir_eval

    ri = np.array([[a, b] for a, b, _ in ref])
    rl = [lab for _, _, lab in ref]
    if est:
        ei, el = np.array([[a, b] for a, b, _ in est]), [lab for _, _, lab in est]
    else:
        ei, el = np.array([[ri.min(), ri.max()]]), [fill]
    ei, el = mir_eval.util.adjust_intervals(ei, el, ri.min(), ri.max(), fill, fill)
    return ri, rl, ei, el


def chord_wcsr(truth: Truth, song_map: SongMap) -> float:
    """Weighted chord symbol recall, majmin."""
    import mir_eval

    ri, rl, ei, el = _adjusted(truth.chords, [(c.start, c.end, c.label) for c in song_map.chords], "N")
    mi, r2, e2 = mir_eval.util.merge_labeled_intervals(ri, rl, ei, el)
    return float(
        mir_eval.chord.weighted_accuracy(mir_eval.chord.majmin(r2, e2), mir_eval.util.intervals_to_durations(mi))
    )


def section_scores(truth: Truth, song_map: SongMap, window: float = 1.5) -> dict[str, float]:
    """``boundary_f`` (trimmed), ``boundary_f_untrimmed`` and ``pairwise_f``."""
    import mir_eval

    ri, rl, ei, el = _adjusted(truth.sections, [(s.start, s.end, s.label) for s in song_map.sections], "?")
    return {
        "boundary_f": float(mir_eval.segment.detection(ri, ei, window=window, trim=True)[2]),
        "boundary_f_untrimmed": float(mir_eval.segment.detection(ri, ei, window=window, trim=False)[2]),
        "pairwise_f": float(mir_eval.segment.pairwise(ri, rl, ei, el)[2]),
    }


def key_scores(truth: Truth, song_map: SongMap) -> dict[str, float]:
    """``key_exact`` (1 or 0) and ``key_weighted`` (MIREX: fifths, relatives, parallels get part)."""
    import mir_eval

    def name(k: str) -> str:
        return k.replace(":maj", " major").replace(":min", " minor")

    if song_map.key is None:
        return {"key_exact": 0.0, "key_weighted": 0.0}
    return {
        "key_exact": float(song_map.key == truth.key),
        "key_weighted": float(mir_eval.key.weighted_score(name(truth.key), name(song_map.key))),
    }


def bass_f(truth: Truth, song_map: SongMap) -> float:
    """Note onset F-measure: onsets within 50 ms, pitch within 50 cents."""
    import mir_eval

    if not truth.bass_notes or not song_map.bass_notes:
        return float(not truth.bass_notes and not song_map.bass_notes)
    ref = np.array([[a, b] for a, b, _ in truth.bass_notes])
    refp = mir_eval.util.midi_to_hz(np.array([m for _, _, m in truth.bass_notes], dtype=float))
    est = np.array([[n.start, max(n.end, n.start + 1e-3)] for n in song_map.bass_notes])
    estp = mir_eval.util.midi_to_hz(np.array([n.midi for n in song_map.bass_notes], dtype=float))
    return float(
        mir_eval.transcription.precision_recall_f1_overlap(
            ref, refp, est, estp, onset_tolerance=0.05, pitch_tolerance=50.0, offset_ratio=None
        )[2]
    )


def tempo_ok(truth: Truth, song_map: SongMap, tol: float = 0.04) -> float:
    """1 if the tempo is within 4 % of the truth or of its double or half, else 0."""
    if song_map.bpm is None:
        return 0.0
    return float(any(abs(song_map.bpm / (truth.bpm * f) - 1) <= tol for f in (0.5, 1.0, 2.0)))


def score(truth: Truth, song_map: SongMap) -> dict[str, float]:
    """Every score of one song."""
    return {
        "chords_majmin": chord_wcsr(truth, song_map),
        **section_scores(truth, song_map),
        **key_scores(truth, song_map),
        "bass_onset_f": bass_f(truth, song_map),
        "tempo_ok": tempo_ok(truth, song_map),
    }
