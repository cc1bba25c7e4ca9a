"""The song map as a musician meets it: open a stored 4-minute song with no map in the real player.

Part of ``python -m stemtui.bench analysis`` (``player``): the synthesized
4-minute song is stored in a temporary store (FLAC stems, as ``separate``
leaves them), the real Textual app runs headless (Textual's ``run_test``)
on the device-free engine, the song is opened from the library with
<kbd>Enter</kbd> (at once, or after some seconds in the library, where the
app starts a warm analysis worker), and the bass row is selected (so the bass tab, the first
analysis to finish, has somewhere to show). From the key press it times:

* ``first_on_screen_s``: the lane first shows a result of the map (the bass
  tab or its note names, a chord, or sections), read from the lane widget;
* ``chords_on_screen_s``: the lane shows a chord;
* ``sections_on_screen_s``: the lane shows the sections (the map is whole).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from stemtui.core.analysis import synthsongs
from stemtui.core.audio.song import Song, SongMeta


async def _until(pilot, predicate, timeout: float) -> bool:
    end = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > end:
            return False
        await pilot.pause(0.01)
    return True


def time_in_player(song: synthsongs.SynthSong, in_library_s: float = 0.0, timeout: float = 120.0) -> dict:
    """Open ``song`` in the real player with an empty map cache; seconds until each part shows.

    ``in_library_s``: how long the library shows before Enter (0: at once,
    the worst case: the warm analysis worker the library starts is still
    warming up).
    """
    from stemtui.core.audio.engine import Engine
    from stemtui.core.library.store import Store
    from stemtui.settings import Settings
    from stemtui.ui.app import StemtuiApp
    from stemtui.ui.screens.player import PlayerScreen
    from stemtui.ui.widgets.map_lane import MapLane
    from stemtui.ui.widgets.stem_table import StemTable

    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="stemtui-bench-map-") as tmp:
        settings = Settings.under(tmp)
        store = Store(settings.cache_dir)
        store.add_song(
            Song.from_stems(song.stems, song.sr, SongMeta("Bench Map", "stemtui", source="bench")), "benchmap01"
        )
        engine = Engine(null=True)
        app = StemtuiApp(
            settings,
            store=store,
            engine_factory=lambda: engine,
            start_dir=Path(tmp),
            install_demo=False,
            autoplay=False,
        )

        async def scenario() -> None:
            async with app.run_test(size=(100, 32)) as pilot:
                await _until(pilot, lambda: app.library is not None and app.library.highlighted() is not None, 30)
                if in_library_s:
                    await pilot.pause(in_library_s)
                t0 = time.perf_counter()
                await pilot.press("enter")
                await _until(pilot, lambda: isinstance(app.screen, PlayerScreen), 30)
                player = app.screen
                lane = player.query_one("#map-lane", MapLane)
                table = player.query_one(StemTable)
                bass = table.names.index("bass")
                table.selected = bass

                def shown() -> bool:
                    return bool(lane.tab or lane.bass or lane.chord or lane.sections)

                for key, pred in (
                    ("first_on_screen_s", shown),
                    ("chords_on_screen_s", lambda: bool(lane.chord)),
                    ("sections_on_screen_s", lambda: bool(lane.sections)),
                ):
                    ok = await _until(pilot, pred, timeout)
                    out[key] = round(time.perf_counter() - t0, 2) if ok else None
                out["decoded"] = player.mixer is not None and player.mixer.song.complete.is_set()
                out["in_library_s"] = in_library_s

        try:
            asyncio.run(scenario())
        finally:
            engine.close()
            from stemtui.core.analysis.mapjob import POOL

            POOL.close()
    return out
