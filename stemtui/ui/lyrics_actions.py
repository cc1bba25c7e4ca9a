"""The player's lyrics: the lane that follows the playhead, and the tap mode that times them.

:class:`LyricsControl` is a helper the
:class:`~stemtui.ui.screens.player.PlayerScreen` owns (made in its
``__init__``, started once the song is loaded, polled at 20 Hz, closed in
``on_unmount``); the screen's ``lyrics(name)`` action only delegates to it.

The lane shows the line at the playhead's *song* time (the mixer's position
counts song frames at any tempo, and loops and seeks move it), so it follows
tempo changes, loops and seeks as the timeline does. It is shown only when
the song has lyrics, or in tap mode.

Tap mode (``y``): for untimed lyrics (a text file imported), or to time
timed ones again from the next line on. While the song plays, ``enter``
stamps the playhead's song time on the line shown highlighted and moves to
the next; ``backspace`` steps back one line (un-stamps it and seeks to
:data:`BACK_S` before where it was stamped). When the last line is stamped,
or ``y`` leaves the mode, the lyrics are saved (the song's practice data,
:class:`~stemtui.core.lyrics.lyricstore.LyricsStore`) and one notice says
how many lines are timed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from stemtui.core.errors import BadInput, StemtuiError
from stemtui.core.lyrics.lrcformat import Lyrics, stamped
from stemtui.core.lyrics.lyricstore import LyricsStore
from stemtui.core.timefmt import format_time
from stemtui.ui.widgets.lyrics_lane import MAX_ROWS, LyricsLane

if TYPE_CHECKING:
    from pathlib import Path

    from textual.screen import Screen

    from stemtui.core.audio.mixer import Mixer
    from stemtui.core.library.store import Entry
    from stemtui.ui.screens.loops import LoopControl

log = logging.getLogger("stemtui.ui")

#: How long the last line counts as sung, for scrolling a line too long for the lane.
LAST_LINE_S = 8.0
#: Backspace in tap mode seeks this far before the un-stamped line's time.
BACK_S = 2.0


def sung_chars(lyrics: Lyrics, idx: int, t: float) -> int:
    """How many characters of line ``idx``'s text are sung at ``t`` (its word times; 0 without them)."""
    if idx < 0:
        return 0
    line = lyrics.lines[idx]
    pos = end = 0
    for w in line.words:
        word = w.text.strip()
        at = line.text.find(word, pos)
        if at < 0:
            break
        pos = at + len(word)
        if w.time <= t:
            end = pos
    return end


