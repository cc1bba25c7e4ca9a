"""Latency: where an input frame sits in song time, and the stored calibration.

The recorder maps a take's first frame to song time from PortAudio's stream
times (:mod:`.capture`): the dac time of an output block already includes
the output latency, the adc time of an input block the input latency. What
neither accounts for (a converter's own delay, a speaker-to-microphone
distance, a driver that reports times badly) is the *calibration*: a
correction in seconds per (output device, input device) pair, measured by
``stemtui calibrate`` and added to every take's start.

:class:`CalibrationStore` keeps them in ``<data_dir>/calibration.json``
(versioned, written atomically). :func:`measure_offset` finds, by
cross-correlation, how late a recording of a known signal came back.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from stemtui.core.library.safeio import fsync_path

__all__ = [
    "CALIBRATION_FILE",
    "CalibrationStore",
    "calibration_song",
    "click_offset",
    "dominant",
    "find_anchor",
    "measure_offset",
    "steady_mask",
]

CALIBRATION_FILE = "calibration.json"
VERSION = 1


def _key(output: str, input_: str) -> str:
    return f"{output} -> {input_}"


class CalibrationStore:
    """Round-trip corrections per device pair under ``data_dir``."""

    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / CALIBRATION_FILE

    def _read(self) -> dict:
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(doc, dict) or doc.get("version") != VERSION or not isinstance(doc.get("pairs"), dict):
            return {}
        return doc["pairs"]

    def get(self, output: str, input_: str) -> float:
        """The correction in seconds for the pair (0 if never calibrated)."""
        entry = self._read().get(_key(output, input_))
        try:
            return float(entry["offset_ms"]) / 1000.0 if isinstance(entry, dict) else 0.0
        except (KeyError, TypeError, ValueError):
            return 0.0

    def set(self, output: str, input_: str, offset_s: float, confidence: float = 0.0) -> None:
        """Store the pair's correction: temp file in the same folder, fsync, rename."""
        pairs = self._read()
        pairs[_key(output, input_)] = {
            "offset_ms": round(offset_s * 1000.0, 3),
            "confidence": round(float(confidence), 3),
            "measured": round(time.time(), 1),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".calibration.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump({"version": VERSION, "pairs": pairs}, fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            fsync_path(self.path.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def steady_mask(anchors: np.ndarray, tempo: float = 1.0) -> np.ndarray:
    """Which song-clock anchors are of a steadily playing block.

    Steady: the song advanced by the block's length times ``tempo`` (not
    paused, not counting in, no loop wrap or seek inside the block).
    """
    if anchors.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    tol = np.maximum(2.0, 0.01 * tempo * anchors[:, 3])
    return (np.abs(anchors[:, 1] - anchors[:, 3] * tempo) <= tol) & (anchors[:, 1] > 0)


def find_anchor(anchors: np.ndarray, at: float, tempo: float = 1.0) -> np.ndarray | None:
    """The steady anchor row (see :func:`steady_mask`) nearest in time to ``at``, or ``None``."""
    steady = steady_mask(anchors, tempo)
    if not steady.any():
        return None
    rows = anchors[steady]
    return rows[int(np.argmin(np.abs(rows[:, 2] - at)))]


def dominant(values: np.ndarray, width: float = 0.001) -> float:
    """The median of the largest cluster of ``values`` (within ``width`` of the most common one).

    A clock offset sampled over a take: an output underrun or a dropped
    input block shifts it for the rest of the take, and the take is placed
    by the offset that held longest; the median of that cluster removes the
    timestamps' jitter.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("no values")
    bins = np.round(v / (width / 2)).astype(np.int64)
    uniq, counts = np.unique(bins, return_counts=True)
    # Count each bin with its neighbours, so a cluster split over two bins still wins.
    score = counts.copy()
    for d in (-2, -1, 1, 2):
        idx = np.searchsorted(uniq, uniq + d)
        ok = (idx < uniq.size) & (uniq[np.minimum(idx, uniq.size - 1)] == uniq + d)
        score[ok] += counts[idx[ok]]
    centre = uniq[int(np.argmax(score))] * (width / 2)
    return float(np.median(v[np.abs(v - centre) <= width]))


def measure_offset(recorded: np.ndarray, reference: np.ndarray, max_lag: int) -> tuple[int, float]:
    """How many frames later ``reference`` appears in ``recorded`` (negative: earlier), and the match quality.

    Both mono float arrays at one rate, ``recorded[k]`` meant to hold
    ``reference[k]``. Cross-correlation by FFT over lags within
    ``±max_lag``; the quality is the normalised correlation at the peak
    (1: identical up to gain).
    """
    r = np.asarray(recorded, dtype=np.float64)
    x = np.asarray(reference, dtype=np.float64)
    n = min(r.shape[0], x.shape[0])
    if n == 0:
        return 0, 0.0
    r, x = r[:n], x[:n]
    size = 1 << int(np.ceil(np.log2(2 * n)))
    corr = np.fft.irfft(np.fft.rfft(r, size) * np.conj(np.fft.rfft(x, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    vals = np.concatenate([corr[: max_lag + 1], corr[size - max_lag :]])
    i = int(np.argmax(vals))
    lag = int(lags[i])
    a = r[lag:] if lag >= 0 else r[: n + lag]
    b = x[: n - lag] if lag >= 0 else x[-lag:]
    denom = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return lag, (float(np.dot(a, b)) / denom if denom > 0 else 0.0)


def calibration_song(sample_rate: int, seconds: float = 8.0) -> tuple[Any, list[int]]:
    """A song of clicks at irregular times, 0.5 s of silence first, and the clicks' frames."""
    from stemtui.core.audio.song import Song, SongMeta

    n = int(seconds * sample_rate)
    x = np.zeros((n, 2), dtype=np.float32)
    rng = np.random.default_rng(7)
    burst = int(0.004 * sample_rate)
    env = np.hanning(burst).astype(np.float32)
    clicks = []
    t = 0.5
    while t < seconds - 0.5:
        i = int(t * sample_rate)
        x[i : i + burst] += (rng.standard_normal(burst).astype(np.float32) * env * 0.5)[:, None]
        clicks.append(i)
        t += 0.3 + 0.2 * float(rng.random())
    return Song(["click"], x[None], sample_rate, SongMeta("calibration clicks", source="calibrate")), clicks


def click_offset(recorded: np.ndarray, reference: np.ndarray, clicks: list[int], sample_rate: int) -> tuple[int, float]:
    """The median lag (frames) of the clicks in ``recorded`` against ``reference``, and the share of clicks that agree.

    Each click is matched on its own (a window of ±0.1 s), so a dropout or
    an output underrun shifts only the clicks after it from the median, not
    the whole estimate. Agreeing: within 1 ms of the median.
    """
    m = int(0.1 * sample_rate)
    lags = []
    for c in clicks:
        if c - m < 0 or c + m > min(recorded.shape[0], reference.shape[0]):
            continue
        lag, q = measure_offset(recorded[c - m : c + m], reference[c - m : c + m], m)
        if q > 0.5:
            lags.append(lag)
    if not lags:
        return 0, 0.0
    med = int(np.median(lags))
    agree = sum(abs(x - med) <= sample_rate // 1000 for x in lags) / len(clicks)
    return med, float(agree)
