"""The bass line: monophonic transcription of the bass stem, and a 4-string tab of one bar.

:func:`transcribe_bass` finds note onsets (librosa's onset detector on the
bass alone, plus splits where the pitch moves without a new attack), the
pitch of each note from YIN restricted to the bass's range (E1 to G4) and the
note's end where its level falls away. YIN, not pYIN: pYIN's HMM over
fine pitch bins cost ~10x more on a 4-minute song for no gain once each
note's frames are pooled (the median over the note does the smoothing).

:func:`bass_tab` is pure: notes in, text lines out (G, D, A, E from the top),
each note on the string where its fret is lowest (frets 0-12).
"""

from __future__ import annotations

import itertools

import numpy as np

BASS_SR = 8000
_HOP = 40  # 5 ms
_PITCH_SR = 4000
_FRAME = 512  # at _PITCH_SR: lags to 256 samples, 15.6 Hz
MIDI_LO, MIDI_HI = 23, 67  # B0 .. G4: five-string low B up to the 24th fret of G
#: Open strings of a 4-string bass, lowest first: E1 A1 D2 G2.
STRINGS = (("E", 28), ("A", 33), ("D", 38), ("G", 43))
MAX_FRET = 12
_GATE_DB = -35.0  # frames this far under the loudest are silence
_NOTE_DB = -24.0  # a note ends where it falls this far under its own peak
_MIN_NOTE = 0.04  # seconds

Note = tuple[float, float, int]  # (onset s, offset s, MIDI)


