"""The player's lyrics through Pilot: the lane follows seeks, 0.75× and loops; the tap mode times a text.

The demo song (30 s) with lyrics stored beforehand in the test's data dir
(what ``stemtui lyrics SONG import`` does), on the real engine's paced null
stream; the tempo test runs the real stretch workers.
"""

from __future__ import annotations

import asyncio
import math

from stemtui.core.library.catalog import demo_id
from stemtui.core.lyrics.lrcformat import LyricLine, Lyrics
from stemtui.ui.screens.player import pending_seek
from stemtui.ui.widgets.lyrics_lane import MAX_ROWS, LyricsLane
from tests.functional.test_ui_player import run
from tests.functional.test_ui_support import make_app, open_demo, wait_for

#: One line every 5 s: "line 0" at 0:00, "line 1" at 0:05, ...
TIMED = Lyrics(tuple(LyricLine(5.0 * i, f"line {i}") for i in range(6)))


def expected(t: float) -> str:
    return f"line {min(5, math.floor(t / 5.0 + 1e-9))}"


async def seek_to(pilot, player, t: float) -> None:
    """Seek and wait until the audio thread has it (at 0.75x it waits for the new stretched run: a busy
    machine may take seconds)."""
    m = player.mixer
    m.seek(round(t * m.sample_rate))
    await wait_for(pilot, lambda: pending_seek(m) is None, timeout=30, what="the seek")
    await pilot.pause(0.03)
    player._tick()


def song_s(player) -> float:
    return player.mixer.position / player.mixer.sample_rate


