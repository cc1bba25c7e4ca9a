"""Helpers shared by the command implementations."""

from __future__ import annotations

import sys


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def open_song_with_takes(store, takes, entry, block: bool = False):
    """Open a stored song with its takes appended as ``take:ID`` rows (in the mix at 0 dB).

    ``store`` is the song :class:`~stemtui.core.library.store.Store`, ``takes``
    the :class:`~stemtui.core.takes.takestore.TakeStore`. A take that cannot
    be read is left out, with a one-line warning on stderr.
    """
    from stemtui.core.library.catalog import open_song

    return add_takes(open_song(store, entry, block=block), takes)


def add_takes(song, takes):
    """``song`` with its takes from ``takes`` (a TakeStore) appended; warnings on stderr."""
    from stemtui.core.takes.takemix import song_with_takes

    song, problems = song_with_takes(song, takes)
    for line in problems:
        _progress_line(f"warning: {line}", final=True)
    return song


def mix_index(song, name: str) -> int:
    """The row of a stem or a take (``take:ID``) named in a mix flag.

    Raises:
        BadInput: No such stem, or no such take of this song.
    """
    from stemtui.core.errors import BadInput
    from stemtui.core.takes.takemix import is_take_row

    try:
        return song.index(name)
    except BadInput:
        if not is_take_row(name):
            raise
        have = [n for n in song.names if is_take_row(n)]
        raise BadInput(name, f"no such take of this song (it has: {', '.join(have) or 'no takes'})") from None


def mix_range(song, flag: str, item: str):
    """``STEM@START-END`` of ``--mute``/``--solo`` as a :class:`~stemtui.core.audio.mixstate.Range`.

    Raises:
        BadInput: Naming ``flag item``: malformed, an unknown stem, the end not
            after the start, or past the end of the song.
    """
    from stemtui.core.audio.mixstate import Range
    from stemtui.core.errors import BadInput
    from stemtui.core.timefmt import format_time, parse_time

    what = f"{flag} {item}"
    name, _, span = item.partition("@")
    times = span.split("-")
    if not name.strip() or len(times) != 2 or not all(x.strip() for x in times):
        raise BadInput(what, "expected STEM@START-END, e.g. vocals@0:30-0:45")
    a, b = parse_time(times[0], f"{what}: start"), parse_time(times[1], f"{what}: end")
    if b <= a:
        raise BadInput(what, "the end must come after the start")
    sr = song.sample_rate
    if round(b * sr) > song.frames:
        raise BadInput(what, f"goes past the end of the song ({format_time(song.duration)})")
    try:
        stem = mix_index(song, name.strip())
    except BadInput as exc:
        raise BadInput(what, exc.reason) from None
    return Range(stem, round(a * sr), round(b * sr), flag.lstrip("-"))


def apply_mix_flags(mixer, args) -> None:
    """Apply --mute/--solo/--volume/--master/--loop to a mixer.

    Stems and takes (``take:ID``) alike; ``STEM@START-END`` mutes or solos
    it over that range of the song only.

    Raises:
        BadInput: For an unknown stem or take, or a malformed value.
    """
    from stemtui.core.errors import BadInput
    from stemtui.core.timefmt import parse_gain, parse_loop

    song = mixer.song
    ranges = [
        mix_range(song, flag, n) for flag in ("--mute", "--solo") for n in _split(getattr(args, flag[2:])) if "@" in n
    ]
    for name in _split(args.mute):
        if "@" not in name:
            mixer.set_mute(mix_index(song, name), True)
    for name in _split(args.solo):
        if "@" not in name:
            mixer.set_solo(mix_index(song, name), True)
    if ranges:
        mixer.set_ranges(ranges)
    for item in args.volume:
        name, sep, value = item.partition("=")
        if not sep:
            raise BadInput(f"--volume {item}", "expected STEM=GAIN, e.g. drums=-6dB")
        mixer.set_volume(mix_index(song, name.strip()), parse_gain(value, f"--volume {name}"))
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


def trainer_flags(args):
    """The validated ``--trainer``/``--passes``: a :class:`~stemtui.core.tempo.trainer.TrainerSpec`, or ``None``.

    Raises:
        BadInput: A malformed or impossible spec, ``--passes`` below 1 or
            without ``--trainer``, no ``--loop``, or ``--tempo`` given too.
    """
    from stemtui.core.errors import BadInput
    from stemtui.core.tempo.trainer import parse_trainer

    spec, passes = getattr(args, "trainer", None), getattr(args, "passes", None)
    if spec is None:
        if passes is not None:
            raise BadInput(f"--passes {passes}", "needs --trainer START:STEP:EVERY[:END]")
        return None
    n = None
    if passes is not None:
        try:
            n = int(passes)
        except ValueError:
            raise BadInput(f"--passes {passes}", "must be a whole number, at least 1") from None
    parsed = parse_trainer(spec, n)
    if not getattr(args, "loop", None):
        raise BadInput(f"--trainer {spec}", "needs a loop to train on: add --loop A-B")
    if practice_flags(args)[0] != 1.0:
        raise BadInput(f"--tempo {args.tempo}", "the trainer sets the tempo: leave out --tempo")
    return parsed