def transcribe_bass(y: np.ndarray, sr: int) -> list[Note]:
    """``[(onset, offset, midi)]`` of mono ``y`` (float audio at ``sr``), sorted; ``[]`` for silence."""
    import librosa
    import soxr

    y = np.asarray(y, dtype=np.float32)
    if y.size < sr // 10 or float(np.max(np.abs(y))) < 1e-4:
        return []
    if sr != BASS_SR:
        y = soxr.resample(y, sr, BASS_SR).astype(np.float32)
    rms = librosa.feature.rms(y=y, frame_length=128, hop_length=_HOP)[0]
    db = 20 * np.log10(np.maximum(rms, 1e-10) / max(float(rms.max()), 1e-10))
    # Pitch at half the rate and half the frame rate (G4 is far below 2 kHz):
    # YIN's cost is most of the analysis, and a note pools 30+ frames anyway.
    f0 = librosa.yin(
        soxr.resample(y, BASS_SR, _PITCH_SR).astype(np.float32),
        fmin=float(librosa.midi_to_hz(MIDI_LO - 0.5)),
        fmax=float(librosa.midi_to_hz(MIDI_HI + 0.5)),
        sr=_PITCH_SR,
        frame_length=_FRAME,
        hop_length=_HOP,
    )
    f0 = np.repeat(f0, BASS_SR // _PITCH_SR)  # back onto the 5-ms frames
    n = min(len(db), len(f0))
    db, midi = db[:n], librosa.hz_to_midi(f0[:n])
    env = librosa.onset.onset_strength(y=y, sr=BASS_SR, hop_length=_HOP, n_fft=256, n_mels=32, fmax=2000)
    found = librosa.onset.onset_detect(
        onset_envelope=env, sr=BASS_SR, hop_length=_HOP, backtrack=False, wait=8, delta=0.1, units="frames"
    )
    rises = [_back_to_rise(int(o), db) for o in found if o < n and db[o : o + 4].max() > _GATE_DB]
    onsets = _split_on_pitch(rises, midi, db, n)
    notes: list[Note] = []
    dt = _HOP / BASS_SR
    for i, a in enumerate(onsets):
        z = onsets[i + 1] if i + 1 < len(onsets) else n
        seg = db[a:z]
        if len(seg) == 0:
            continue
        top = int(np.argmax(seg))
        gone = np.nonzero(seg[top:] < max(float(seg[top]) + _NOTE_DB, _GATE_DB))[0]
        end = a + top + (int(gone[0]) if len(gone) else len(seg) - top)
        body = midi[a + 4 : max(a + 5, min(end, a + 40))]  # skip the attack, pool up to 200 ms
        body = body[np.isfinite(body)]
        if len(body) == 0 or (end - a) * dt < _MIN_NOTE:
            continue
        m = int(np.round(np.median(body)))
        if MIDI_LO <= m <= MIDI_HI:
            notes.append((round(a * dt, 4), round(end * dt, 4), m))
    return notes


def _back_to_rise(o: int, db: np.ndarray, most: int = 6) -> int:
    """Move an onset back (up to ``most`` frames) to where its level's rise is half done (in dB)."""
    k = o
    while k > max(0, o - most) and db[k - 1] < db[k]:
        k -= 1
    half = 0.5 * (db[k] + db[o])
    while k < o and db[k] < half:
        k += 1
    return k


def _split_on_pitch(onsets: list[int], midi: np.ndarray, db: np.ndarray, n: int) -> list[int]:
    """Add an onset where the pitch moves a semitone or more and stays for 60 ms (a slide, a legato note)."""
    q = np.where(db > _GATE_DB, np.round(midi), np.nan)
    out = list(onsets)
    bounds = [*onsets, n]
    hold = 12  # frames (60 ms)
    for a, z in itertools.pairwise(bounds):
        cur = np.nan
        k = a + 6
        while k < z - hold:
            w = q[k : k + hold]
            if np.all(w == w[0]) and np.isfinite(w[0]):
                if np.isfinite(cur) and w[0] != cur:
                    out.append(k)
                cur = w[0]
                k += hold
            else:
                k += 1
    return sorted(out)


def bass_chroma(notes: list[Note], n_frames: int, hop_s: float) -> np.ndarray:
    """``(12, n_frames)``: 1 where a note of that pitch class sounds in the frame."""
    c = np.zeros((12, n_frames))
    for a, z, m in notes:
        i, j = int(a / hop_s), max(int(a / hop_s) + 1, int(np.ceil(z / hop_s)))
        c[m % 12, i : min(j, n_frames)] = 1.0
    return c


def midi_name(midi: int) -> str:
    """MIDI 40 -> ``E2``."""
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    return f"{names[midi % 12]}{midi // 12 - 1}"


def fret_for(midi: int) -> tuple[str, int] | None:
    """``(string, fret)`` with the lowest fret (0-12) that plays ``midi``; ``None`` off the neck."""
    best = None
    for name, open_midi in STRINGS:
        fret = midi - open_midi
        if 0 <= fret <= MAX_FRET and (best is None or fret < best[1]):
            best = (name, fret)
    return best


def bass_tab(notes: list[Note], bar_start: float, bar_end: float, width: int = 32) -> list[str]:
    """Four lines (G, D, A, E) of tab for the notes starting in ``[bar_start, bar_end)``.

    Each line is ``"G|" + width cells + "|"``; a note's fret is written at its
    onset's place in the bar (moved right past a neighbour it would
    overwrite). A note no 4-string bass reaches within 12 frets shows as
    ``?`` on the E line.
    """
    if bar_end <= bar_start or width < 4:
        raise ValueError(f"a bar needs end > start and width >= 4, got {bar_start}..{bar_end}, width {width}")
    rows = {name: ["-"] * width for name, _ in STRINGS}
    free = 0  # first cell not yet written on any string
    for a, _z, m in sorted(notes):
        if not bar_start <= a < bar_end:
            continue
        where = fret_for(m)
        name, text = ("E", "?") if where is None else (where[0], str(where[1]))
        col = max(free, int((a - bar_start) / (bar_end - bar_start) * width))
        if col + len(text) > width:
            col = width - len(text)
            if col < free:
                continue  # no room left in the bar
        for k, ch in enumerate(text):
            rows[name][col + k] = ch
        free = col + len(text) + 1
    return [f"{name}|{''.join(rows[name])}|" for name, _ in reversed(STRINGS)]