def test_the_lane_shows_the_line_at_the_playhead_after_a_seek_at_075_and_in_a_loop(demo_store, null_engine, settings):
    settings.lyrics_store().save(demo_id(), TIMED, "test")
    app = make_app(demo_store, null_engine, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        lane = player.query_one("#lyrics", LyricsLane)
        await wait_for(pilot, lambda: player.lyrics.lyrics is not None, what="the lyrics read")
        await seek_to(pilot, player, 12.3)
        assert lane.has_class("-shown") and lane.display
        assert (lane.current, lane.next_line) == ("line 2", "line 3")
        await seek_to(pilot, player, 4.9)
        assert (lane.current, lane.next_line) == ("line 0", "line 1")

        # 0.75×: the lane follows the song time the stretched audio plays.
        m = player.mixer
        for _ in range(5):
            await pilot.press("comma")
        assert round(m.tempo, 2) == 0.75
        await seek_to(pilot, player, 9.5)
        await wait_for(
            pilot,
            lambda: m.current_source is not m.song_source and m.current_source.tempo == 0.75,
            timeout=20,
            what="the stretched run",
        )
        m.play()
        await wait_for(pilot, lambda: song_s(player) > 10.3, timeout=20, what="the playhead past 0:10 at 0.75x")
        m.pause()
        await pilot.pause(0.05)  # the audio thread's next block: paused there
        player._tick()

        assert lane.current == expected(song_s(player)) == "line 2"

        # A loop 0:14–0:16: after a wrap the lane is back on line 2, then line 3 again.
        player.apply_loop_text("0:14-0:16")
        await seek_to(pilot, player, 14.5)
        seen = []
        m.play()

        def wrapped() -> bool:
            before = song_s(player)
            player._tick()
            if song_s(player) == before:  # no audio block ran while the lane was set: a fair sample
                seen.append((before, lane.current))
            return len(seen) > 1 and any(t > 15.3 for t, _ in seen[:-1]) and seen[-1][0] < 14.9

        await wait_for(pilot, wrapped, timeout=20, what="a loop wrap")
        m.pause()
        await pilot.pause(0.05)  # the audio thread's next block: paused there
        player._tick()

        assert lane.current == expected(song_s(player)) == "line 2"
        assert all(cur == expected(t) for t, cur in seen), seen
        assert {cur for _, cur in seen} == {"line 2", "line 3"}

    run(app, scenario)


def test_the_lane_is_hidden_without_lyrics(demo_store, null_engine):
    app = make_app(demo_store, null_engine, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        await pilot.pause(0.2)
        assert not player.query_one("#lyrics", LyricsLane).display
        await pilot.press("y")  # nothing to time: one warning, no tap mode
        assert player.lyrics.cursor is None

    run(app, scenario)


def test_a_long_line_wraps_and_scrolls_at_80x24_and_is_never_cut_silently(demo_store, null_engine, settings):
    long = " ".join(f"word{i}" for i in range(24))  # about 150 characters: three rows at 80 columns
    lyrics = Lyrics((LyricLine(0.0, long), LyricLine(5.0, "short next line")))
    settings.lyrics_store().save(demo_id(), lyrics, "test")
    app = make_app(demo_store, null_engine, autoplay=False)

    async def main():
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            player = await open_demo(pilot)
            lane = player.query_one("#lyrics", LyricsLane)
            await wait_for(pilot, lambda: lane.current == long, what="the long line")
            shown = []
            for t in (0.5, 4.5):  # early in the line, then late: the rows shown scroll
                await seek_to(pilot, player, t)
                await pilot.pause(0.1)
                rows = lane.render().plain.split("\n")
                assert 2 <= len(rows) <= MAX_ROWS and lane.size.height == len(rows), rows
                assert all(len(r) <= lane.size.width for r in rows), rows
                assert "…" in "".join(rows), rows  # what is left out is marked
                shown.append(" ".join(rows))
            assert "word0 " in shown[0] and "word23" not in shown[0]
            assert "word23" in shown[1]
            words = set(" ".join(shown).replace("…", " ").split())
            assert words >= {f"word{i}" for i in range(24)}
            # The player still fits: every stem row shows and nothing scrolls off the screen.
            table = player.query_one("#stems")
            assert table.region.height >= len(table.names) + 1
            assert player.max_scroll_y == 0
            assert lane.region.bottom <= player.query_one("#status").region.y < 24

    asyncio.run(main())


def test_tap_mode_stamps_lines_steps_back_and_saves_lrc(demo_store, null_engine, settings):
    text = ("first line", "second line", "third line", "fourth line")
    settings.lyrics_store().save(demo_id(), Lyrics(tuple(LyricLine(None, t) for t in text)), "test.txt")
    app = make_app(demo_store, null_engine, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        lane = player.query_one("#lyrics", LyricsLane)
        await wait_for(pilot, lambda: player.lyrics.lyrics is not None, what="the lyrics read")
        player._tick()
        assert lane.display and "y times them" in lane.header
        player.apply_loop_text("0:00-0:25")
        await pilot.press("y")
        assert player.lyrics.cursor == 0 and lane.header.startswith("TAP 1/4") and lane.current == "first line"

        # The first stamp while the song plays: the time the playhead had when enter was pressed.
        m = player.mixer
        await seek_to(pilot, player, 1.0)
        m.play()
        await wait_for(pilot, lambda: song_s(player) > 1.5, what="the playhead moving")
        before = song_s(player)
        await pilot.press("enter")
        after = player.playhead() / m.sample_rate
        m.pause()
        first = player.lyrics.lyrics.lines[0].time
        assert before - 0.05 <= first <= after + 0.05
        assert lane.current == "second line"

        for t in (4.0, 6.0):
            await seek_to(pilot, player, t)
            await pilot.press("enter")
        assert player.lyrics.cursor == 3
        await pilot.press("backspace")  # un-stamps "third line" (6.0) and goes back to 0:04
        await wait_for(pilot, lambda: pending_seek(m) is None, timeout=30, what="the seek back")
        assert player.lyrics.cursor == 2 and player.lyrics.lyrics.lines[2].time is None
        assert abs(song_s(player) - 4.0) < 0.01
        assert player.loop is not None and player.loop.seconds() == (0.0, 25.0)  # no loop clear in tap mode
        for t in (7.0, 9.5):
            await seek_to(pilot, player, t)
            await pilot.press("enter")
        assert player.lyrics.cursor is None  # the last line saved it and left tap mode
        saved, problem = settings.lyrics_store().load(demo_id())
        assert problem is None and saved is not None and saved.timed
        times = [ln.time for ln in saved.lines]
        assert [ln.text for ln in saved.lines] == list(text)
        assert all(abs(a - b) < 0.01 for a, b in zip(times, [first, 4.0, 7.0, 9.5], strict=True)), times
        await seek_to(pilot, player, 8.0)
        assert lane.current == "third line" and lane.next_line == "fourth line"

    run(app, scenario)


def test_an_lrc_beside_the_source_is_picked_up_when_the_song_opens(tmp_store, null_engine, settings, tmp_path):
    """Songs added in the app (a) or separated there: the player adopts ``song.lrc`` beside ``song.flac``."""
    import numpy as np

    from stemtui.core.audio.song import Song, SongMeta

    source = tmp_path / "song.flac"
    source.write_bytes(b"")  # only its name matters here
    (tmp_path / "song.lrc").write_text("[00:00.00]from the sidecar\n[00:03.00]second\n")
    tone = (0.1 * np.sin(np.arange(44100 * 5) / 20.0)).astype(np.float32)
    stems = {"vocals": np.stack([tone, tone], axis=1), "drums": np.stack([tone, tone], axis=1)}
    tmp_store.add_song(Song.from_stems(stems, 44100, SongMeta("Side", source=str(source))), "sidecar01")
    app = make_app(tmp_store, null_engine, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        lane = player.query_one("#lyrics", LyricsLane)
        await wait_for(pilot, lambda: lane.current == "from the sidecar", what="the sidecar's first line")
        assert lane.next_line == "second" and lane.display

    run(app, scenario)
    saved, _ = settings.lyrics_store().load("sidecar01")
    assert saved is not None and [ln.text for ln in saved.lines] == ["from the sidecar", "second"]
