"""Playback commands: play, export, devices."""

from __future__ import annotations

import sys
import time

from stemtui.commands.common import (
    StuckWatch,
    _progress_line,
    apply_metronome_flags,
    apply_mix_flags,
    practice_flags,
    trainer_flags,
)


def _open_for_mix(args, settings, block: bool):
    from stemtui.commands.common import open_song_with_takes
    from stemtui.core.library.catalog import find_song

    store = settings.store()
    entry = find_song(store, args.song)
    return open_song_with_takes(store, settings.takes_store(), entry, block=block)


def _song_for_play(args, settings):
    """The song to play with its takes, and the separation job feeding it (or ``None``).

    An audio file that is not in the cache yet is separated while it plays:
    playback starts on the first finished chunk.
    """
    from stemtui.commands.common import add_takes

    song, job = _song_or_job(args, settings)
    try:
        return add_takes(song, settings.takes_store()), job
    except BaseException:
        if job is not None:
            job.discard()
        raise


def _song_or_job(args, settings):
    from pathlib import Path

    from stemtui.commands.common import separation_options
    from stemtui.core.library.catalog import find_song, open_song

    store = settings.store()
    p = Path(args.song).expanduser()
    if p.is_file() and not p.name.lower().endswith((".stem.mp4", ".stem.m4a")):
        from stemtui.core.separation.job import SeparationJob

        job = SeparationJob(store, p, separation_options(args), nice=10)
        hit = job.lookup()
        if hit is not None:
            return store.open(hit), None
        _progress_line(f"{p.name}: loading {job.options.model} …")
        job.start()
        try:
            return job.song(), job
        except BaseException:
            job.discard()
            raise
    return open_song(store, find_song(store, args.song)), None


def cmd_play(args, settings) -> int:
    # What PortAudio/ALSA print from C goes to the log folder, not the terminal (helper G).
    from stemtui.core.audio.native_stderr import NativeStderr

    with NativeStderr(settings.log_dir):
        return _play(args, settings)


def prepare_playback(args, settings, engine, song, start: float | None, tempo: float, semitones: int):
    """Load ``song`` into ``engine`` and make it ready to play, paused: ``(mixer, beat grid wait or None)``.

    The mix flags, a missing device (``NoOutputDevice``), the first audio, the
    metronome (waiting for the grid before a count-in), the start (``start``
    seconds, else the loop's start, else 0) and the tempo. Shared by ``play``
    and ``record``.
    """
    from stemtui.core.errors import NoOutputDevice
    from stemtui.core.library.stemfiles import wait_first_audio

    mixer = engine.load(song)
    apply_mix_flags(mixer, args)  # bad flags are reported before a missing device
    if engine.notice:
        raise NoOutputDevice(engine.notice + " — `stemtui export` works without one")
    wait_first_audio(mixer.song, timeout=600)
    beat = apply_metronome_flags(mixer, args, settings.practice_store(), background=True)
    try:
        if beat is not None and beat.count:
            beat.wait()  # a count-in comes first: the grid must be there before playback
        a, _, on = mixer.loop
        first = round(start * mixer.sample_rate) if start is not None else (a if on else 0)
        mixer.start_at(first, playing=False)
        if tempo != 1.0 or semitones:
            mixer.set_tempo(tempo, semitones)  # the song itself plays until the stretched audio is ready (< 1 s)
    except BaseException:
        if beat is not None:
            beat.cancel()  # the caller never sees it
        raise
    return mixer, beat


