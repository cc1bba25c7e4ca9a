"""A take against a reference stem, note by note: the pure function behind ``stemtui compare``.

Both signals are tracked with :mod:`~stemtui.core.analysis.pitchtrack`
(the reference only over the span the take covers); the reference is cut
into notes (:mod:`~stemtui.core.analysis.notesegment`); the take's onsets
come from its own audio. For each reference note that the take covers:

- ``onset_ms``: the take onset nearest the reference's (within
  :data:`MATCH_WINDOW_S`) minus it, positive when late; with no take onset
  there (a legato change), when the take reaches the note's pitch against
  when the reference does.
- ``cents``: the median, over the note shifted by that offset, of the take's
  deviation from the note's pitch, vibrato averaged out over
  :data:`VIBRATO_S` first, and octave errors folded (a singer an octave
  below the reference is in tune).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from stemtui.core.analysis.comparison import IN_TUNE_CENTS, CompareResult, NoteResult
from stemtui.core.analysis.notesegment import Note, detect_onsets, segment_notes
from stemtui.core.analysis.pitchtrack import ANALYSIS_SR, PitchTrack, pitch_range, to_analysis_rate, track_pitch
from stemtui.core.errors import BadInput

Progress = Callable[[float, str], None]

#: A take onset this close to a reference onset is its onset (s).
MATCH_WINDOW_S = 0.15
#: Vibrato is averaged over this window before the median (s): about one cycle.
VIBRATO_S = 0.17
#: Context analysed around the take's span (s).
MARGIN_S = 0.3
#: A note counts only if the take is voiced over this fraction of it.
MIN_VOICED = 0.4
#: The timing error that weighs as much as :data:`IN_TUNE_CENTS` when ranking the worst notes (ms).
TIMING_SCALE_MS = 50.0


def _fold_cents(dev: np.ndarray) -> np.ndarray:
    """Cents folded into [-600, 600): an octave off is not out of tune."""
    return dev - 1200.0 * np.round(dev / 1200.0)


def _moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """NaN-aware centred moving mean (NaN stays NaN)."""
    width = min(width, len(x))
    if width < 2:
        return x
    ok = np.isfinite(x)
    k = np.ones(width)
    num = np.convolve(np.where(ok, x, 0.0), k, mode="same")
    den = np.convolve(ok.astype(float), k, mode="same")
    out = np.full_like(x, np.nan)
    m = ok & (den > 0)
    out[m] = num[m] / den[m]
    return out


def _arrival(track: PitchTrack, midi: float, t0: float, t1: float) -> float | None:
    """The first time in ``[t0, t1)`` the track is within 50 cents of ``midi`` (octaves folded)."""
    a, b = max(0, int(t0 / track.hop_s)), min(len(track.midi), int(np.ceil(t1 / track.hop_s)))
    dev = _fold_cents(100.0 * (track.midi[a:b] - midi))
    idx = np.nonzero(np.abs(dev) <= 50.0)[0]  # NaN compares False
    return None if len(idx) == 0 else (a + int(idx[0])) * track.hop_s


def _onset_offset(note: Note, ref_track: PitchTrack, take_track: PitchTrack, take_onsets: np.ndarray) -> float:
    """The take's onset minus the reference note's (s), both in the same clock."""
    near = take_onsets[np.abs(take_onsets - note.start) <= MATCH_WINDOW_S]
    if len(near):
        return float(near[np.argmin(np.abs(near - note.start))] - note.start)
    # No onset in the take's audio (a legato change): when it reaches the note's pitch against when the reference does.
    theirs = _arrival(ref_track, note.midi, note.start - 0.05, note.end)
    mine = _arrival(take_track, note.midi, (theirs or note.start) - MATCH_WINDOW_S, note.end)
    if mine is None or theirs is None:
        return 0.0
    return float(np.clip(mine - theirs, -MATCH_WINDOW_S, MATCH_WINDOW_S))


def _note_cents(take_track: PitchTrack, note_midi: float, a_t: float, b_t: float) -> float | None:
    """The take's median deviation (cents) from ``note_midi`` over ``[a_t, b_t)``; None if mostly unvoiced."""
    hop = take_track.hop_s
    a, b = max(0, round(a_t / hop)), min(len(take_track.midi), round(b_t / hop))
    if b - a < 2:
        a, b = max(0, a - 1), min(len(take_track.midi), a + 2)
    dev = _fold_cents(100.0 * (take_track.midi[a:b] - note_midi))
    if len(dev) < 2 or np.isfinite(dev).mean() < MIN_VOICED:
        return None
    # Frames of a neighbouring note or a glide are not the note's tuning.
    dev = np.where(np.abs(dev - np.nanmedian(dev)) > 100.0, np.nan, dev)
    smooth = _moving_mean(dev, round(VIBRATO_S / hop))
    return float(np.nanmedian(smooth))


