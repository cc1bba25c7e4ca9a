"""Files made from a song map: the bass line as MIDI, the chords as a ``.lab``, a chord chart.

- :func:`bass_midi` -- a type-0 MIDI file (``mido``) of the bass notes, at
  the map's tempo (120 without one), electric bass (program 33), channel 1;
- :func:`chords_lab` -- ``start end label`` lines, as ``mir_eval.io.load_labeled_intervals`` reads;
- :func:`chord_chart` -- a plain-text sheet: bars of the grid (``| D . . . | Bm . . . |``),
  four bars a line, a new line with the section's letter where a section starts;
- :func:`write_atomic` -- the bytes to a hidden part file beside the target, fsynced, renamed over it.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from stemtui.core.analysis.songmap import SongMap
from stemtui.core.errors import BadInput
from stemtui.core.library.safeio import file_kind, part_path, probe_writable, write_error

#: General MIDI program 33 (0-based): Electric Bass (finger).
BASS_PROGRAM = 33
TICKS_PER_BEAT = 480
BARS_PER_LINE = 4


def chord_name(label: str) -> str:
    """A chart's name for a Harte label: ``D:maj`` -> ``D``, ``B:min`` -> ``Bm``, ``N`` -> ``N.C.``."""
    if label in ("N", "X"):
        return "N.C."
    root, _, quality = label.partition(":")
    return root + {"maj": "", "min": "m"}.get(quality, quality)


def bass_midi(song_map: SongMap) -> bytes:
    """The bass notes as a standard MIDI file (type 0), the bytes."""
    import mido

    bpm = song_map.bpm or 120.0
    tempo = mido.bpm2tempo(bpm)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name="bass", time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
    track.append(mido.Message("program_change", program=BASS_PROGRAM, channel=0, time=0))
    events: list[tuple[int, int, int]] = []  # (tick, 0 = off before 1 = on, note)
    for n in song_map.bass_notes:
        on = round(mido.second2tick(n.start, TICKS_PER_BEAT, tempo))
        off = max(on + 1, round(mido.second2tick(n.end, TICKS_PER_BEAT, tempo)))
        events += [(on, 1, n.midi), (off, 0, n.midi)]
    now = 0
    for tick, is_on, note in sorted(events):
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, note=note, velocity=96 if is_on else 0, channel=0, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    f = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    f.tracks.append(track)
    buf = io.BytesIO()
    f.save(file=buf)
    return buf.getvalue()


def chords_lab(song_map: SongMap) -> str:
    """The chords, one ``start end label`` line each (seconds, 3 decimals)."""
    return "".join(f"{c.start:.3f}\t{c.end:.3f}\t{c.label}\n" for c in song_map.chords)


def chord_chart(song_map: SongMap, title: str = "") -> str:
    """A plain-text chord sheet in bars of the beat grid.

    Each beat shows the chord's name where it changes and ``.`` where it
    holds; a section's letter starts its line. Without a grid (no steady
    beat) the chords are listed with their times instead.
    """
    from stemtui.core.timefmt import format_time

    head = [title] if title else []
    key = chord_name(song_map.key) if song_map.key else "?"
    bpm = f"{song_map.bpm:.0f} bpm" if song_map.bpm else "no steady beat"
    head.append(f"key {key}  {bpm}")
    if not song_map.chords:
        return "\n".join([*head, "(no chords found)"]) + "\n"
    grid = song_map.grid
    if grid is None:
        rows = [f"{format_time(c.start, 1):>8}  {chord_name(c.label)}" for c in song_map.chords]
        return "\n".join([*head, "(no beat grid: chords by time)", *rows]) + "\n"
    bpb = grid.beats_per_bar
    first = grid.beat_range(0.0, song_map.duration).start
    k = first - first % bpb  # the downbeat at or before the first beat (a pickup bar)
    lines: list[str] = []
    line, section = "", ""
    while grid.beat_time(k) < song_map.duration:
        sec = song_map.section_at(max(0.0, grid.beat_time(k)))
        letter = sec.label if sec is not None else ""
        new_section = bool(letter) and letter != section
        if line and (new_section or line.count("|") == BARS_PER_LINE):
            lines.append(line + "|")
            line = ""
        if not line:
            line = f"{letter if new_section else '':<3}"
        section = letter or section
        cells, shown = [], None
        for b in range(bpb):
            c = song_map.chord_at(max(0.0, grid.beat_time(k + b)))
            name = chord_name(c.label) if c is not None else "N.C."
            cells.append(name if name != shown else ".")
            shown = name
        line += "| " + " ".join(cells) + " "
        k += bpb
    if line:
        lines.append(line + "|")
    return "\n".join([*head, *lines]) + "\n"


def check_target(path: str | os.PathLike, what: str) -> Path:
    """Validate a file the user named for writing, before any work.

    Raises:
        BadInput: A folder, a missing parent folder, a non-regular file, a folder that refuses writes.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        raise BadInput(f"{what} {path}", "is a directory")
    if not p.parent.is_dir():
        raise BadInput(f"{what} {path}", f"folder {p.parent} does not exist")
    with contextlib.suppress(OSError):
        import stat

        mode = os.stat(p).st_mode
        if not stat.S_ISREG(mode):
            raise BadInput(f"{what} {path}", f"not a regular file ({file_kind(mode)}); give a new file name")
    probe_writable(p)
    return p


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` whole or not at all (a part file, fsync, rename).

    Raises:
        BadInput / WriteFailed: One line naming ``path`` and the reason.
    """
    part = part_path(path)
    try:
        try:
            with open(part, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(part, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(part)
            raise
    except OSError as exc:
        raise write_error(path, exc) from None
    return path