def _play(args, settings) -> int:
    from stemtui.core.audio.devicewatch import GIVE_UP_S
    from stemtui.core.audio.engine import Engine
    from stemtui.core.errors import BadInput
    from stemtui.core.timefmt import format_time, parse_time

    start = parse_time(args.start, "--from") if args.start else None
    if args.duration is not None and args.duration <= 0:
        raise BadInput(f"--duration {args.duration}", "must be positive")
    tempo, semitones = practice_flags(args)
    spec = trainer_flags(args)
    song, job = _song_for_play(args, settings)
    engine = Engine(device=args.device)
    trained = None
    interrupted = False
    beat = None
    problems: list[str] = []  # one line each: tempo failures, then audio faults

    def warn(lines: list[str]) -> None:
        for line in lines:
            _progress_line(f"warning: {line}", final=True)
        problems.extend(lines)

    try:
        mixer, beat = prepare_playback(args, settings, engine, song, start, tempo, semitones)
        if spec is not None:
            start_trainer_paused(mixer, spec, semitones)
        mixer.play()  # from paused: a count-in plays first
        played = time.monotonic()
        # --duration counts from when playback began, or from when audio
        # flowed at the device's period if that came later (the stream's
        # start-up stall, ~1-2 s on PulseAudio, is not counted; waiting for
        # the first separated chunk or the beat grid happened before).
        t0 = max(played, engine.wait_started(timeout=5.0) or played)
        muted = [mixer.song.label(n) for i, n in enumerate(mixer.song.names) if not mixer.audible(i)]
        tag = f"  [muted: {', '.join(muted)}]" if muted else ""
        if tempo != 1.0 or semitones:
            tag += f"  [{tempo * 100:.0f}%{f', {semitones:+d} st' if semitones else ''}]"
        stuck = StuckWatch()
        while True:
            time.sleep(0.1)
            pos = mixer.position / mixer.sample_rate
            separating = job is not None and not song.complete.is_set()
            sep = ""
            if separating:
                sep = f"  separating {100 * song.available / song.frames:3.0f}%" + (
                    " (waiting)" if mixer.starved else ""
                )
            warn(mixer.take_tempo_errors())
            warn(beat.take_error() if beat is not None else [])
            # Not stuck: counting in, waiting on the separation, or a lost device (its own line).
            lost = bool(engine.stream_lost) or engine.device_lost_for is not None
            waiting = mixer.counting_in or (separating and mixer.starved) or lost
            warn(stuck.poll(mixer.position, mixer.sample_rate, waiting))
            where = f"{format_time(pos)} / {format_time(song.duration)}"
            trained = mixer.trainer or trained
            train = f"  [{trained.line}]" if trained is not None else ""
            _progress_line(f"▶ {song.title}  {where}{tag}{train}{sep}  underruns {engine.underruns}")
            if trained is not None and trained.done:
                break  # every pass of --passes was played
            if mixer.ended or (args.duration is not None and time.monotonic() - t0 >= args.duration):
                break  # the song's end, or --duration in wall time: whatever the playhead did
            if engine.stream_lost:
                break  # no more sound will come; the summary says why
            if stuck.stop:
                break  # stuck for STUCK_STOP_S: its line was told
            lost_for = engine.device_lost_for
            if lost_for is not None and lost_for >= GIVE_UP_S:
                break  # the device did not come back; the summary says so
        mixer.pause()
        time.sleep(3 * engine.blocksize / engine.sample_rate)  # let the fade-out play
        warn(mixer.take_tempo_errors())
        mixer.close()
    except KeyboardInterrupt:
        interrupted = True
    except BaseException:
        if job is not None:
            job.discard()
        raise
    finally:
        if beat is not None:
            beat.cancel()
        pos = engine.mixer.position if engine.mixer else 0
        engine.close()
    print(
        f"stopped at {format_time(pos / max(1, engine.sample_rate))} on {engine.device_name} "
        f"({engine.sample_rate} Hz) · underruns {engine.underruns} · max callback gap {engine.max_gap_ms:.1f} ms"
        f" (start-up {engine.startup_s:.2f} s, then {engine.steady_max_gap_ms:.1f} ms)"
        + (f" · trainer: {trained_summary(trained)}" if trained is not None else ""),
        file=sys.stderr,
    )
    warn(engine.faults())
    if job is not None:
        if interrupted:
            job.discard()
            print("separation cancelled, nothing stored", file=sys.stderr)
            return 130
        _progress_line("finishing the separation …")
        entry = job.finish()
        _progress_line(f"stored: {entry.id[:8]}  {entry.title}  → {entry.path}", final=True)
    return 130 if interrupted else 1 if problems else 0


def start_trainer_paused(mixer, spec, semitones: int) -> None:
    """Start the speed trainer and wait (paused) until pass 1 is at the loop start at its tempo."""
    from stemtui.core.errors import StemtuiError

    if semitones:
        mixer.set_tempo(1.0, semitones)
    mixer.start_trainer(spec)
    deadline = time.monotonic() + 60.0
    while (st := mixer.trainer) is None or not st.started:
        errors = mixer.take_tempo_errors()
        if errors or time.monotonic() > deadline:
            raise StemtuiError(f"trainer: could not start ({'; '.join(errors) or 'no audio rendered in 60 s'})")
        time.sleep(0.02)


def trained_summary(st) -> str:
    """``4 of 4 passes played (70 → 100 %), 0 late``."""
    from stemtui.core.tempo.trainer import pct

    played = st.pass_no - 1
    return f"{played} of {st.total} passes played (last at {pct(st.tempo)} %), {st.late} late"


def cmd_export(args, settings) -> int:
    if args.progress_json:  # the player's `e` runs this as a child of the worker protocol
        from stemtui.core.procs.channel import serve

        return serve(lambda chan: _export(args, settings, chan), cancel_on_sigterm=True)
    return _export(args, settings, None)