def _match_notes(
    notes: list[Note], ref_track: PitchTrack, take_track: PitchTrack, take_onsets: np.ndarray
) -> list[NoteResult]:
    """Each reference note against the take; the notes the take leaves out are skipped.

    The pitch is read where the reference note and the take's (shifted)
    note overlap, less the pitch frame's half-length and a transition at
    each end, and never past the next note's take onset.
    """
    offsets = [_onset_offset(n, ref_track, take_track, take_onsets) for n in notes]
    out = []
    for i, (note, off) in enumerate(zip(notes, offsets, strict=True)):
        dur = note.end - note.start
        a_t = note.start + max(off, 0.0) + min(0.06, 0.2 * dur)
        b_t = note.end + min(off, 0.0) - min(0.04, 0.1 * dur)
        if i + 1 < len(notes):
            b_t = min(b_t, notes[i + 1].start + offsets[i + 1] - 0.03)
        cents = _note_cents(take_track, note.midi, a_t, b_t)
        if cents is not None:
            out.append(NoteResult(note.start, note.end, note.midi, cents, 1000.0 * off))
    return out


def _contour(track: PitchTrack, start: float, n: int) -> tuple[float | None, ...]:
    i0 = round(start / track.hop_s)
    vals = track.midi[i0 : i0 + n] if i0 >= 0 else np.concatenate([np.full(-i0, np.nan), track.midi[: n + i0]])
    vals = np.concatenate([vals, np.full(max(0, n - len(vals)), np.nan)])
    return tuple(None if not np.isfinite(v) else float(v) for v in vals)


def compare_take(
    ref: np.ndarray,
    take: np.ndarray,
    sr: int,
    take_start_s: float,
    take_id: str,
    reference: str,
    progress: Progress | None = None,
    *,
    ref_start_s: float = 0.0,
) -> CompareResult:
    """Compare ``take`` (its t=0 at song time ``take_start_s``) with the reference stem ``ref``.

    Both are ``(frames,)`` or ``(frames, channels)`` at ``sr``; the
    reference is the stem from song time ``ref_start_s`` (the whole stem:
    0). Times in the result are song times.

    Raises:
        BadInput: The take starts past the reference's end, or is empty.
    """
    say = progress or (lambda _f, _s: None)
    take_len = len(take) / sr
    if take_len <= 0:
        raise BadInput(take_id, "the take is empty")
    if take_start_s >= ref_start_s + len(ref) / sr or take_start_s + take_len <= ref_start_s:
        raise BadInput(take_id, f"the take ({take_start_s:.2f}–{take_start_s + take_len:.2f} s) is outside the song")
    # From here on, the clock is the reference's: its first frame is 0.
    take_start_s -= ref_start_s
    ref_len = len(ref) / sr
    # The reference only where the take is (plus a little context), in its own clock from t0.
    t0 = max(0.0, take_start_s - MARGIN_S)
    t1 = min(ref_len, take_start_s + take_len + MARGIN_S)
    say(0.02, "resampling")
    ref_y = to_analysis_rate(ref[int(t0 * sr) : int(t1 * sr)], sr)
    take_y = to_analysis_rate(take, sr)
    # The take padded in front so that both clocks start at song time t0.
    lead = round((take_start_s - t0) * ANALYSIS_SR)
    take_y = np.concatenate([np.zeros(lead, np.float32), take_y]) if lead > 0 else take_y[-lead:]
    say(0.05, "reference pitch")
    ref_track = track_pitch(ref_y)
    say(0.4, "take pitch")
    take_range = pitch_range(take_y)
    take_track = track_pitch(take_y, *take_range) if take_range else track_pitch(take_y)
    say(0.8, "onsets")
    ref_onsets = detect_onsets(ref_y)
    take_onsets = detect_onsets(take_y)
    say(0.9, "matching notes")
    # A note right at the take's first frame has no onset in the take (its start is a cut, not an attack).
    lo, hi = take_start_s - t0 + 0.05, take_start_s + take_len - t0
    notes = [n for n in segment_notes(ref_track, ref_onsets) if n.start >= lo and n.end <= hi + 0.5 * (n.end - n.start)]
    t_song = t0 + ref_start_s
    shift = lambda r: NoteResult(r.ref_start + t_song, r.ref_end + t_song, r.ref_midi, r.cents, r.onset_ms)  # noqa: E731
    results = [shift(r) for r in _match_notes(notes, ref_track, take_track, take_onsets)]
    cents = np.array([r.cents for r in results])
    onsets = np.array([r.onset_ms for r in results])
    badness = [max(abs(r.cents) / IN_TUNE_CENTS, abs(r.onset_ms) / TIMING_SCALE_MS) for r in results]
    worst = tuple(int(i) for i in np.argsort(badness, kind="stable")[::-1][:3])
    n = int(np.ceil(take_len / ref_track.hop_s))
    say(1.0, "done")
    return CompareResult(
        take_id=take_id,
        reference=reference,
        offset_ms=float(np.median(onsets)) if len(onsets) else 0.0,
        median_abs_cents=float(np.median(np.abs(cents))) if len(cents) else 0.0,
        in_tune_pct=100.0 * float(np.mean(np.abs(cents) <= IN_TUNE_CENTS)) if len(cents) else 0.0,
        notes=tuple(results),
        worst=worst,
        hop_s=ref_track.hop_s,
        start_s=take_start_s + ref_start_s,
        ref_contour=_contour(ref_track, take_start_s - t0, n),
        take_contour=_contour(take_track, take_start_s - t0, n),
    )