class LyricsControl:
    """The lyrics of one player's song.

    Args:
        screen: The player: notifications, its thread workers.
        entry: The song.
        root: The data root (the practice store's), where lyrics are kept.
        loops: The playhead (a pending seek counted).
    """

    def __init__(self, screen: Screen, entry: Entry, root: Path, loops: LoopControl) -> None:
        self.screen = screen
        self.entry = entry
        self.root = root
        self.loops = loops
        self.mixer: Mixer | None = None
        self.song_id: str | None = None
        #: The song's lyrics (``None``: none, or not read yet).
        self.lyrics: Lyrics | None = None
        #: In tap mode: the index of the line the next stamp times; ``None`` outside tap mode.
        self.cursor: int | None = None
        self.changed = False
        self.lane: LyricsLane | None = None
        self._cheat_rows = 5  # the key reminder's height (four lines and a margin) when it shows

    # -- loading and showing -----------------------------------------------------------
    def start(self, mixer: Mixer, song_id: str | None) -> None:
        """Once the song is loaded: read its lyrics in a thread (a song still separating has none)."""
        self.mixer, self.song_id = mixer, song_id
        self.lane = self.screen.query_one("#lyrics", LyricsLane)
        if song_id is not None:
            self.screen.run_worker(self._load, thread=True, group="lyrics", exit_on_error=False, name="lyrics")

    def _load(self) -> None:
        """The thread worker: the stored lyrics, else an ``.lrc`` beside the song's source (added in the app)."""
        store = LyricsStore(self.root)
        lyrics, problem = store.load(self.song_id or "")
        source = self.entry.source
        if lyrics is None and problem is None and source.startswith("/"):
            problem = store.adopt(self.song_id or "", source)
            lyrics = store.load(self.song_id or "")[0]
        self.lyrics = lyrics
        if problem:
            self.screen.app.call_from_thread(self.screen.notify, problem, timeout=6)

    def _now(self) -> float:
        m = self.mixer
        return 0.0 if m is None else self.loops.playhead() / m.sample_rate

    def poll(self, position_s: float) -> None:
        """Show the line at song time ``position_s`` and the next (in tap mode: the line to stamp)."""
        lane, lyrics = self.lane, self.lyrics
        if lane is None:
            return
        lane.set_class(lyrics is not None and bool(lyrics.lines), "-shown")
        if lyrics is None or not lyrics.lines:
            return
        lane.rows = self._room()
        lines = lyrics.lines
        if self.cursor is None and not lyrics.timed_count:
            lane.header, lane.current, lane.next_line, lane.sung = "lyrics not timed yet: y times them", "", "", 0
            return
        if self.cursor is not None:
            i = self.cursor
            last = max((ln.time for ln in lines[:i] if ln.time is not None), default=None)
            since = f" (last {format_time(last, 1)})" if last is not None else ""
            lane.header = f"TAP {i + 1}/{len(lines)}{since}  enter: line starts now · backspace: back · y: save"
            lane.current, lane.next_line, lane.sung = lines[i].text, lines[i + 1].text if i + 1 < len(lines) else "", 0
            return
        idx = lyrics.index_at(position_s)
        lane.header = ""
        lane.current = lines[idx].text if idx >= 0 else ""
        lane.next_line = next((ln.text for ln in lines[idx + 1 :] if ln.time is not None), "")
        lane.sung = sung_chars(lyrics, idx, position_s)
        start = lines[idx].time if idx >= 0 else None
        end = next((ln.time for ln in lines[idx + 1 :] if ln.time is not None), None)
        if start is not None:
            span = (end - start) if end is not None and end > start else LAST_LINE_S
            lane.progress = (position_s - start) / span

    def _room(self) -> int:
        """Rows the lane may take (3 where the screen has them, else 2), making room where it is short.

        Only while lyrics show: the spacer under the key reminder goes where
        the lane needs its rows, and the four-line key reminder (``?`` lists
        every key) where even that is not enough, as with six stems at 80×24.
        """
        screen, lane = self.screen, self.lane
        assert lane is not None
        spacer, cheat = screen.query_one("#spacer"), screen.query_one("#cheatsheet")
        if cheat.display:
            self._cheat_rows = cheat.outer_size.height
        used = sum(w.outer_size.height for w in screen.children if w.display and w not in (spacer, cheat))
        free = screen.size.height - (used - lane.outer_size.height) - self._cheat_rows
        cheat.display = free >= 2
        if not cheat.display:
            free += self._cheat_rows
        rows = MAX_ROWS if free >= MAX_ROWS else 2
        spacer.display = free > rows
        return rows

    # -- tap mode ------------------------------------------------------------------------
    def toggle_tap(self) -> None:
        """``y``: enter tap mode (at the first untimed line, else the next line to come), or leave it and save."""
        if self.cursor is not None:
            self._finish()
            return
        lyrics = self.lyrics
        if self.song_id is None:
            raise BadInput("lyrics", "the song is still separating; time its lyrics once it is stored")
        if lyrics is None or not lyrics.lines:
            raise BadInput("lyrics", "this song has none: `stemtui lyrics SONG import FILE` (a text file is fine)")
        untimed = next((i for i, ln in enumerate(lyrics.lines) if ln.time is None), None)
        cursor = untimed if untimed is not None else lyrics.index_at(self._now()) + 1
        self.cursor = cursor if cursor < len(lyrics.lines) else 0
        self.poll(self._now())

    def stamp(self) -> None:
        """``enter`` in tap mode: the highlighted line starts at the playhead; the last one saves."""
        lyrics, i = self.lyrics, self.cursor
        if lyrics is None or i is None:
            return
        t = self._now()
        lyrics = stamped(lyrics, i, t)
        for k in range(i + 1, len(lyrics.lines)):  # times from before, now out of order
            old = lyrics.lines[k].time
            if old is not None and old <= t:
                lyrics = stamped(lyrics, k, None)
        self.lyrics, self.changed = lyrics, True
        self.cursor = i + 1
        if self.cursor >= len(lyrics.lines):
            self._finish()
        else:
            self.poll(t)

    def step_back(self) -> bool:
        """``backspace`` in tap mode: un-stamp the line before and seek a little before it; ``False`` outside it."""
        lyrics, i = self.lyrics, self.cursor
        if lyrics is None or i is None:
            return False
        if i == 0:
            return True
        i -= 1
        old = lyrics.lines[i].time
        self.lyrics, self.cursor, self.changed = stamped(lyrics, i, None), i, True
        if old is not None and self.mixer is not None:
            self.mixer.seek(round(max(0.0, old - BACK_S) * self.mixer.sample_rate))
            self.loops.moved()
        self.poll(self._now())
        return True

    def _finish(self) -> None:
        """Leave tap mode; save what was stamped and say how many lines are timed."""
        self.cursor = None
        lyrics = self.lyrics
        if lyrics is None:
            return
        if self.changed:
            self.save()
        self.screen.notify(f"lyrics: {lyrics.timed_count} of {len(lyrics.lines)} lines timed, saved", timeout=4)
        self.poll(self._now())

    def save(self) -> None:
        """Write the lyrics to the song's practice data (a failure is one warning; the lines stay here)."""
        if self.lyrics is None or self.song_id is None or not self.changed:
            return
        try:
            LyricsStore(self.root).save(self.song_id, self.lyrics, "tap")
            self.changed = False
        except StemtuiError as exc:
            self.screen.notify(f"lyrics not saved: {exc}", severity="warning", timeout=8)

    def close(self) -> None:
        """Leaving the player: what tap mode stamped is saved."""
        self.cursor = None
        try:
            self.save()
        except Exception:  # the screen is going away
            log.exception("saving lyrics of %s", self.song_id)
