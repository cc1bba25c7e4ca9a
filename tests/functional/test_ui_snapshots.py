"""Snapshot tests of the library and the player at 80×24 and 120×40.

Deterministic content: the demo song dated by the fixture, HOME set so its
folder reads ``~/cache/…``, the player paused at the loop start with a stem
muted and one turned down (paused meters are empty). Regenerate after a
deliberate change with ``pytest tests/functional/test_ui_snapshots.py
--snapshot-update`` and look at the SVGs in __snapshots__/ before committing.
"""

from __future__ import annotations

import pytest

from tests.functional.test_ui_support import make_app, open_demo, settle, wait_for

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture
def snap_store(demo_store, monkeypatch):
    monkeypatch.setenv("HOME", str(demo_store.root.parent))
    return demo_store


@pytest.mark.parametrize("size", SIZES)
def test_library_snapshot(snap_compare, snap_store, null_engine, size):
    app = make_app(snap_store, null_engine)

    async def ready(pilot):
        await wait_for(pilot, lambda: app.library is not None and app.library.highlighted() is not None, what="rows")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_player_snapshot(snap_compare, snap_store, null_engine, size):
    app = make_app(snap_store, null_engine, autoplay=False)

    async def practise(pilot):
        player = await open_demo(pilot)
        await pilot.press("colon")
        await wait_for(pilot, lambda: app.screen is not player, what="the loop prompt")
        app.screen.query_one("#loop-input").value = "0:08-0:16"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is player, what="the player")
        await pilot.press("1", "down", "minus", "minus", "minus", "home")
        await settle(pilot, player)
        await pilot.pause(0.15)  # a poll or two: the clock and timeline show 0:08.0
        assert player.info.position == 8.0

    assert snap_compare(app, terminal_size=size, run_before=practise)
