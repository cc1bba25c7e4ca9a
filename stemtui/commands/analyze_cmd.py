"""``stemtui analyze SONG [--json] [--force]``: the song map (tempo, key, sections, chords, bass line).

The stems are read from the store and analysed in the worker process
(:mod:`stemtui.core.analysis.mapjob`) with a progress bar on stderr; the map
is cached per song (:class:`~stemtui.core.analysis.mapcache.SongMapCache`),
so a second run prints at once. ``--force`` analyses again; a damaged or
old cache is analysed again with a one-line note. :func:`song_map` is what
``export --midi/--chords/--chart`` use, :func:`cached_map` what ``info`` shows.
"""

from __future__ import annotations

import json
import logging
import time

from stemtui.commands.common import _bar, _progress_line


def _stems(entry):
    """The entry's stems as mono float32 arrays, and their sample rate."""
    import numpy as np
    import soundfile as sf

    from stemtui.core.errors import BadInput

    stems, sr = {}, entry.sample_rate
    for name in entry.stems:
        try:
            data, sr = sf.read(str(entry.stem_path(name)), dtype="float32", always_2d=True)
        except (OSError, RuntimeError) as exc:  # soundfile's LibsndfileError is a RuntimeError
            raise BadInput(entry.title, f"stem {name} cannot be read ({exc}); the entry is damaged") from None
        stems[name] = data.mean(axis=1, dtype=np.float32)
    return stems, sr


def _quiet_cache_log() -> None:
    """The cache logs why it missed; the commands print that themselves (once), so logging's
    last-resort handler must not print it to stderr as well."""
    log = logging.getLogger("stemtui.songmap")
    if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())


def cached_map(settings, entry):
    """``(map, None)`` from the cache, or ``(None, why it is unusable or None)``; never analyses, never raises."""
    from stemtui.core.analysis.mapcache import SongMapCache

    _quiet_cache_log()
    return SongMapCache(settings.data_dir).load(entry.id)


def song_map(settings, entry, force: bool = False):
    """The song map of ``entry``: the cached one, else analysed in the worker (progress on stderr) and cached.

    Returns:
        ``(map, analysed)``: ``analysed`` is False when the cache answered.

    Raises:
        SongMapError: The worker died, failed or timed out (one line, exit 1).
        BadInput / WriteFailed: A stem cannot be read; the cache cannot be written.
    """
    from stemtui.core.analysis.mapcache import SongMapCache
    from stemtui.core.analysis.mapjob import analyze_in_subprocess

    ran: list[float] = []

    def progress(name: str, fraction: float) -> None:
        what = "done" if name == "done" else name.replace("_", " ")
        _progress_line(f"analysing {_bar(fraction)} {fraction * 100:3.0f}%  {what}")

    def compute():
        ran.append(time.monotonic())
        _progress_line("analysing: reading the stems …")
        stems, sr = _stems(entry)
        return analyze_in_subprocess(stems, sr, progress=progress, timeout=1800.0)

    _quiet_cache_log()
    cache = SongMapCache(settings.data_dir)
    try:
        result, why = cache.get(entry.id, compute, force)
    except BaseException:
        if ran:
            _progress_line("", final=False)
        raise
    if why:
        _progress_line(why, final=True)
    if ran:
        _progress_line(f"analysed {entry.title} in {time.monotonic() - ran[0]:.1f} s", final=True)
    return result, bool(ran)


def summary(entry, m, analysed: bool) -> list[str]:
    """The human summary lines of a song map."""
    from stemtui.core.timefmt import format_time

    letters = " ".join(s.label for s in m.sections)
    changes = sum(1 for c in m.chords if c.label != "N")
    grid = f" (beat from the {m.grid.source}, {m.grid.beats_per_bar}/4)" if m.grid is not None else ""
    lines = [
        f"{entry.title}  ({format_time(m.duration, 1)}; {'analysed now' if analysed else 'from the cache'})",
        f"  bpm       {m.bpm:.1f}{grid}" if m.bpm is not None else "  bpm       (no steady beat)",
        f"  key       {m.key or '(none found)'}",
        f"  sections  {letters} ({len(m.sections)})" if m.sections else "  sections  (none)",
        f"  chords    {changes} chords, {len({c.label for c in m.chords} - {'N'})} different"
        if changes
        else "  chords    (none)",
        f"  bass      {len(m.bass_notes)} notes" if m.bass_notes else "  bass      (no notes)",
    ]
    lines += [f"  skipped   {s.analysis.replace('_', ' ')}: {s.reason}" for s in m.skipped]
    return lines


def cmd_analyze(args, settings) -> int:
    """Analyse (or read the cached map of) a song; print the summary or the JSON object."""
    from stemtui.core.library.catalog import find_song

    entry = find_song(settings.store(), args.song)
    m, analysed = song_map(settings, entry, force=bool(args.force))
    if args.json:
        print(json.dumps(m.to_json()))
    else:
        print("\n".join(summary(entry, m, analysed)))
    return 0


#: ``export`` flags that write a file made from the song map: (attribute, flag).
MAP_EXPORTS = (("midi", "--midi"), ("chords", "--chords"), ("chart", "--chart"))


def map_export_targets(args) -> dict:
    """The validated targets of ``--midi/--chords/--chart`` (checked before any work).

    Raises:
        BadInput: A target that cannot be written (one line naming the flag and the path).
    """
    from stemtui.core.analysis.mapfiles import check_target

    return {attr: check_target(getattr(args, attr), flag) for attr, flag in MAP_EXPORTS if getattr(args, attr, None)}


def export_map_files(settings, entry, targets: dict, semitones: int = 0) -> None:
    """Write the map's files (analysing first if it is not cached), each atomically; one line each on stderr.

    With ``semitones`` (``--transpose``) the chords, key and bass notes are moved as the mix is.
    """
    from stemtui.core.analysis.mapfiles import bass_midi, chord_chart, chords_lab, write_atomic

    m = song_map(settings, entry)[0].transposed(semitones)
    makers = {
        "midi": lambda: (bass_midi(m), f"{len(m.bass_notes)} bass notes"),
        "chords": lambda: (chords_lab(m).encode(), f"{len(m.chords)} chords"),
        "chart": lambda: (chord_chart(m, entry.title).encode(), "chord chart"),
    }
    for attr, path in targets.items():
        data, what = makers[attr]()
        write_atomic(path, data)
        _progress_line(f"wrote {path} ({what})", final=True)
