"""The player's song map through Pilot: the lane, the section keys, transpose, the bass tab, the cache.

A synthesized song with known chords and sections (synthsongs) is stored in
the test store; most tests pre-fill its map cache with the map
``analyze_stems`` finds (made once per module); one goes through the real
MapJob child from a damaged cache file.
"""

from __future__ import annotations

import json

import pytest

from stemtui.core.analysis.basslines import midi_name
from stemtui.core.analysis.mapcache import SongMapCache
from stemtui.core.analysis.songmap import SongMap, analyze_stems
from stemtui.core.analysis.synthsongs import SongSpec, SynthSong, render
from stemtui.core.audio.song import Song, SongMeta
from stemtui.core.errors import BadInput
from stemtui.core.library.store import Store
from stemtui.ui.map_actions import occurrence_names
from stemtui.ui.widgets.map_lane import MapLane, chord_name
from tests.functional.test_ui_player import run
from tests.functional.test_ui_support import make_app, open_demo, settle, wait_for

SONG_ID = "synthmap01"
#: 4 sections of 4 bars at 120 BPM: 32 s of D major.
SPEC = SongSpec("dmaj-short", 2, "maj", 120.0, "ABAB", {"A": 4, "B": 4}, {"A": "pluck", "B": "pad"}, seed=3)


@pytest.fixture(scope="module")
def synth() -> tuple[SynthSong, SongMap]:
    song = render(SPEC)
    return song, analyze_stems(song.stems, song.sr)


@pytest.fixture
def synth_store(tmp_store: Store, synth) -> Store:
    song, _ = synth
    tmp_store.add_song(Song.from_stems(song.stems, song.sr, SongMeta("Synth Map", "Tester", source="test")), SONG_ID)
    return tmp_store


def cache_of(store: Store) -> SongMapCache:
    return SongMapCache(store.root.parent / "data")  # make_app's data_dir


def lane_text(player) -> str:
    return player.query_one("#map-lane", MapLane).render().plain


async def seek_to(pilot, player, t: float) -> None:
    m = player.mixer
    m.seek(round(t * m.sample_rate))
    await settle(pilot, player)
    await pilot.pause(0.15)  # a poll or two


def agreed_chord(song: SynthSong, song_map: SongMap, skip: float = 0.0) -> tuple[float, str]:
    """The middle of a true chord the map also found there (after ``skip`` s)."""
    for a, b, label in song.truth.chords:
        mid = (a + b) / 2
        found = song_map.chord_at(mid)
        if a >= skip and label != "N" and found is not None and found.label == label:
            return mid, label
    raise AssertionError("the analysis found none of the true chords")


