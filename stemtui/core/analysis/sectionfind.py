"""Song sections from how the stems change together: beat features, novelty, clustering.

1. :func:`stem_features`: per stem, a log-mel spectrum (the drums' pattern,
   the timbre of the others) and a level, on frames of :data:`HOP` samples.
2. :func:`estimate_sections`: the frames are pooled per beat (or per
   half-second without a grid), each dimension standardized; a
   self-similarity matrix of the beats, then Foote's checkerboard novelty
   (two bars either side) peaks where the stems change at once. Peaks are
   snapped to the grid's bar lines.
3. Labels: segments whose mean features lie within twice the typical
   spread inside one segment (its first half against its second) join one
   cluster (average linkage); letters go by first appearance: ``A B A B C``.

librosa and scipy are imported inside the functions.
"""

from __future__ import annotations

import itertools
import string

import numpy as np

SECTION_SR = 22050
HOP = 1024  # ~46 ms
_N_MELS = 24
_KERNEL_BEATS = 8  # half the checkerboard: two bars of four
_MIN_BEATS = 8  # shortest section
_FALLBACK_STEP = 0.5  # s per "beat" without a grid
_KERNEL_S = 4.0  # at least this much song either side of a boundary
_SAME = 0.085  # segments whose beats are this close to as alike as each one's own share a letter
_PEAK_SD = 1.0  # a boundary's novelty stands this many deviations above the median


def stem_features(stems: dict[str, np.ndarray]) -> np.ndarray:
    """``(dims, T)``: log-mel and log-level of each mono stem at :data:`SECTION_SR`; stems in sorted order."""
    import librosa

    blocks = []
    n = max((len(y) for y in stems.values()), default=0)
    for name in sorted(stems):
        y = np.zeros(n, dtype=np.float32)
        y[: len(stems[name])] = stems[name]
        mel = librosa.feature.melspectrogram(y=y, sr=SECTION_SR, n_fft=2048, hop_length=HOP, n_mels=_N_MELS, fmax=10000)
        level = mel.sum(axis=0, keepdims=True)
        blocks.append(np.log1p(mel / max(float(mel.max()), 1e-10) * 1e3))
        blocks.append(2.0 * np.log1p(level / max(float(level.max()), 1e-10) * 1e3))
    return np.vstack(blocks) if blocks else np.zeros((0, 0))


def _beat_frames(duration: float, beats: np.ndarray | None, t_frames: int) -> np.ndarray:
    step = HOP / SECTION_SR
    times = beats if beats is not None and len(beats) >= 2 * _MIN_BEATS else np.arange(0.0, duration, _FALLBACK_STEP)
    f = np.unique(np.clip(np.round(np.asarray(times) / step).astype(int), 0, t_frames))
    return f[(f > 0) & (f < t_frames)]


def _affinity(x: np.ndarray) -> np.ndarray:
    """``exp(-d² / median d²)`` between the columns of ``x``."""
    sq = (x * x).sum(axis=0)
    d = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x.T @ x), 0.0)
    sigma = float(np.median(d[d > 0])) if np.any(d > 0) else 1.0
    return np.exp(-d / sigma)


def _novelty(x: np.ndarray, half: int) -> np.ndarray:
    """Foote novelty of the columns of ``x`` with a Gaussian-tapered checkerboard of ``2 * half``."""
    s = _affinity(x)
    g = np.arange(-half, half) + 0.5
    taper = np.exp(-0.5 * (g / (0.5 * half)) ** 2)
    kernel = np.outer(np.sign(g), np.sign(g)) * np.outer(taper, taper)
    n = s.shape[0]
    pad = np.pad(s, half, mode="edge")
    return np.array([float((pad[i : i + 2 * half, i : i + 2 * half] * kernel).sum()) for i in range(n)])


def _peaks(nov: np.ndarray, min_gap: int) -> list[int]:
    """Indices of clear local maxima, at least ``min_gap`` apart, strongest first kept."""
    if len(nov) == 0 or float(nov.max()) <= 0:
        return []
    v = np.maximum(nov, 0.0) / float(nov.max())
    inner = v[v > 0]
    floor = float(np.median(inner) + _PEAK_SD * np.std(inner))
    cand = [i for i in range(1, len(v) - 1) if v[i] >= v[i - 1] and v[i] >= v[i + 1] and v[i] > floor]
    chosen: list[int] = []
    for i in sorted(cand, key=lambda k: -v[k]):
        if all(abs(i - j) >= min_gap for j in chosen):
            chosen.append(i)
    return sorted(chosen)


