"""Recording commands: record (one take over the mix) and calibrate (the round trip per device pair)."""

from __future__ import annotations

import sys
import time

from stemtui.commands.common import _progress_line, _split, practice_flags
from stemtui.commands.playback import _open_for_mix, prepare_playback

#: Seconds to wait for the input stream's first block (PulseAudio stalls up to ~2 s at start).
INPUT_START_S = 10.0
#: Seconds the input lags the output's end: recorded after the song ends.
TAIL_S = 0.5


def _db(level: float) -> str:
    import math

    return "-inf dB" if level <= 1e-6 else f"{20 * math.log10(level):.0f} dB"


def _wait_input(rec, engine) -> None:
    """Until the input delivers blocks (the take needs them before the song starts)."""
    from stemtui.core.takes.capture import NoInputDevice

    deadline = time.monotonic() + INPUT_START_S
    while rec.capture.callbacks == 0:
        if time.monotonic() > deadline:
            raise NoInputDevice(f"{rec.capture.name}: the input delivered no audio within {INPUT_START_S:.0f} s")
        time.sleep(0.01)
    engine.wait_started(timeout=5.0)


def _input_device(args, engine):
    from stemtui.core.takes.capture import resolve_input

    if args.input == "null" or (args.input is None and engine.null):
        return None  # the device-free input: silence, paced like the null output
    return resolve_input(args.input)


def cmd_record(args, settings) -> int:
    from stemtui.core.audio.native_stderr import NativeStderr
    from stemtui.core.library.safeio import unwind_on_signals

    with NativeStderr(settings.log_dir), unwind_on_signals():
        return _record(args, settings)


def _record(args, settings) -> int:
    from stemtui.core.audio.engine import Engine
    from stemtui.core.errors import BadInput
    from stemtui.core.library.safeio import Terminated
    from stemtui.core.takes.latency import CalibrationStore
    from stemtui.core.takes.recorder import Recorder, StoreSink
    from stemtui.core.takes.takemix import is_take_row
    from stemtui.core.timefmt import format_time, parse_time

    start = parse_time(args.start, "--from") if args.start else None
    if args.duration is not None and args.duration <= 0:
        raise BadInput(f"--duration {args.duration}", "must be positive")
    tempo, semitones = practice_flags(args)
    song = _open_for_mix(args, settings, block=True)  # with its takes (a killed take was recovered at start)
    takes = settings.takes_store()
    engine = Engine(device=args.device)
    beat = rec = None
    code = 0
    try:
        mixer, beat = prepare_playback(args, settings, engine, song, start, tempo, semitones)
        device = _input_device(args, engine)
        reference = next((n for n in _split(args.mute) if n in song.names and not is_take_row(n)), "")
        sr = mixer.sample_rate
        cal = CalibrationStore(settings.data_dir).get(engine.device_name, device.name) if device else 0.0
        rec = Recorder(
            engine,
            StoreSink(takes, song.id, reference),
            device,
            calibration_s=cal,
            min_start_s=mixer.position / sr,
            max_frames=round(args.duration * sr) if args.duration is not None else None,
        )
        rec.start()  # a refusing input: one line, nothing stored
        try:
            _wait_input(rec, engine)
            mixer.play()  # from paused: a count-in plays first
            while not rec.done.is_set():
                time.sleep(0.1)
                pos = mixer.position / sr
                state = "count-in" if mixer.counting_in else format_time(pos)
                _progress_line(
                    f"● REC {song.title}  {state} / {format_time(song.duration)}  take {rec.recorded_s:5.1f} s"
                    f"  input {_db(rec.level())}  overflows {rec.overflows}"
                )
                if mixer.ended or engine.stream_lost:
                    time.sleep(TAIL_S)  # the input lags the output: its last frames are still coming
                    break
        except (KeyboardInterrupt, Terminated) as exc:
            code = 0 if isinstance(exc, KeyboardInterrupt) else exc.code  # Ctrl-C is how a take ends
        mixer.pause()
        active, rec = rec, None
        take = active.stop()
        overflows, lost = active.overflows, active.input_lost
    except BaseException:
        if rec is not None:
            rec.discard()
        raise
    finally:
        if beat is not None:
            beat.cancel()
        engine.close()
    if take is None:
        why = lost or "the input delivered no audio"
        print(f"stemtui: nothing was recorded ({why})", file=sys.stderr)
        return 1
    print(take.id, flush=True)
    end = take.start_s + take.duration_s
    print(
        f"take {take.id}: {format_time(take.start_s)}–{format_time(end)} ({take.duration_s:.2f} s, "
        f"{take.frames} frames) · input overflows {overflows} · underruns {engine.underruns}",
        file=sys.stderr,
    )
    if lost:
        print(f"stemtui: {lost}; take {take.id} keeps the {take.duration_s:.1f} s before it", file=sys.stderr)
        return 1
    return code