def apply_metronome_flags(mixer, args, states, background: bool = False) -> GridWait | None:
    """Apply --click / --count-in / --bpm: the grid from --bpm, the saved state, or the drums.

    ``states`` is the :class:`~stemtui.core.library.practice.PracticeStore` the saved grid is read from.
    With no grid at hand the beat is estimated in a child process: from the
    whole song, now (``export``, whose song is fully decoded); or, with
    ``background``, from the first :data:`BEAT_AUDIO_S` of the song once they
    are decoded, on a thread (``play``): the returned :class:`GridWait` sets
    the metronome when the grid is ready.

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
        return None
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
    if grid is None and background:
        return GridWait(mixer, click, count)
    if grid is None:
        from stemtui.core.analysis.beatjob import estimate_grid_in_subprocess
        from stemtui.core.analysis.beats import grid_audio

        _progress_line("finding the beat …")
        audio, source = grid_audio(song)
        grid = estimate_grid_in_subprocess(audio, song.sample_rate, source)
        if grid is None:
            raise BadInput(song.title, NO_BEAT)
    _set_metronome(mixer, grid, click, count)
    return None


NO_BEAT = "no steady beat found for the click; give one with --bpm BPM[@FIRST_BEAT_S]"
#: Seconds of decoded song the background estimate waits for (all of a shorter song).
BEAT_AUDIO_S = 60.0


def _set_metronome(mixer, grid, click: bool, count: int) -> None:
    mixer.metronome.set_grid(grid)
    mixer.metronome.set_click(click)
    mixer.metronome.set_count_in(count)


class GridWait:
    """The beat grid for ``play --click/--count-in``, estimated on a thread.

    It waits until :data:`BEAT_AUDIO_S` of the song (or all of it) is decoded
    or separated, runs the beat job (:class:`~stemtui.core.analysis.beatjob.EstimateJob`,
    a child process), and sets the metronome. ``play`` starts the click when
    it is ready, and waits for it before a count-in (which must come first).

    Attributes:
        done: Set when it has ended, however it ended.
        reason: Why no grid came (no steady beat, the job failed), else ``None``.
    """

    def __init__(self, mixer, click: bool, count: int) -> None:
        import threading

        self.mixer, self.click, self.count = mixer, click, count
        self.done = threading.Event()
        self.reason: str | None = None
        self._told = False
        self._job = None
        self._cancelled = False
        threading.Thread(target=self._run, name="stemtui-play-beat", daemon=True).start()

    def _run(self) -> None:
        import time

        from stemtui.core.analysis.beatjob import EstimateJob
        from stemtui.core.analysis.beats import grid_audio

        song = self.mixer.song
        try:
            enough = min(song.frames, int(BEAT_AUDIO_S * song.sample_rate))
            while not self._cancelled and not song.complete.is_set() and song.available < enough:
                time.sleep(0.05)
            if self._cancelled:
                return
            audio, source = grid_audio(song)
            self._job = job = EstimateJob(audio, song.sample_rate, source)
            if self._cancelled:
                job.cancel()
            job.wait()
            if job.result is not None:
                _set_metronome(self.mixer, job.result, self.click, self.count)
            elif not job.cancelled:
                self.reason = job.error or NO_BEAT
        except Exception as exc:  # noqa: BLE001 -- told in one line by `play`; the song plays on
            from stemtui.core.audio.faults import describe

            self.reason = f"finding the beat failed: {describe(exc)}"
        finally:
            self.done.set()

    def wait(self) -> None:
        """Block until the grid is set or failed (a count-in must come first).

        Raises:
            BadInput: No grid came (nothing has played yet: as from ``export``).
        """
        from stemtui.core.errors import BadInput

        _progress_line("finding the beat …")
        self.done.wait()
        if self.reason is not None:
            raise BadInput(self.mixer.song.title, self.reason)

    def take_error(self) -> list[str]:
        """The failure in one line, once (``[]`` while running, on success, and after the first call)."""
        if not self.done.is_set() or self.reason is None or self._told:
            return []
        self._told = True
        return [f"{self.mixer.song.title}: {self.reason}; playing without the click"]

    def cancel(self) -> None:
        """Stop waiting and kill the beat job."""
        self._cancelled = True
        if self._job is not None:
            self._job.cancel()


#: Wall seconds the playhead may stand still while it should move, before it is a fault.
STUCK_S = 2.0
#: The same before it has moved at all (a PulseAudio stream can stall ~2 s as it starts).
START_GRACE_S = 5.0
#: Wall seconds of standing still after which headless ``play`` stops.
STUCK_STOP_S = 10.0


class StuckWatch:
    """Notices a playhead that stands still while it should move (``play``'s loop polls it).

    Waiting is legitimate during a count-in, for a separation still running,
    and while the engine reports its own fault (a lost device): the caller
    says so with ``waiting``.

    Attributes:
        stop: Set once it has stood still for :data:`STUCK_STOP_S`: ``play`` ends.
    """

    def __init__(self) -> None:
        import time

        self._pos = -1
        self._since = time.monotonic()
        self._moved = False
        self._told = False
        self.stop = False

    def poll(self, pos: int, sample_rate: int, waiting: bool) -> list[str]:
        """``[one line]`` when the playhead is first found stuck, else ``[]``."""
        import time

        from stemtui.core.timefmt import format_time

        now = time.monotonic()
        if pos != self._pos or waiting:
            self._moved = self._moved or (self._pos >= 0 and pos != self._pos)
            self._pos, self._since, self._told = pos, now, False
            return []
        still = now - self._since
        limit = STUCK_S if self._moved else START_GRACE_S
        self.stop = still > limit + STUCK_STOP_S - STUCK_S
        if still <= limit or self._told:
            return []
        self._told = True
        return [
            f"playback stuck at {format_time(pos / sample_rate)}: no audio for {limit:.0f} s"
            f" (play stops after {STUCK_STOP_S:.0f} s of it)"
        ]


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
