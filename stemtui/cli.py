"""Command-line interface: argument parsing and the headless commands.

Heavy modules (numpy, soundfile, torch, textual) are imported inside the
command that needs them, so ``stemtui --help`` stays fast.
"""

from __future__ import annotations

import argparse
import errno
import re
import sys
from collections.abc import Sequence

from stemtui import __version__

EPILOG = """examples:
  stemtui                              open the library (the demo song is there)
  stemtui play demo --mute vocals      sing along to the demo, headless
  stemtui play demo --solo bass --loop 0:08-0:16
  stemtui import ~/stems/mysong/       a folder of drums.wav, bass.flac, ...
  stemtui export demo --mute vocals -o karaoke.wav
  stemtui export demo --mute drums@0:08-0:16   drums out for one section only
  stemtui analyze demo                 tempo, key, sections, chords and bass notes
  stemtui export demo --chart chart.txt
"""


def _common(p: argparse.ArgumentParser, top: bool = False) -> None:
    # A command's own --cache-dir has no default, so it cannot undo one given before the command.
    p.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=None if top else argparse.SUPPRESS,
        help="song store (default: platformdirs cache; env STEMTUI_CACHE_DIR)",
    )


def _mix_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("mix")
    for flag in ("--mute", "--solo"):
        what = flag[2:]
        g.add_argument(
            flag,
            action="append",
            default=[],
            metavar="STEM[@A-B]",
            help=f"{what} a stem (repeatable, or a,b); @A-B: only there",
        )
    g.add_argument("--volume", action="append", default=[], metavar="STEM=GAIN", help="e.g. drums=-6dB, bass=150%%")
    g.add_argument("--master", metavar="GAIN", help="master volume, e.g. -3dB")
    g.add_argument("--loop", metavar="A-B", help="loop a section, e.g. 0:30.0-0:45.5")
    g = p.add_argument_group("practice")
    g.add_argument("--tempo", default="1.0", metavar="F", help="speed without changing pitch, 0.5-1.5 (e.g. 0.8)")
    g.add_argument("--transpose", default="0", metavar="N", help="shift pitch by N semitones, -12..12")
    g.add_argument("--click", action="store_true", help="add a metronome click on the song's beats")
    g.add_argument(
        "--bpm",
        metavar="BPM[@S]",
        help="beats per minute (and first beat, seconds) instead of the saved or detected ones",
    )


def _trainer_flags(p: argparse.ArgumentParser, count_in: bool = False) -> None:
    g = p.add_argument_group("speed trainer (needs --loop)")
    g.add_argument(
        "--trainer",
        metavar="START:STEP:EVERY[:END]",
        help="start the loop at START %%, STEP %% faster every EVERY passes, up to END (100), e.g. 70:5:2:100",
    )
    g.add_argument("--passes", metavar="N", help="stop after N passes (default: END played EVERY times)")
    if count_in:
        g.add_argument("--count-in", type=int, default=0, metavar="N", help="N clicks before each pass")


def _sep_flags(p: argparse.ArgumentParser, device_flags: tuple[str, ...] = ("--compute",)) -> None:
    g = p.add_argument_group("separation")
    g.add_argument(
        "-n", "--model", default="htdemucs", help="htdemucs (default), htdemucs_ft, htdemucs_6s, mdx_extra, ..."
    )
    g.add_argument("--two-stems", metavar="STEM", help="only STEM and the rest, e.g. vocals -> vocals + instrumental")
    g.add_argument("--model-repo", metavar="DIR", help="folder with model files (offline use; see README)")
    g.add_argument(
        *device_flags,
        dest="compute",
        default="auto",
        choices=["auto", "cpu", "cuda", "mps"],
        help="where the model runs (default: auto = CUDA, then MPS, then CPU)",
    )
    g.add_argument("--shifts", type=int, default=1, help="random-shift passes averaged (slower, slightly better)")
    g.add_argument("--overlap", type=float, default=0.25, help="overlap between segments (default 0.25)")
    g.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="bf16 where the CPU/GPU runs it fast (auto), else fp32",
    )


def _takes_parser(sub) -> None:
    p = sub.add_parser("takes", help="list, import, rename and remove a song's takes (your recordings)")
    p.add_argument("song", help="id prefix or part of the title")
    p.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    _common(p)
    acts = p.add_subparsers(dest="takes_action", metavar="ACTION", prog="stemtui takes SONG")
    a = acts.add_parser("import", help="add a take recorded elsewhere, its t=0 at song time T")
    a.add_argument("file", metavar="FILE")
    a.add_argument("--at", required=True, metavar="T", help="song time of the file's start (M:SS.mmm)")
    a.add_argument("--name", metavar="N", help="the take's name (default: take ID)")
    a = acts.add_parser("rm", help="delete a take")
    a.add_argument("id", metavar="ID")
    a = acts.add_parser("rename", help="rename a take")
    a.add_argument("id", metavar="ID")
    a.add_argument("name", metavar="NAME")