def cmd_calibrate(args, settings) -> int:
    from stemtui.core.audio.native_stderr import NativeStderr

    with NativeStderr(settings.log_dir):
        return _calibrate(args, settings)


def _calibrate(args, settings) -> int:
    import numpy as np

    from stemtui.core.audio.engine import Engine
    from stemtui.core.errors import NoOutputDevice, StemtuiError
    from stemtui.core.takes.latency import CalibrationStore, calibration_song, click_offset
    from stemtui.core.takes.recorder import MemorySink, Recorder

    engine = Engine(device=args.device)
    try:
        song, clicks = calibration_song(44100)
        mixer = engine.load(song)
        if engine.notice:
            raise NoOutputDevice(engine.notice)
        device = _input_device(args, engine)
        if device is None:
            raise NoOutputDevice("calibrate needs a real output and input (not the null device)")
        sr = mixer.sample_rate
        song = mixer.song  # resampled to the device's rate if need be
        clicks = [round(c * sr / 44100) for c in clicks]
        mixer.start_at(0, playing=False)
        rec = Recorder(engine, MemorySink(), device, channels=1, min_start_s=0.0)
        rec.start()
        try:
            _wait_input(rec, engine)
            _progress_line(f"calibrating {engine.device_name} → {device.name}: playing clicks …")
            mixer.play()
            while not mixer.ended:
                time.sleep(0.05)
            time.sleep(TAIL_S)
        except BaseException:
            rec.discard()
            raise
        got = rec.stop()
    finally:
        engine.close()
    if got is None:
        raise StemtuiError(f"{device.name}: the input delivered no audio")
    start_s, data = got
    ref = song.data.sum(axis=0)[:, 0]
    s0 = round(start_s * sr)
    # The recording placed at its song time, against the clicks' own frames.
    rec = np.zeros(ref.shape[0], dtype=np.float32)
    skip = max(0, -s0)  # frames from before the song's start
    n = max(0, min(data.shape[0] - skip, ref.shape[0] - max(s0, 0)))
    rec[max(s0, 0) : max(s0, 0) + n] = data[skip : skip + n, 0]
    lag, quality = click_offset(rec, ref, clicks, sr)
    if quality < 0.5:
        raise StemtuiError(
            f"{device.name}: the clicks did not come back clearly ({quality * 100:.0f}% agree); "
            "use a loopback, or hold the microphone near the speaker and turn the volume up"
        )
    offset = -lag / sr  # the recording sat `lag` frames later than its uncorrected start said
    store = CalibrationStore(settings.data_dir)
    store.set(engine.device_name, device.name, offset, quality)
    _progress_line(
        f"{engine.device_name} → {device.name}: correction {offset * 1000:+.1f} ms"
        f" ({quality * 100:.0f}% of the clicks agree) stored in {store.path}",
        final=True,
    )
    print(f"{offset * 1000:+.1f}")
    return 0
