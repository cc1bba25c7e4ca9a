"""Helpers shared by the command implementations."""

from __future__ import annotations

import sys


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def apply_mix_flags(mixer, args) -> None:
    """Apply --mute/--solo/--volume/--master/--loop to a mixer.

    Raises:
        BadInput: For an unknown stem or a malformed value.
    """
    from stemtui.core.errors import BadInput
    from stemtui.core.timefmt import parse_gain, parse_loop

    song = mixer.song
    for name in _split(args.mute):
        mixer.set_mute(song.index(name), True)
    for name in _split(args.solo):
        mixer.set_solo(song.index(name), True)
    for item in args.volume:
        name, sep, value = item.partition("=")
        if not sep:
            raise BadInput(f"--volume {item}", "expected STEM=GAIN, e.g. drums=-6dB")
        mixer.set_volume(song.index(name.strip()), parse_gain(value, f"--volume {name}"))
    if args.master:
        mixer.set_master(parse_gain(args.master, "--master"))
    if args.loop:
        a, b = parse_loop(args.loop)
        if a >= song.duration:
            raise BadInput(f"--loop {args.loop}", f"starts after the song ends ({song.duration:.1f} s)")
        mixer.set_loop_ms(a * 1000, min(b, song.duration) * 1000)


def practice_flags(args) -> tuple[float, int]:
    """The validated ``--tempo`` and ``--transpose``.

    Raises:
        BadInput: Out of range or not a number.
    """
    from stemtui.core.tempo.stretch import check_semitones, check_tempo

    return check_tempo(getattr(args, "tempo", 1.0)), check_semitones(getattr(args, "transpose", 0))


def apply_metronome_flags(mixer, args, states) -> None:
    """Apply --click / --count-in / --bpm: the grid from --bpm, the saved state, or the drums.

    ``states`` is the :class:`~stemtui.core.library.practice.PracticeStore` the saved grid is read from.

    Raises:
        BadInput: A malformed --bpm, or no beat found when clicks were asked for.
    """
    from stemtui.core.analysis.beats import BeatGrid
    from stemtui.core.errors import BadInput

    click = bool(getattr(args, "click", False))
    count = int(getattr(args, "count_in", 0) or 0)
    if count < 0 or count > 8:
        raise BadInput(f"--count-in {count}", "must be between 0 and 8")
    if not click and not count:
        return
    song = mixer.song
    spec = getattr(args, "bpm", None)
    grid = None
    if spec:
        bpm_s, _, off_s = str(spec).partition("@")
        try:
            grid = BeatGrid(float(bpm_s), float(off_s or 0.0), 4, "manual")
        except ValueError:
            raise BadInput(f"--bpm {spec}", "expected BPM or BPM@SECONDS, e.g. 96 or 96@0.42") from None
    if grid is None and song.id:
        state, _ = states.load(song.id, song.names)
        if state.grid:
            try:
                grid = BeatGrid.from_dict(state.grid)
            except ValueError:
                grid = None
    if grid is None:
        from stemtui.core.analysis.beatjob import estimate_grid_in_subprocess
        from stemtui.core.analysis.beats import grid_audio

        _progress_line("finding the beat …")
        audio, source = grid_audio(song)
        grid = estimate_grid_in_subprocess(audio, song.sample_rate, source)
        if grid is None:
            raise BadInput(song.title, "no steady beat found for the click; give one with --bpm BPM[@FIRST_BEAT_S]")
    mixer.metronome.set_grid(grid)
    mixer.metronome.set_click(click)
    mixer.metronome.set_count_in(count)


def _fmt_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _progress_line(text: str, final: bool = False) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[2K" + text + ("\n" if final else ""))
        sys.stderr.flush()
    elif final:
        print(text, file=sys.stderr)


def separation_options(args):
    """SeparationOptions from the separation flags (no torch import).

    Raises:
        BadInput: For a missing --model-repo folder or bad numbers.
    """
    from pathlib import Path

    from stemtui.core.errors import BadInput
    from stemtui.core.separation.splitter import SeparationOptions

    repo = None
    if getattr(args, "model_repo", None):
        repo = Path(args.model_repo).expanduser()
        if not repo.is_dir():
            raise BadInput(f"--model-repo {args.model_repo}", "no such folder")
    opts = SeparationOptions(
        model=args.model,
        repo=repo,
        device=args.compute,
        shifts=args.shifts,
        overlap=args.overlap,
        precision=args.precision,
        two_stems=args.two_stems,
    )
    opts.validate()
    return opts


def _bar(fraction: float, width: int = 24) -> str:
    full = int(fraction * width)
    return "█" * full + "░" * (width - full)


def describe_progress(p) -> str:
    """One progress line: bar, percent, audio done, ETA, model and device."""
    from stemtui.core.timefmt import format_time

    eta = f"ETA {format_time(p.eta_s, 0)}" if p.eta_s is not None else "ETA …"
    return (
        f"{_bar(p.fraction)} {p.fraction * 100:3.0f}%  "
        f"{format_time(p.audio_done_s, 0)}/{format_time(p.audio_total_s, 0)} audio"
        f"  {eta}  {p.model} on {p.device} ({p.precision})"
    )
