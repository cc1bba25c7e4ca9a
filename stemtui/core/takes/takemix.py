"""A song with its takes in the mix: one row per take, named ``take:ID``, at its song time.

Takes are in the mix at 0 dB, unmuted, like any stem, until a mix flag or
the player says otherwise (``--mute take:1``, ``--solo take:1``,
``--volume take:1=-3dB``). A row's label (:meth:`Song.label`) is the take's
name.
"""

from __future__ import annotations

from stemtui.core.audio.song import Song
from stemtui.core.audio.songtakes import with_tracks
from stemtui.core.errors import BadInput
from stemtui.core.takes.takestore import Take, TakeStore

#: Prefix of a take's row name: ``take:1``.
TAKE_PREFIX = "take:"


def take_row(take_id: str) -> str:
    """The mix name of a take: ``take:ID``."""
    return f"{TAKE_PREFIX}{take_id}"


def is_take_row(name: str) -> bool:
    return name.lower().startswith(TAKE_PREFIX)


def take_id_of(name: str) -> str | None:
    """``"1"`` for ``take:1``, else ``None``."""
    return name[len(TAKE_PREFIX) :] if is_take_row(name) else None


def song_with_takes(song: Song, store: TakeStore, takes: list[Take] | None = None) -> tuple[Song, list[str]]:
    """``song`` with the takes of ``song.id`` appended (or the given ``takes``); never raises for a bad take.

    Returns:
        ``(song, problems)``: the new song (``song`` itself without takes), and
        one line per problem (a damaged manifest, a take whose audio is
        missing or unreadable: left out of the mix).
    """
    from stemtui.core.library.audiofiles import resample

    problems: list[str] = []
    if takes is None:
        if not song.id:
            return song, []
        takes, problems = store.listing(song.id)
    tracks, labels = [], {}
    for t in takes:
        try:
            audio = store.read(t)
        except BadInput as exc:
            problems.append(f"{exc}: left out of the mix")
            continue
        if t.sample_rate != song.sample_rate:
            audio = resample(audio, t.sample_rate, song.sample_rate).reshape(-1, audio.shape[1])
        tracks.append((take_row(t.id), audio, round(t.start_s * song.sample_rate)))
        labels[take_row(t.id)] = t.name
    return with_tracks(song, tracks, labels), problems