def _labels(s: np.ndarray, bounds: list[int]) -> list[str]:
    """A letter per segment ``bounds[i]:bounds[i+1]`` of the beat affinity matrix ``s``.

    Two segments are alike by how their beats resemble each other compared
    with how each one's beats resemble themselves: ``mean S[i, j] /
    sqrt(mean S[i, i] * mean S[j, j])``, which is 1 for a repeat and does not
    depend on how much a section varies inside.
    """
    from scipy.cluster.hierarchy import fcluster, linkage  # type: ignore[import-untyped]
    from scipy.spatial.distance import squareform  # type: ignore[import-untyped]

    segs = list(itertools.pairwise(bounds))
    if len(segs) == 1:
        return ["A"]
    m = np.array([[float(s[a:b, c:d].mean()) for c, d in segs] for a, b in segs])
    diag = np.sqrt(np.maximum(np.outer(np.diag(m), np.diag(m)), 1e-12))
    dist = np.clip(1.0 - m / diag, 0.0, None)
    np.fill_diagonal(dist, 0.0)
    ids = fcluster(
        linkage(squareform((dist + dist.T) / 2, checks=False), method="average"), t=_SAME, criterion="distance"
    )
    letters: dict[int, str] = {}
    out = []
    for c in ids:
        if c not in letters:
            k = len(letters)
            letters[c] = string.ascii_uppercase[k] if k < 26 else f"Z{k - 25}"
        out.append(letters[c])
    return out


def estimate_sections(
    features: np.ndarray, duration: float, beats: np.ndarray | None = None, bar_lines: np.ndarray | None = None
) -> list[tuple[float, float, str]]:
    """``[(start, end, label)]`` covering ``[0, duration]``; ``[]`` when there is nothing to cut.

    Args:
        features: ``(dims, T)`` from :func:`stem_features`.
        duration: The song's length (s).
        beats: Beat times (s) to pool on; else half-second steps.
        bar_lines: Downbeat times (s) the boundaries snap to.
    """
    import librosa

    if features.size == 0 or duration <= 0:
        return []
    t_frames = features.shape[1]
    bf = _beat_frames(duration, beats, t_frames)
    if len(bf) < 2 * _MIN_BEATS:
        return [(0.0, float(duration), "A")] if duration > 0 and np.any(features) else []
    x = librosa.util.sync(features, bf.tolist(), aggregate=np.mean, pad=True)
    sd = x.std(axis=1, keepdims=True)
    x = (x - x.mean(axis=1, keepdims=True)) / np.where(sd > 1e-9, sd, 1.0)
    times = np.concatenate(([0.0], librosa.frames_to_time(bf, sr=SECTION_SR, hop_length=HOP)))
    step = float(np.median(np.diff(times)))
    half = max(_KERNEL_BEATS, round(_KERNEL_S / step))  # a double-time grid has short beats
    nov = _novelty(x, half)
    # No section shorter than the kernel, first and last ones included (the
    # edges of the song are always "novel": silence against music).
    inner = np.zeros_like(nov)
    inner[half : len(nov) - half] = nov[half : len(nov) - half]
    cuts = _peaks(inner, half)
    bt = [float(times[p]) for p in cuts]
    if bar_lines is not None and len(bar_lines):
        bl = np.asarray(bar_lines, dtype=float)
        bt = [float(bl[np.argmin(np.abs(bl - t))]) for t in bt]
    bt = sorted({t for t in bt if 0.0 < t < duration})
    idx = [0, *(int(np.searchsorted(times, t)) for t in bt), x.shape[1]]
    keep = [0] + [i for i in range(1, len(idx) - 1) if idx[i] > idx[i - 1]] + [len(idx) - 1]
    idx = [idx[i] for i in keep]
    edges = [0.0, *(bt[i - 1] for i in keep[1:-1]), float(duration)]
    labels = _labels(_affinity(x), idx)
    return [(edges[i], edges[i + 1], labels[i]) for i in range(len(labels))]