def read_mono(path: Path | str, start_s: float = 0.0, end_s: float | None = None) -> tuple[np.ndarray, int]:
    """An audio file (``.npy`` or anything soundfile reads) as mono float32, and its rate.

    ``start_s``/``end_s`` read only that span of a sound file (a ``.npy`` is read whole).

    A ``.npy`` file carries no rate: it is taken as ``ANALYSIS_SR`` unless
    the caller passes one to :func:`compare_files`.

    Raises:
        BadInput: It does not exist or is not audio.
    """
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise BadInput(str(p), "no such file")
    if p.suffix == ".npy":
        try:
            a = np.load(p)
        except (OSError, ValueError) as exc:
            raise BadInput(str(p), f"not a numpy array ({exc})") from None
        return (a.mean(axis=1) if a.ndim == 2 else a).astype(np.float32), ANALYSIS_SR
    try:
        rate = int(sf.info(str(p)).samplerate)
        stop = None if end_s is None else max(int(start_s * rate) + 1, int(end_s * rate))
        data, rate = sf.read(str(p), start=int(start_s * rate), stop=stop, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise BadInput(
            str(p), f"not an audio file ({str(exc).splitlines()[0] if str(exc) else 'unreadable'})"
        ) from None
    return data.mean(axis=1), int(rate)


def compare_files(
    ref_path: Path | str,
    take_path: Path | str,
    take_start_s: float,
    take_id: str = "take",
    reference: str = "reference",
    sample_rate: int | None = None,
    progress: Progress | None = None,
) -> CompareResult:
    """:func:`compare_take` on two files (the stem's and the take's); ``sample_rate`` for ``.npy`` inputs.

    Raises:
        BadInput: A file is missing or not audio (a take at another rate is resampled).
    """
    npy = str(ref_path).endswith(".npy"), str(take_path).endswith(".npy")
    take, take_sr = read_mono(take_path)
    if npy[1] and sample_rate is not None:
        take_sr = sample_rate
    # Only the span of the stem under the take (and a margin) is read.
    ref_start = 0.0 if npy[0] else max(0.0, take_start_s - MARGIN_S)
    ref_end = None if npy[0] else take_start_s + len(take) / take_sr + MARGIN_S
    ref, ref_sr = read_mono(ref_path, ref_start, ref_end)
    if npy[0] and sample_rate is not None:
        ref_sr = sample_rate
    ref_start = int(ref_start * ref_sr) / ref_sr  # the frame it was read from
    if take_sr != ref_sr:
        import librosa

        take = librosa.resample(take, orig_sr=take_sr, target_sr=ref_sr, res_type="soxr_hq")
    return compare_take(ref, take, ref_sr, take_start_s, take_id, reference, progress, ref_start_s=ref_start)
