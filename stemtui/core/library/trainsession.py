"""A whole speed-trainer session as one file: every pass of the loop at its tempo.

The phone's practice track for ``stemtui export --loop A-B --trainer ...``.
Each tempo of the plan is stretched once (the loop plus the pad the wrap's
crossfade reads), then the mixer's own callback code plays the session: the
loop wraps, with the count-in before each pass when one is set, and the
trainer's :class:`~stemtui.core.audio.mixstate.NextPass` switches the tempo
at the wrap exactly as it does live. So the file is what the player plays,
with every next pass ready in time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from stemtui.core.audio.mixer import Mixer
from stemtui.core.audio.mixstate import CountIn
from stemtui.core.library.export import FORMATS, check_output_path
from stemtui.core.library.safeio import SafeSoundFile, unwind_on_signals

#: Song seconds stretched past the loop end (what the wrap's crossfade reads).
PAD_S = 0.1
#: The share of the progress bar the stretching takes.
STRETCH_SHARE = 0.8


def session_plan(mixer: Mixer, tempos: list[float], count_ins: dict[float, int]) -> list[int]:
    """Frames of each pass: its count-in, then the loop at its tempo (as the callback wraps it)."""
    la, lb, _ = mixer.loop
    out = []
    for t in tempos:
        body = lb - la if abs(t - 1.0) < 1e-6 else int((lb - la) / t + 0.5)
        out.append(count_ins.get(t, 0) + body)
    return out


def export_session(
    mixer: Mixer,
    spec,
    path: str | Path,
    on_progress: Callable[[float], None] | None = None,
    semitones: int = 0,
) -> tuple[Path, list[int]]:
    """Render the trainer session of ``spec`` (a :class:`~stemtui.core.tempo.trainer.TrainerSpec`) on the mixer's loop.

    Written like :func:`~stemtui.core.library.export.export_mix`: a ``.part``
    renamed at the end, removed on failure or signal.

    Returns:
        The path written and the frames of each pass.

    Raises:
        BadInput: A target that cannot be used.
        WriteFailed: The write failed on the way.
    """
    with unwind_on_signals():
        return _session(mixer, spec, path, on_progress, semitones)


def _session(mixer: Mixer, spec, path, on_progress, semitones: int) -> tuple[Path, list[int]]:
    from stemtui.core.audio.source import ArraySource, Source
    from stemtui.core.tempo.stretch import is_identity, stretch_song_region

    target = check_output_path(path)
    fmt, subtype = FORMATS[target.suffix.lower()]
    la, lb, on = mixer.loop
    if not on:
        raise ValueError("the trainer needs a loop")
    sr = mixer.sample_rate
    schedule = spec.schedule()
    tempos = sorted(set(schedule))
    pad_end = min(mixer.frames, lb + int(PAD_S * sr))
    sources: dict[float, Source] = {}
    for i, t in enumerate(tempos):
        if is_identity(t, semitones):
            sources[t] = mixer.song_source
        else:
            data = stretch_song_region(mixer.song.data, la, pad_end, sr, t, semitones)
            sources[t] = ArraySource(data, la, pad_end, t, semitones)
        if on_progress is not None:
            on_progress(STRETCH_SHARE * (i + 1) / len(tempos))
    clicks: dict[float, np.ndarray] = {}
    if mixer.count_in is not None:
        for t in tempos:
            audio = mixer.metronome.count_in_audio(t)
            if audio is not None:
                clicks[t] = np.ascontiguousarray(audio, dtype=np.float32)
    lengths = session_plan(mixer, schedule, {t: a.shape[0] for t, a in clicks.items()})
    total = sum(lengths)
    block = max(64, min(512, min(lengths) // 2))

    def next_change(after: int) -> int | None:
        """The first pass (1-based) after pass ``after`` whose tempo differs."""
        for p in range(after + 1, len(schedule) + 1):
            if schedule[p - 1] != schedule[after - 1]:
                return p
        return None

    def plan(after: int) -> tuple[int | None, int]:
        p = next_change(after)
        if p is None:
            mixer.set_next_pass(None)
            return None, -1
        t = schedule[p - 1]
        ci = CountIn(clicks[t], True) if t in clicks else None
        return p, mixer.set_next_pass(sources[t], w0 + p - 1, ci)

    t0 = schedule[0]
    mixer.set_count_in(clicks.get(t0))
    mixer.start_at(la, playing=False, source=sources[t0])
    mixer.play()  # from paused: the first pass's count-in, or a one-block fade-in
    w0 = mixer.trainer_counters()[0]
    change, version = plan(1)
    buf = np.zeros((block, 2), dtype=np.float32)
    done = 0
    fade = min(mixer.xfade_frames, total)
    with SafeSoundFile(target, sr, 2, fmt, subtype) as f:
        while done < total:
            n = min(block, total - done)
            mixer.process(buf[:n])
            if done + n > total - fade:
                # The session ends at B: a short fade-out rather than a cut.
                k = np.arange(done, done + n)
                g = np.clip((total - k) / max(fade, 1), 0.0, 1.0).astype(np.float32)
                buf[:n] *= g[:, None]
            f.write(buf[:n].clip(-1.0, 1.0))
            done += n
            _wraps, adopted, _late, _at = mixer.trainer_counters()
            if change is not None and adopted == version:
                change, version = plan(change)
            if on_progress is not None:
                on_progress(STRETCH_SHARE + (1.0 - STRETCH_SHARE) * done / total)
    mixer.set_next_pass(None)
    return target, lengths
