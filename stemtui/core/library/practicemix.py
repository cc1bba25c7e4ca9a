"""Practice state and the mixer: capture what the player has, apply what was saved.

Split from :mod:`stemtui.core.library.practice` (the state, its file and its
checks): these two functions are the bridge between a
:class:`~stemtui.core.library.practice.PracticeState` and a live mixer.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from stemtui.core.library.practice import ActiveLoop, PracticeState, StemMix, StemRange

if TYPE_CHECKING:
    from stemtui.core.audio.mixer import Mixer


def capture(mixer: Mixer, base: PracticeState | None = None, loop_name: str | None = None) -> PracticeState:
    """The mixer's mix, loop and playhead, on top of ``base`` (named loops, tempo… kept).

    Call from the UI thread: it reads what the UI thread wrote, and the
    playhead the audio thread published (or a seek it has not applied yet).

    Args:
        mixer: The song's mixer.
        base: The state to carry everything else over from.
        loop_name: The name of the active loop when it was recalled or saved.
    """
    base = base if base is not None else PracticeState()
    sr = mixer.sample_rate
    stems = {
        name: StemMix(float(mixer.volume[i]), bool(mixer.mute[i]), bool(mixer.solo[i]))
        for i, name in enumerate(mixer.song.names)
    }
    a, b, on = mixer.loop
    loop = ActiveLoop(a / sr, b / sr, bool(on), loop_name) if b > a else None
    target = mixer.pending_seek
    pos = mixer.position if target is None else target
    names = mixer.song.names
    ranges = [StemRange(names[r.stem], r.start / sr, r.end / sr, r.kind) for r in mixer.ranges]
    return replace(
        base,
        stems=stems,
        master=float(mixer.master),
        loop=loop,
        loops=list(base.loops),
        position=pos / sr,
        ranges=ranges,
    )


def apply(mixer: Mixer, state: PracticeState) -> str | None:
    """Set the mixer's mix, loop and playhead from ``state`` (call before playback starts).

    Tempo, transpose, grid, count-in and click are not the mixer's: the
    player hands them on separately.

    Returns:
        A line saying what could not be applied (a loop too short for this
        song, a range of a stem it lacks), or ``None``.
    """
    names = mixer.song.names
    for i, name in enumerate(names):
        strip = state.stems.get(name, StemMix())
        mixer.set_volume(i, strip.volume)
        mixer.set_mute(i, strip.mute)
        mixer.set_solo(i, strip.solo)
    mixer.set_master(state.master)
    sr, frames = mixer.sample_rate, mixer.song.frames
    problem = None
    ranges = [
        (names.index(r.stem), round(r.start * sr), min(round(r.end * sr), frames), r.kind)
        for r in state.ranges
        if r.stem in names and round(r.start * sr) < min(round(r.end * sr), frames)
    ]
    mixer.set_ranges(ranges)
    if len(ranges) < len(state.ranges):
        problem = "a saved mute range does not fit this song: dropped"
    pos = round(state.position * sr)
    if state.loop is not None:
        a, b = round(state.loop.start * sr), min(round(state.loop.end * sr), frames)
        try:
            mixer.set_loop(a, b, state.loop.enabled)
        except ValueError:
            problem = "the saved loop does not fit this song: dropped"
        else:
            if state.loop.enabled and not a <= pos < b:
                pos = a  # looping, but the playhead was elsewhere: start at the loop
    if 0 < pos < frames:
        mixer.seek(pos)
    return problem
