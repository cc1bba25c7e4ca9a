"""Command-line interface: argument parsing and the headless commands.

Heavy modules (numpy, soundfile, torch, textual) are imported inside the
command that needs them, so ``stemtui --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from stemtui import __version__

EPILOG = """examples:
  stemtui                              open the library (the demo song is there)
  stemtui play demo --mute vocals      sing along to the demo, headless
  stemtui play demo --solo bass --loop 0:08-0:16
  stemtui import ~/stems/mysong/       a folder of drums.wav, bass.flac, ...
  stemtui export demo --mute vocals -o karaoke.wav
"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", metavar="DIR", help="song store (default: platformdirs cache; env STEMTUI_CACHE_DIR)")


def _mix_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("mix")
    g.add_argument("--mute", action="append", default=[], metavar="STEM", help="mute a stem (repeatable, or a,b)")
    g.add_argument("--solo", action="append", default=[], metavar="STEM", help="solo a stem (repeatable, or a,b)")
    g.add_argument("--volume", action="append", default=[], metavar="STEM=GAIN", help="e.g. drums=-6dB, bass=150%%")
    g.add_argument("--master", metavar="GAIN", help="master volume, e.g. -3dB")
    g.add_argument("--loop", metavar="A-B", help="loop a section, e.g. 0:30.0-0:45.5")


