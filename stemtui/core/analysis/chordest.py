"""Chords and key from the harmonic stems: chroma, triad templates, Viterbi; Krumhansl-Schmuckler.

- :func:`harmonic_chroma`: a CQT chroma of the harmonic stems (everything
  but drums and vocals, the bass left out: its low notes smear the CQT), at
  :data:`HOP` samples of :data:`ANALYSIS_SR`.
- :func:`estimate_chords`: 24 major/minor triads plus ``N`` in Harte
  notation. Each frame (or beat, given beat times) is scored against the
  triad templates; the bass line's pitch classes, when known, vote for the
  root; :func:`librosa.sequence.viterbi_discriminative` smooths the path.
- :func:`estimate_key`: the Krumhansl-Kessler profiles correlated with the
  song's chroma (harmonic stems plus bass), e.g. ``D:maj``.
- :func:`transpose_label`: a Harte label (chord or key) ``n`` semitones up.

librosa is imported inside the functions (it is slow to import).
"""

from __future__ import annotations

import re

import numpy as np

ANALYSIS_SR = 22050
HOP = 2048  # ~93 ms frames
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_LABEL = re.compile(r"^(?P<root>[A-G])(?P<acc>[#b]*):?(?P<rest>.*)$")

#: Chord states: C:maj ... B:maj, C:min ... B:min, N.
CHORD_LABELS = (*(f"{p}:maj" for p in PITCH_NAMES), *(f"{p}:min" for p in PITCH_NAMES), "N")
#: Krumhansl-Kessler key profiles (C major, C minor).
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

P_STAY = 0.98  # per step (a frame, or half a beat), whose evidence is weighted by its length
_KAPPA = 12.0  # how sharply the template fit turns into a probability
_BASS_WEIGHT = 0.25
_SILENT_DB = -45.0  # frames this far under the song's loudest are no-chord


def pitch_class(name: str) -> int:
    """``"F#"`` / ``"Gb"`` -> 6; ValueError for anything else."""
    m = _LABEL.match(name)
    if not m or m.group("rest") or set(m.group("acc")) - {"#", "b"}:
        raise ValueError(f"not a pitch name: {name!r}")
    return (_PC[m.group("root")] + m.group("acc").count("#") - m.group("acc").count("b")) % 12


def transpose_label(label: str, semitones: int) -> str:
    """A Harte chord or key label moved ``semitones`` up (``"D:maj"``, 2 -> ``"E:maj"``); ``N``/``X`` stay.

    The quality and any bass/extensions after the root are kept; a ``/``
    bass given as a degree (``C:maj/3``) moves with the root.
    """
    if label in ("N", "X", ""):
        return label
    m = _LABEL.match(label)
    if not m:
        raise ValueError(f"not a chord label: {label!r}")
    pc = pitch_class(m.group("root") + m.group("acc"))
    rest = m.group("rest")
    return f"{PITCH_NAMES[(pc + semitones) % 12]}{':' if rest else ''}{rest}"


def harmonic_chroma(y: np.ndarray, sr: int = ANALYSIS_SR) -> tuple[np.ndarray, np.ndarray]:
    """``(chroma (12, T), rms_db (T,))`` of mono ``y``, one frame per :data:`HOP` samples.

    ``rms_db`` is each frame's level relative to the loudest frame (0 dB).
    """
    import librosa

    n = 1 + len(y) // HOP
    if len(y) < HOP or not np.any(y):
        return np.zeros((12, n)), np.full(n, -120.0)
    c = librosa.feature.chroma_cqt(
        y=y, sr=sr, hop_length=HOP, fmin=librosa.note_to_hz("C2"), n_octaves=6, bins_per_octave=36, norm=None
    )
    rms = librosa.feature.rms(y=y, frame_length=2 * HOP, hop_length=HOP)[0]
    m = min(c.shape[1], len(rms))
    c, rms = c[:, :m], rms[:m]
    db = 20 * np.log10(np.maximum(rms, 1e-10) / max(float(rms.max()), 1e-10))
    return c, db


def _templates() -> np.ndarray:
    t = np.zeros((24, 12))
    for r in range(12):
        for q, third in ((0, 4), (1, 3)):
            t[q * 12 + r, [r, (r + third) % 12, (r + 7) % 12]] = 1.0
    return t / np.linalg.norm(t, axis=1, keepdims=True)


def _sync(x: np.ndarray, frames: np.ndarray, agg: str = "mean") -> np.ndarray:
    """Columns of ``x`` aggregated between consecutive ``frames`` (librosa.util.sync's convention)."""
    import librosa

    return librosa.util.sync(x, frames.tolist(), aggregate=np.median if agg == "median" else np.mean, pad=True)