def _lyrics_parser(sub) -> None:
    p = sub.add_parser("lyrics", help="show a song's lyrics; import an .lrc or text file, or fetch them from LRCLIB")
    p.add_argument("song", help="id prefix or part of the title")
    p.add_argument("--json", action="store_true", help='one JSON array: [{"time": seconds, "text": ...}]')
    p.add_argument("--lrc", action="store_true", help="print them as an LRC file")
    _common(p)
    acts = p.add_subparsers(dest="lyrics_action", metavar="ACTION", prog="stemtui lyrics SONG")
    a = acts.add_parser("import", help="attach an .lrc (timed) or a text file (untimed: time it with y in the player)")
    a.add_argument("file", metavar="FILE")
    acts.add_parser("fetch", help="look them up on LRCLIB by artist, title and duration (env STEMTUI_LRCLIB_URL)")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used for the README's CLI section)."""
    parser = argparse.ArgumentParser(
        prog="stemtui",
        description="A terminal practice player: split songs into stems, then mute, solo and loop them.",
        usage=(
            "stemtui [--cache-dir DIR] [--device D] [-n MODEL] [--model-repo DIR] [SONG|FILE]\n"
            "       stemtui COMMAND ..."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"stemtui {__version__}")
    parser.add_argument(
        "--device", dest="app_device", metavar="D", help="output device for the player (name, index, or null)"
    )
    parser.add_argument(
        "-n",
        "--model",
        dest="app_model",
        metavar="NAME",
        help="model for separations started in the app (default htdemucs)",
    )
    parser.add_argument(
        "--model-repo", dest="app_model_repo", metavar="DIR", help="folder with model files, for offline use"
    )
    _common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="stemtui")

    p = sub.add_parser("separate", help="split audio files into stems with Demucs (a queue)")
    p.add_argument("files", nargs="+", metavar="FILE", help="MP3, M4A/AAC, FLAC, WAV, OGG/Opus, AIFF ...")
    _sep_flags(p, ("--device", "--compute"))
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

    p = sub.add_parser("analyze", help="find the song map: tempo, key, sections, chords and the bass line")
    p.add_argument("song", help="id prefix or part of the title")
    p.add_argument(
        "--json", action="store_true", help="one JSON object: bpm, key, sections, chords, bass_notes, skipped"
    )
    p.add_argument("--force", action="store_true", help="analyse again, even if a cached map is there")
    _common(p)

    p = sub.add_parser("rm", help="remove a song from the library (damaged ones too)")
    p.add_argument("song")
    p.add_argument("--with-takes", action="store_true", help="remove its takes too (kept by default)")
    _common(p)

    _takes_parser(sub)
    _lyrics_parser(sub)

    p = sub.add_parser("play", help="play a song (or separate a file while playing it) headless")
    p.add_argument("song")
    _mix_flags(p)
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--from", dest="start", metavar="T", help="start at time T (M:SS.mmm)")
    p.add_argument("--device", metavar="D", help="output device name or index (see `stemtui devices`)")
    p.add_argument(
        "--count-in", type=int, default=0, metavar="N", help="N clicks before playback and each loop restart"
    )
    _trainer_flags(p)
    _sep_flags(p)  # SONG may be an audio file: it is separated while it plays
    _common(p)

    p = sub.add_parser(
        "export",
        help="render the mix to .wav, .flac or .mp3; the bass line, chords or a chord chart to files",
        description=(
            "Render the mix to an audio file, and/or write files from the song map. "
            "Given only --midi/--chords/--chart (and no -o), only those files are written; "
            "the song is analysed first if it has no cached map (see `stemtui analyze`)."
        ),
    )
    p.add_argument("song")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="a .wav/.flac/.mp3 file or a folder (default: a name saying what was muted, here)",
    )
    g = p.add_argument_group("song map files (no audio unless -o is given too)")
    g.add_argument("--midi", metavar="FILE", help="the bass notes as a MIDI file, e.g. bass.mid")
    g.add_argument("--chords", metavar="FILE", help="the chords as a .lab file (start end label), e.g. chords.lab")
    g.add_argument("--chart", metavar="FILE", help="a plain-text chord sheet in bars, e.g. chart.txt")
    p.add_argument("--format", default="wav", choices=["wav", "flac", "mp3"], help="format when -o is not a file name")
    p.add_argument("--progress-json", action="store_true", help=argparse.SUPPRESS)  # for the player's `e`
    _mix_flags(p)
    p.add_argument("--from", dest="start", metavar="T", help="start time (M:SS.mmm)")
    p.add_argument("--to", dest="end", metavar="T", help="end time (M:SS.mmm)")
    _trainer_flags(p, count_in=True)
    _common(p)

    p = sub.add_parser("record", help="play the mix and record one take over it; prints the take's id")
    p.add_argument("song")
    _mix_flags(p)
    p.add_argument("--input", metavar="DEV", help="input device name or index (default: the default input; null)")
    p.add_argument("--device", metavar="D", help="output device name or index (see `stemtui devices`)")
    p.add_argument("--from", dest="start", metavar="T", help="start at time T (M:SS.mmm)")
    p.add_argument("--duration", type=float, metavar="S", help="record S seconds (default: to the end or Ctrl-C)")
    p.add_argument("--count-in", type=int, default=0, metavar="N", help="N clicks before the take starts")
    _common(p)

    p = sub.add_parser("calibrate", help="measure and store the output-to-input round trip for recording")
    p.add_argument("--input", metavar="DEV", help="input device (a loopback, or a microphone near the speaker)")
    p.add_argument("--device", metavar="D", help="output device name or index")
    _common(p)

    p = sub.add_parser("compare", help="compare a take with a stem, note by note (pitch in cents, timing in ms)")
    p.add_argument("song", help="id prefix or part of the title")
    p.add_argument("take", help="the take's id (see `stemtui takes SONG`)")
    p.add_argument(
        "--against", metavar="STEM", help="the stem to compare with (default: the one muted while recording, or vocals)"
    )
    p.add_argument("--json", action="store_true", help="one JSON object: offset_ms, median_abs_cents, notes, ...")
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
        1 for a failure on the way (one line), 130 on Ctrl-C. A reader that
        closes our stdout early (``stemtui list | head -1``) ends us quietly
        with 1, as Python's own docs advise (a shell shows 141 for tools
        killed by SIGPIPE: non-zero either way).
    """
    from stemtui.core.errors import StemtuiError
    from stemtui.settings import Settings

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # `stemtui SONG|FILE` opens the player; argparse can't mix an optional
    # positional with subcommands, so pick the target out by hand.
    target = None
    takes_value = {"--cache-dir", "--device", "-n", "--model", "--model-repo"}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in takes_value else 1
    if i < len(argv) and argv[i] not in COMMANDS:
        target = argv.pop(i)
    args = parser.parse_args(argv)
    args.target = target
    settings = Settings.from_args(args)
    _sweep_at_start(settings)
    handler = _handler(args.command or "")
    try:
        code = handler(args, settings) or 0
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return 1
    except StemtuiError as exc:
        print(f"stemtui: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except OSError as exc:
        # A file error no layer turned into a StemtuiError yet: still one
        # line naming the path and the reason, never a traceback.
        return _os_error(exc, settings)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what is buffered does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _sweep_at_start(settings) -> None:
    """Remove what dead processes left: export parts in the current folder (the default export
    target), practice-save temp files, and takes being recorded by a process that died.
    (The store sweeps its temp entries when it opens.)"""
    from stemtui.core.library.safeio import sweep_parts

    sweep_parts(".")
    settings.practice_store()  # sweeps on opening
    settings.takes_store().recover()  # takes of recordings killed mid-take: finished or removed, one line each


def _os_error(exc: OSError, settings) -> int:
    """One line for an OSError that no layer turned into a StemtuiError, naming the path and the reason."""

    from stemtui.core.library.safeio import write_error

    filename = exc.filename
    if filename is None and (exc.errno in _WRITE_ERRNOS or (exc.errno is None and _SHORT_WRITE.search(str(exc)))):
        # A write nobody named (numpy's np.save reports a short write with no
        # errno at all: "882000 requested and 785376 written"): those go to the cache.
        if exc.errno is None:
            exc = OSError(errno.ENOSPC, "short write (is the disk full?)")
        filename = settings.cache_dir
    if filename is not None and exc.errno in _WRITE_ERRNOS:
        line = str(write_error(filename, exc))
    elif filename is not None:
        line = f"{filename}: {(exc.strerror or str(exc)).lower()}"
    else:
        line = f"file error: {str(exc).strip() or type(exc).__name__}"
    print(f"stemtui: {line}", file=sys.stderr)
    return 2 if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else 1


_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")
#: errno values that mean a write failed (the rest are named as they are).
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG})


COMMANDS = {
    "separate": "stemtui.commands.separate:cmd_separate",
    "import": "stemtui.commands.library_cmds:cmd_import",
    "list": "stemtui.commands.library_cmds:cmd_list",
    "info": "stemtui.commands.library_cmds:cmd_info",
    "rm": "stemtui.commands.library_cmds:cmd_rm",
    "analyze": "stemtui.commands.analyze_cmd:cmd_analyze",
    "play": "stemtui.commands.playback:cmd_play",
    "export": "stemtui.commands.playback:cmd_export",
    "devices": "stemtui.commands.playback:cmd_devices",
    "record": "stemtui.commands.recording:cmd_record",
    "calibrate": "stemtui.commands.recording:cmd_calibrate",
    "compare": "stemtui.commands.compare_cmd:cmd_compare",
    "demo": "stemtui.commands.library_cmds:cmd_demo",
    "takes": "stemtui.commands.takes_cmds:cmd_takes",
    "lyrics": "stemtui.commands.lyrics_cmd:cmd_lyrics",
    "": "stemtui.commands.library_cmds:cmd_app",
}


def _handler(command: str):
    """The command's function: ``cmd_x(args, settings) -> exit code``."""
    import importlib

    module, _, name = COMMANDS[command].partition(":")
    return getattr(importlib.import_module(module), name)