def _sep_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("separation")
    g.add_argument("-n", "--model", default="htdemucs", help="htdemucs (default), htdemucs_ft, htdemucs_6s, mdx_extra, ...")
    g.add_argument("--two-stems", metavar="STEM", help="only STEM and the rest, e.g. vocals -> vocals + instrumental")
    g.add_argument("--model-repo", metavar="DIR", help="folder with model files (offline use; see README)")
    g.add_argument("--sep-device", "--compute", dest="compute", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="where the model runs (default: auto = CUDA, then MPS, then CPU)")
    g.add_argument("--shifts", type=int, default=1, help="random-shift passes averaged (slower, slightly better)")
    g.add_argument("--overlap", type=float, default=0.25, help="overlap between segments (default 0.25)")
    g.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="bf16 where the CPU/GPU runs it fast (auto), else fp32")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used for the README's CLI section)."""
    parser = argparse.ArgumentParser(
        prog="stemtui",
        description="A terminal practice player: split songs into stems, then mute, solo and loop them.",
        usage="stemtui [--cache-dir DIR] [SONG|FILE]\n       stemtui COMMAND ...",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"stemtui {__version__}")
    _common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("separate", help="split audio files into stems with Demucs (a queue)")
    p.add_argument("files", nargs="+", metavar="FILE", help="MP3, M4A/AAC, FLAC, WAV, OGG/Opus, AIFF ...")
    _sep_flags(p)
    p.add_argument("--json", action="store_true", help="JSON progress lines on stdout")
    _common(p)

    p = sub.add_parser("import", help="add a folder of stems or a .stem.mp4 to the library")
    p.add_argument("path")
    p.add_argument("--title", help="title to show instead of the tag or folder name")
    _common(p)

    p = sub.add_parser("list", help="list the songs in the library")
    p.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    _common(p)

    p = sub.add_parser("info", help="show a song's details and where its stems are")
    p.add_argument("song", help="id prefix or part of the title")
    _common(p)

    p = sub.add_parser("rm", help="remove a song from the library (damaged ones too)")
    p.add_argument("song")
    _common(p)

    p = sub.add_parser("play", help="play a song headless until the end, --duration or Ctrl-C")
    p.add_argument("song")
    _mix_flags(p)
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--from", dest="start", metavar="T", help="start at time T (M:SS.mmm)")
    p.add_argument("--device", metavar="D", help="output device name or index (see `stemtui devices`)")
    _common(p)

    p = sub.add_parser("export", help="render the mix to .wav, .flac or .mp3")
    p.add_argument("song")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    _mix_flags(p)
    p.add_argument("--from", dest="start", metavar="T", help="start time (M:SS.mmm)")
    p.add_argument("--to", dest="end", metavar="T", help="end time (M:SS.mmm)")
    _common(p)

    p = sub.add_parser("devices", help="list audio output devices")
    _common(p)

    p = sub.add_parser("demo", help="put the demo song in the library and show how to play it")
    _common(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stemtui`` console script.

    Returns:
        The exit code: 0 on success, 2 for bad input (one line on stderr),
        130 on Ctrl-C.
    """
    from stemtui.core.errors import StemtuiError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # `stemtui SONG|FILE` opens the player; argparse can't mix an optional
    # positional with subcommands, so pick the target out by hand.
    target = None
    rest = [a for a in argv if a != "--cache-dir" and (argv.index(a) == 0 or argv[argv.index(a) - 1] != "--cache-dir")]
    if rest and not rest[0].startswith("-") and rest[0] not in COMMANDS:
        target = rest[0]
        argv.remove(target)
    args = parser.parse_args(argv)
    args.target = target
    if args.cache_dir:
        os.environ["STEMTUI_CACHE_DIR"] = args.cache_dir
    handler = COMMANDS.get(args.command or "", cmd_app)
    try:
        return handler(args) or 0
    except StemtuiError as exc:
        print(f"stemtui: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130


# -- helpers ------------------------------------------------------------------
def _store():
    from stemtui.core.store import Store

    return Store()


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
    from stemtui.core.separation import SeparationOptions

    repo = None
    if getattr(args, "model_repo", None):
        repo = Path(args.model_repo).expanduser()
        if not repo.is_dir():
            raise BadInput(f"--model-repo {args.model_repo}", "no such folder")
    opts = SeparationOptions(
        model=args.model, repo=repo, device=args.compute, shifts=args.shifts, overlap=args.overlap,
        precision=args.precision, two_stems=args.two_stems,
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
        f"{_bar(p.fraction)} {p.fraction * 100:3.0f}%  {format_time(p.audio_done_s, 0)}/{format_time(p.audio_total_s, 0)} audio"
        f"  {eta}  {p.model} on {p.device} ({p.precision})"
    )


# -- commands -----------------------------------------------------------------
def cmd_separate(args) -> int:
    """Separate each file in turn; a bad file is reported and the queue goes on."""
    from dataclasses import asdict

    from stemtui.core.errors import StemtuiError
    from stemtui.core.jobs import SeparationJob
    from stemtui.core.separation import SeparationCancelled

    opts = separation_options(args)
    store = _store()
    worst = 0
    for i, path in enumerate(args.files):
        label = f"[{i + 1}/{len(args.files)}] " if len(args.files) > 1 else ""

        def emit(p, path=path, label=label):
            if args.json:
                print(json.dumps({"event": "progress", "file": path, **asdict(p)}), flush=True)
            else:
                _progress_line(f"{label}{describe_progress(p)}")

        job = None
        try:
            job = SeparationJob(store, path, opts, on_progress=emit)
            hit = job.lookup()
            if hit is None:
                if not args.json:
                    _progress_line(f"{label}{path}: loading {opts.model} …")
                job.start()
                hit = job.finish()
                status = "separated"
            else:
                status = "cached"
            if args.json:
                print(json.dumps({"event": "done", "file": path, "status": status, "id": hit.id, "stems": hit.stems, "path": str(hit.path)}), flush=True)
            else:
                _progress_line(f"{label}{status}: {hit.id[:8]}  {hit.title}  ({', '.join(hit.stems)})  → {hit.path}", final=True)
        except SeparationCancelled:
            _progress_line(f"{label}{path}: cancelled, nothing stored", final=True)
            return 130
        except KeyboardInterrupt:
            if job is not None:
                job.discard()
            _progress_line(f"{label}{path}: cancelled, nothing stored", final=True)
            return 130
        except StemtuiError as exc:
            if job is not None:
                job.discard()
            if sys.stderr.isatty():
                sys.stderr.write("\r\x1b[2K")
            if args.json:
                print(json.dumps({"event": "error", "file": path, "message": str(exc)}), flush=True)
            print(f"stemtui: {exc}", file=sys.stderr)
            worst = max(worst, exc.exit_code)
    return worst


def cmd_import(args) -> int:
    from stemtui.core.library import import_path

    entry, new = import_path(_store(), args.path, args.title)
    what = "imported" if new else "already in the library:"
    print(f"{what} {entry.id[:8]}  {entry.title}  ({len(entry.stems)} stems: {', '.join(entry.stems)}; {entry.duration:.1f} s)")
    return 0


def cmd_list(args) -> int:
    from stemtui.core.library import ensure_demo
    from stemtui.core.timefmt import format_time

    from stemtui.core.jobs import in_progress

    store = _store()
    ensure_demo(store)
    entries = store.entries() + in_progress(store)
    if args.json:
        print(json.dumps([e.to_json() for e in entries], indent=2))
        return 0
    if not entries:
        print("The library is empty. Add songs with `stemtui import PATH`.")
        return 0
    print(f"{'ID':8}  {'TITLE':28} {'ARTIST':16} {'LENGTH':>7}  {'STEMS':5} {'SIZE':>9}  STATE")
    for e in entries:
        state = e.state if e.ok else f"{e.state}: {e.reason}"
        print(f"{e.id[:8]:8}  {e.title[:28]:28} {e.artist[:16]:16} {format_time(e.duration, 0):>7}  {len(e.stems):5} {_fmt_size(e.size_bytes):>9}  {state}")
    return 0


def cmd_info(args) -> int:
    from stemtui.core.library import find_song
    from stemtui.core.timefmt import format_time

    store = _store()
    e = store.resolve(args.song, allow_damaged=True) if not os.path.exists(args.song) else find_song(store, args.song)
    print(f"{e.title}" + (f" — {e.artist}" if e.artist else ""))
    print(f"  id        {e.id}")
    print(f"  state     {e.state}" + (f" ({e.reason})" if e.reason else ""))
    print(f"  length    {format_time(e.duration, 2)} at {e.sample_rate} Hz")
    print(f"  model     {e.model or '(imported stems)'} {json.dumps(e.options) if e.options else ''}".rstrip())
    print(f"  source    {e.source}")
    print(f"  created   {e.created}")
    print(f"  on disk   {_fmt_size(e.size_bytes)} in {e.path}")
    for name in e.stems:
        print(f"    {name:12} {e.stem_path(name)}")
    return 0


def cmd_rm(args) -> int:
    store = _store()
    e = store.resolve(args.song, allow_damaged=True)
    store.remove(e)
    print(f"removed {e.id[:8]}  {e.title}")
    return 0


def _open_for_mix(args, block: bool):
    from stemtui.core.library import find_song, open_song

    store = _store()
    entry = find_song(store, args.song)
    return open_song(store, entry, block=block)


def cmd_play(args) -> int:
    from stemtui.core.engine import Engine
    from stemtui.core.errors import NoOutputDevice
    from stemtui.core.store import wait_first_audio
    from stemtui.core.timefmt import format_time, parse_time

    start = parse_time(args.start, "--from") if args.start else None
    if args.duration is not None and args.duration <= 0:
        from stemtui.core.errors import BadInput

        raise BadInput(f"--duration {args.duration}", "must be positive")
    song = _open_for_mix(args, block=False)
    engine = Engine(device=args.device)
    try:
        mixer = engine.load(song)
        apply_mix_flags(mixer, args)  # bad flags are reported before a missing device
        if engine.notice:
            raise NoOutputDevice(engine.notice.replace("; playing silently", "") + " — `stemtui export` works without one")
        wait_first_audio(mixer.song)
        a, _, on = mixer.loop
        mixer.start_at(int(round(start * mixer.sample_rate)) if start is not None else (a if on else 0))
        t0 = time.monotonic()
        muted = [n for i, n in enumerate(mixer.song.names) if not mixer.audible(i)]
        tag = f"  [muted: {', '.join(muted)}]" if muted else ""
        while True:
            time.sleep(0.1)
            pos = mixer.position / mixer.sample_rate
            _progress_line(f"▶ {song.title}  {format_time(pos)} / {format_time(song.duration)}{tag}  underruns {engine.underruns}")
            if mixer.ended or (args.duration is not None and time.monotonic() - t0 >= args.duration):
                break
        mixer.pause()
        time.sleep(3 * engine.blocksize / engine.sample_rate)  # let the fade-out play
    except KeyboardInterrupt:
        pass
    finally:
        engine.close()
    pos = engine.mixer.position if engine.mixer else 0
    print(
        f"stopped at {format_time(pos / max(1, engine.sample_rate))} on {engine.device_name} "
        f"({engine.sample_rate} Hz) · underruns {engine.underruns} · max callback gap {engine.max_gap_ms:.1f} ms",
        file=sys.stderr,
    )
    return 0


def cmd_export(args) -> int:
    from stemtui.core.errors import BadInput
    from stemtui.core.export import check_output_path, export_mix
    from stemtui.core.mixer import Mixer
    from stemtui.core.timefmt import parse_time

    check_output_path(args.output)
    start_s = parse_time(args.start, "--from") if args.start else None
    end_s = parse_time(args.end, "--to") if args.end else None
    song = _open_for_mix(args, block=True)
    mixer = Mixer(song)
    apply_mix_flags(mixer, args)
    sr = song.sample_rate
    a, b, on = mixer.loop
    if on:
        # Exporting a loop means the loop region, once, in song time.
        mixer.enable_loop(False)
        start, end = a, b
    else:
        start, end = 0, song.frames
    if start_s is not None:
        start = int(round(start_s * sr))
    if end_s is not None:
        end = int(round(end_s * sr))
    end = min(end, song.frames)
    if start >= end:
        raise BadInput(f"--from/--to {args.start}-{args.end}", "empty range (the start must come before the end and the song's end)")

    def progress(f: float) -> None:
        bar = "█" * int(f * 30)
        _progress_line(f"exporting {bar:30} {f * 100:5.1f}%")

    path = export_mix(mixer, start, end, args.output, progress)
    _progress_line(f"wrote {path} ({(end - start) / sr:.1f} s)", final=True)
    return 0


def cmd_devices(args) -> int:
    from stemtui.core.engine import list_output_devices

    devices = list_output_devices()
    if not devices:
        print("no audio output devices found (stemtui still works: export, import, separate)", file=sys.stderr)
        return 2
    for d in devices:
        mark = "*" if d.is_default else " "
        print(f"{mark}{d.index:3}  {d.name}  ({d.hostapi}, {d.channels} ch, {d.default_samplerate:.0f} Hz)")
    return 0


def cmd_demo(args) -> int:
    from stemtui.core.library import ensure_demo

    entry = ensure_demo(_store(), force=True)
    print(f"demo ready: {entry.id[:8]}  {entry.title}  ({', '.join(entry.stems)}; {entry.duration:.1f} s)")
    print("try: stemtui play demo --mute vocals    or open it in the player: stemtui demo")
    return 0


def cmd_app(args) -> int:
    """Open the terminal UI (the library, or a song/file given as TARGET)."""
    try:
        from stemtui.ui.app import run_app
    except ImportError:
        return cmd_list(argparse.Namespace(json=False))
    return run_app(args.target)


COMMANDS = {
    "separate": cmd_separate,
    "import": cmd_import,
    "list": cmd_list,
    "info": cmd_info,
    "rm": cmd_rm,
    "play": cmd_play,
    "export": cmd_export,
    "devices": cmd_devices,
    "demo": cmd_demo,
}