def test_lane_shows_the_chord_under_the_playhead_and_the_section_keys_jump_and_loop(synth_store, null_engine, synth):
    song, song_map = synth
    assert len(song_map.sections) >= 2
    cache_of(synth_store).save(SONG_ID, song_map)
    app = make_app(synth_store, null_engine, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        lane = player.query_one("#map-lane", MapLane)
        await wait_for(pilot, lambda: lane.sections != (), what="the cached map in the lane")
        t, label = agreed_chord(song, song_map, skip=2.0)
        await seek_to(pilot, player, t)
        text = lane_text(player)
        assert lane.chord.startswith(chord_name(label)), (lane.chord, label)
        assert chord_name(label) in text.splitlines()[1]
        # Sections: one letter per section along line 1, the current name on line 2.
        sec = song_map.section_at(t)
        assert (
            sec is not None and lane.section_name == occurrence_names(song_map.sections)[song_map.sections.index(sec)]
        )
        assert [c for c in text.splitlines()[0] if c.isalpha()] == [s.label for s in song_map.sections]

        # "f" jumps to the next section's start.
        nxt = next(s for s in song_map.sections if s.start > t)
        await pilot.press("f")
        await settle(pilot, player)
        assert player.playhead() == round(nxt.start * player.mixer.sample_rate)
        # "b" at a section's start goes back to the one before; later in it, to its start.
        await pilot.press("b")
        await settle(pilot, player)
        assert player.playhead() == round(sec.start * player.mixer.sample_rate)

        # "A" loops the section under the playhead and saves it by letter and occurrence.
        second = song_map.sections[1]
        await seek_to(pilot, player, (second.start + second.end) / 2)
        await pilot.press("A")
        lp = player.loop
        assert lp.enabled and lp.seconds() == pytest.approx((second.start, second.end), abs=1e-3)
        m = player.mixer
        a, b, on = m.loop
        assert on and (a, b) == (round(second.start * m.sample_rate), round(second.end * m.sample_rate))
        name = f"{second.label}1"
        saved = player.practice.state.find_loop(name)
        assert saved is not None and saved.start == pytest.approx(second.start, abs=1e-3)
        assert lp.name == name

    run(app, scenario)


def test_a_transposed_song_shows_transposed_chords_at_any_tempo(synth_store, null_engine, synth):
    from stemtui.core.analysis.chordest import transpose_label

    song, song_map = synth
    cache_of(synth_store).save(SONG_ID, song_map)
    app = make_app(synth_store, null_engine, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        lane = player.query_one("#map-lane", MapLane)
        await wait_for(pilot, lambda: lane.sections != (), what="the cached map in the lane")
        t, label = agreed_chord(song, song_map, skip=2.0)
        await seek_to(pilot, player, t)
        assert lane.chord.startswith(chord_name(label))
        await pilot.press("right_curly_bracket", "right_curly_bracket")
        assert player.mixer.semitones == 2
        up = chord_name(transpose_label(label, 2))
        await wait_for(pilot, lambda: lane.chord.startswith(up), what=f"the chord {up}")
        assert up != chord_name(label) and up in lane_text(player).splitlines()[1]
        # At 80 % the lane still follows the playhead in song time: the chord of that time, transposed.
        m = player.mixer
        await pilot.press("comma", "comma", "comma", "comma")
        await wait_for(pilot, lambda: m.current_source.tempo == 0.8, timeout=30, what="the stretched audio")
        t2, label2 = agreed_chord(song, song_map, skip=t + 2.0)
        await seek_to(pilot, player, t2)
        assert lane.chord.startswith(chord_name(transpose_label(label2, 2))), (lane.chord, label2)
        assert (
            lane.section_name == occurrence_names(song_map.sections)[song_map.sections.index(song_map.section_at(t2))]
        )

    run(app, scenario)


@pytest.mark.parametrize("size", [(80, 24), (100, 40)])
def test_the_bass_tab_shows_when_the_bass_is_selected(synth_store, null_engine, synth, size):
    _song, song_map = synth
    cache_of(synth_store).save(SONG_ID, song_map)
    app = make_app(synth_store, null_engine, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        lane = player.query_one("#map-lane", MapLane)
        await wait_for(pilot, lambda: lane.sections != (), what="the cached map in the lane")
        note = next(n for n in song_map.bass_notes if n.start > 4.0)
        await seek_to(pilot, player, note.start + 0.01)
        assert lane.tab == ()
        names = player.table.names
        while names[player.table.selected] != "bass":
            await pilot.press("down")
        await pilot.pause(0.3)
        if size[1] < 30:  # no rows to spare at 80x24: the bar's note names on the chord line
            assert lane.tab == () and lane.bass.startswith("bass ") and midi_name(note.midi) in lane.bass
            assert lane.bass in lane_text(player).splitlines()[1]
            assert player.query_one("#status").region.bottom <= size[1] - 1  # the status line still shows
        else:
            assert [line[:2] for line in lane.tab] == ["G|", "D|", "A|", "E|"]
            assert midi_name(note.midi) in lane.tab[1] and "E|" in lane_text(player)

    run_at(app, scenario, size)


def test_a_damaged_cache_is_made_again_by_the_map_job(synth_store, null_engine, synth):
    song, _ = synth
    cache = cache_of(synth_store)
    cache.path(SONG_ID).parent.mkdir(parents=True, exist_ok=True)
    cache.path(SONG_ID).write_text('{"schema": 1, "song": "synthmap01", "map": {"version": 1, "chords": 7')
    app = make_app(synth_store, null_engine, autoplay=False)

    async def scenario(pilot):
        player = await open_demo(pilot)
        lane = player.query_one("#map-lane", MapLane)
        # The job's progress shows while it runs, its partial map as it comes, the map when done.
        await wait_for(pilot, lambda: "analysing" in lane.note, timeout=30, what="the analysis progress")
        await wait_for(pilot, lambda: player.song_map.map is not None, timeout=240, what="the song map")
        await pilot.pause(0.15)
        assert lane.note == "" and lane.sections != ()
        t, label = agreed_chord(song, player.song_map.map, skip=2.0)
        await seek_to(pilot, player, t)
        assert lane.chord.startswith(chord_name(label))
        assert any("analysing again" in line for line in player.song_map.told)
        assert player.mixer is not None  # playback unaffected

    run(app, scenario)
    hit, why = cache.load(SONG_ID)
    assert hit is not None and why is None
    assert json.loads(cache.path(SONG_ID).read_text())["map"]["sections"]


def test_a_warm_worker_started_with_the_library_makes_the_map_of_an_unmapped_song(synth_store, null_engine):
    from stemtui.core.analysis.mapjob import POOL
    from stemtui.settings import Settings

    settings = Settings.under(synth_store.root.parent, cache_dir=synth_store.root, warm_workers=True)
    app = make_app(synth_store, null_engine, settings=settings, autoplay=False)
    POOL.close()
    try:

        async def scenario(pilot):
            await wait_for(pilot, lambda: POOL.idle() != [], timeout=30, what="a warm analysis worker")
            spare = POOL.idle()[0]
            assert spare.running and "stemtui.core.analysis.mapjob" in " ".join(spare.argv)
            player = await open_demo(pilot)
            await wait_for(pilot, lambda: player.song_map.job is not None, timeout=60, what="the map job")
            assert player.song_map.job.child is spare  # the warm one, not a new process
            await wait_for(pilot, lambda: player.song_map.map is not None, timeout=240, what="the song map")
            assert player.song_map.map.chords and player.song_map.map.sections

        run(app, scenario)
    finally:
        POOL.close()
    assert cache_of(synth_store).load(SONG_ID)[0] is not None


def test_no_warm_worker_when_every_song_has_its_map(synth_store, null_engine, synth):
    from stemtui.core.analysis.mapjob import POOL
    from stemtui.settings import Settings

    cache_of(synth_store).save(SONG_ID, synth[1])
    settings = Settings.under(synth_store.root.parent, cache_dir=synth_store.root, warm_workers=True)
    app = make_app(synth_store, null_engine, settings=settings, autoplay=False)
    POOL.close()

    async def scenario(pilot):
        player = await open_demo(pilot)
        await wait_for(pilot, lambda: player.song_map.map is not None, what="the cached map")
        await pilot.pause(0.5)  # the library's background start has long run
        assert POOL.idle() == []

    run(app, scenario)


def test_a_map_job_that_dies_turns_the_lane_off_and_playback_goes_on(synth_store, null_engine):
    import os
    import signal

    app = make_app(synth_store, null_engine, autoplay=True)

    async def scenario(pilot):
        player = await open_demo(pilot)
        lane = player.query_one("#map-lane", MapLane)
        await wait_for(pilot, lambda: player.song_map.job is not None, timeout=30, what="the map job")
        job = player.song_map.job
        await wait_for(pilot, lambda: job.child.pid is not None, what="its child")
        os.kill(job.child.pid, signal.SIGKILL)
        await wait_for(pilot, lambda: lane.note == "no song map", timeout=30, what="the lane off")
        assert any("worker process died (killed by SIGKILL)" in line for line in player.song_map.told)
        assert lane.sections == () and lane.chord == ""
        before = player.mixer.position
        await wait_for(pilot, lambda: player.mixer.position > before, what="playback going on")
        with pytest.raises(BadInput, match="song analysis failed"):
            player.song_map.next_section()

    run(app, scenario)
    assert cache_of(synth_store).load(SONG_ID) == (None, None)  # nothing half-written


def run_at(app, scenario, size) -> None:
    import asyncio

    async def main():
        async with app.run_test(size=size, notifications=True) as pilot:
            await scenario(pilot)

    asyncio.run(main())