def estimate_chords(
    chroma: np.ndarray,
    rms_db: np.ndarray,
    duration: float,
    beats: np.ndarray | None = None,
    bass_chroma: np.ndarray | None = None,
) -> list[tuple[float, float, str]]:
    """``[(start, end, label)]`` covering ``[0, duration]``, neighbours merged.

    Args:
        chroma: ``(12, T)`` from :func:`harmonic_chroma`.
        rms_db: ``(T,)`` frame levels from it.
        duration: The song's length (s).
        beats: Beat times (s): decode one chord per beat (chords change on beats).
        bass_chroma: ``(12, T)`` weights of the bass's pitch classes per frame, or ``None``.
    """
    import librosa

    t_frames = chroma.shape[1]
    if t_frames == 0 or duration <= 0:
        return []
    bass = np.zeros_like(chroma) if bass_chroma is None else bass_chroma[:, :t_frames]
    if beats is not None and len(beats) >= 2:
        # Half beats: a grid at half the tempo, or a phase off by a beat,
        # must not put two chords in one step.
        beats = np.sort(np.concatenate((beats, (beats[:-1] + beats[1:]) / 2)))
        bf = librosa.time_to_frames(beats, sr=ANALYSIS_SR, hop_length=HOP)
        bf = np.unique(np.clip(bf, 0, t_frames))
        bf = bf[(bf > 0) & (bf < t_frames)]
        c, b, lv = _sync(chroma, bf), _sync(bass, bf), _sync(rms_db[None, :], bf, "median")[0]
        edges = np.concatenate(([0.0], librosa.frames_to_time(bf, sr=ANALYSIS_SR, hop_length=HOP), [duration]))
    else:
        c, b, lv = chroma, bass, rms_db
        edges = np.minimum(np.arange(t_frames + 1) * HOP / ANALYSIS_SR, duration)
        edges[-1] = duration
    # Evidence counts per second, not per step: a long step pooled many frames.
    weight = np.maximum(np.diff(edges)[: c.shape[1]], 1e-3) / (HOP / ANALYSIS_SR)
    c = np.log1p(100.0 * c / max(float(c.max()), 1e-10))  # compress, so one loud note does not rule
    norm = np.linalg.norm(c, axis=0)
    cn = c / np.maximum(norm, 1e-9)
    fit = _templates() @ cn  # (24, T) cosine
    bn = b / np.maximum(b.sum(axis=0), 1e-9)
    fit += _BASS_WEIGHT * np.vstack([bn, bn])  # the bass on the root
    n_fit = np.where(lv < _SILENT_DB, 1.5, 0.45)  # no-chord wins in near-silence
    fit = np.vstack([fit, n_fit[None, :]])
    prob = np.exp(_KAPPA * weight[None, :] * (fit - fit.max(axis=0, keepdims=True)))
    prob /= prob.sum(axis=0, keepdims=True)
    trans = librosa.sequence.transition_loop(25, P_STAY)
    path = librosa.sequence.viterbi_discriminative(prob, trans)
    out: list[tuple[float, float, str]] = []
    for i, s in enumerate(path):
        a, z, lab = float(edges[i]), float(edges[i + 1]), CHORD_LABELS[int(s)]
        if z <= a:
            continue
        if out and out[-1][2] == lab:
            out[-1] = (out[-1][0], z, lab)
        else:
            out.append((a, z, lab))
    return out


#: How well a chord fits a key, by (semitones above the tonic, quality); others -0.5.
_FIT = {
    "maj": {(0, "maj"): 1.0, (2, "min"): 0.5, (4, "min"): 0.4, (5, "maj"): 0.7, (7, "maj"): 0.8, (9, "min"): 0.5},
    "min": {
        (0, "min"): 1.0,
        (3, "maj"): 0.5,
        (5, "min"): 0.7,
        (7, "min"): 0.5,
        (7, "maj"): 0.8,
        (8, "maj"): 0.5,
        (10, "maj"): 0.5,
    },
}


def _chord_fit(chords: list[tuple[float, float, str]]) -> dict[str, float]:
    """Per key, the duration-weighted fit of the chords to it (tonic, dominant, diatonic, foreign)."""
    total = sum(b - a for a, b, lab in chords if lab != "N")
    out: dict[str, float] = {}
    if total <= 0:
        return out
    for mode, table in _FIT.items():
        for r in range(12):
            fit = 0.0
            for a, b, lab in chords:
                if lab == "N":
                    continue
                root, q = lab.split(":")
                fit += (b - a) * table.get(((pitch_class(root) - r) % 12, q), -0.5)
            out[f"{PITCH_NAMES[r]}:{mode}"] = fit / total
    return out


def estimate_key(
    chroma: np.ndarray,
    rms_db: np.ndarray,
    bass_chroma: np.ndarray | None = None,
    chords: list[tuple[float, float, str]] | None = None,
) -> str | None:
    """The key as ``"D:maj"`` / ``"B:min"``; ``None`` without harmonic content.

    The Krumhansl-Kessler correlation of the song's chroma, plus how well the
    chords found fit each key (which tells A minor with its E major chord
    from C major, where the pitch-class profile alone often cannot).
    """
    keep = rms_db > _SILENT_DB
    if chroma.size == 0 or not np.any(keep):
        return None
    c = chroma[:, keep]
    prof = (c / np.maximum(c.sum(axis=0, keepdims=True), 1e-9)).sum(axis=1)
    if bass_chroma is not None and bass_chroma.shape[1] >= chroma.shape[1]:
        b = bass_chroma[:, : chroma.shape[1]][:, keep]
        prof = prof + 0.5 * b.sum(axis=1) / max(float(b.sum()), 1e-9) * keep.sum()
    if not np.any(prof > 0) or np.ptp(prof) == 0:
        return None
    fit = _chord_fit(chords or [])
    scores = []
    for mode, p in (("maj", _KK_MAJOR), ("min", _KK_MINOR)):
        for r in range(12):
            name = f"{PITCH_NAMES[r]}:{mode}"
            scores.append((float(np.corrcoef(prof, np.roll(p, r))[0, 1]) + fit.get(name, 0.0), name))
    return max(scores)[1]