def _export(args, settings, chan) -> int:
    from pathlib import Path

    from stemtui.core.audio.mixer import Mixer
    from stemtui.core.errors import BadInput
    from stemtui.core.library.export import backing_name, check_output_path, export_mix
    from stemtui.core.timefmt import parse_time

    target = Path(args.output).expanduser() if args.output else None
    if target is not None and not target.is_dir():
        check_output_path(target)
    tempo, semitones = practice_flags(args)
    spec = trainer_flags(args)
    if spec is not None and (args.start or args.end):
        raise BadInput("--from/--to", "not with --trainer, which plays the loop")
    start_s = parse_time(args.start, "--from") if args.start else None
    end_s = parse_time(args.end, "--to") if args.end else None
    if chan is None and _export_map(args, settings, semitones) and target is None:
        return 0  # only --midi/--chords/--chart: no audio
    song = _open_for_mix(args, settings, block=True)
    mixer = Mixer(song)
    apply_mix_flags(mixer, args)
    apply_metronome_flags(mixer, args, settings.practice_store())
    sr = song.sample_rate
    a, b, on = mixer.loop
    if target is None or target.is_dir():
        # No file name given: one that says what this backing track leaves out.
        audible = [mixer.audible(i) for i in range(len(song.names))]
        name = backing_name(
            song.title,
            [song.label(n) for n in song.names],
            audible,
            tempo,
            semitones,
            (a / sr, b / sr) if on else None,
            "." + args.format,
            click=bool(args.click),
            ranges=[(r.kind, song.label(song.names[r.stem]), r.start / sr, r.end / sr) for r in mixer.ranges],
        )
        if spec is not None:
            ext = "." + args.format
            name = f"{name.removesuffix(ext)} trainer {spec.label().replace(':', '-')}{ext}"
        target = (target or Path.cwd()) / name
    if spec is not None:
        return _export_trainer(mixer, spec, target, semitones, chan, progress_to(chan))
    if on:
        # Exporting a loop means the loop region, once, in song time.
        mixer.enable_loop(False)
        start, end = a, b
    else:
        start, end = 0, song.frames
    if start_s is not None:
        start = round(start_s * sr)
    if end_s is not None:
        end = round(end_s * sr)
    end = min(end, song.frames)
    if start >= end:
        raise BadInput(
            f"--from/--to {args.start}-{args.end}",
            "empty range (the start must come before the end and the song's end)",
        )

    progress = progress_to(chan)
    path = export_mix(mixer, start, end, target, progress, tempo=tempo, semitones=semitones)
    if chan is not None:
        chan.done(path=str(path), seconds=round((end - start) / sr / tempo, 3))
    else:
        _progress_line(f"wrote {path} ({(end - start) / sr / tempo:.1f} s)", final=True)
    return 0


def progress_to(chan):
    """The export's progress callback: JSON events to the player's worker channel, or a bar on stderr."""

    def progress(f: float) -> None:
        if chan is not None:
            chan.progress(round(f, 4))
            if chan.lost:
                from stemtui.core.library.safeio import WriteFailed

                raise WriteFailed("stdout", "cannot write: broken pipe (the reader of --progress-json went away)")
            return
        bar = "█" * int(f * 30)
        _progress_line(f"exporting {bar:30} {f * 100:5.1f}%")

    return progress


def _export_trainer(mixer, spec, target, semitones: int, chan, progress) -> int:
    """``export --trainer``: every pass of the session in one file."""
    from stemtui.core.library.trainsession import export_session

    path, lengths = export_session(mixer, spec, target, progress, semitones=semitones)
    seconds = sum(lengths) / mixer.sample_rate
    if chan is not None:
        chan.done(path=str(path), seconds=round(seconds, 3))
    else:
        _progress_line(f"wrote {path} ({seconds:.1f} s, {len(lengths)} passes: {spec.label()})", final=True)
    return 0


def _export_map(args, settings, semitones: int) -> bool:
    """``--midi/--chords/--chart``: written (analysing first if need be); whether any was given."""
    from stemtui.commands.analyze_cmd import export_map_files, map_export_targets
    from stemtui.core.library.catalog import find_song

    targets = map_export_targets(args)
    if targets:
        export_map_files(settings, find_song(settings.store(), args.song), targets, semitones)
    return bool(targets)


def cmd_devices(args, settings) -> int:  # noqa: ARG001 -- every command takes (args, settings)
    from stemtui.core.audio.engine import list_output_devices

    devices = list_output_devices()
    if not devices:
        print("no audio output devices found (stemtui still works: export, import, separate)", file=sys.stderr)
        return 2
    for d in devices:
        mark = "*" if d.is_default else " "
        print(f"{mark}{d.index:3}  {d.name}  ({d.hostapi}, {d.channels} ch, {d.default_samplerate:.0f} Hz)")
    return 0
