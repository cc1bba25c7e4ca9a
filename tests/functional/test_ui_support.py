"""Fixtures and helpers shared by the UI tests (no tests here).

``tmp_store`` and ``null_engine`` come from tests/conftest.py;
tests/functional/conftest.py re-exports the demo fixtures defined here.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from stemtui.core.audio.engine import Engine
from stemtui.core.library.catalog import DEMO_MARKER, demo_id, ensure_demo
from stemtui.core.library.store import MANIFEST, Store
from stemtui.settings import Settings

#: The demo's manifest date in UI tests, so snapshots never churn (noon UTC:
#: the same local date in nearly every time zone).
FIXED_CREATED = "2025-06-01T12:00:00+00:00"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """The demo song synthesized once per session (a store root to copy)."""
    root = tmp_path_factory.mktemp("demo-template") / "cache"
    entry = ensure_demo(Store(root))
    manifest = entry.path / MANIFEST
    data = json.loads(manifest.read_text())
    data["created"] = FIXED_CREATED
    manifest.write_text(json.dumps(data, indent=2))
    return root


def install_demo(template: Path, store: Store) -> None:
    """Copy the session's demo entry (and its first-run marker) into ``store``."""
    sid = demo_id()
    shutil.copytree(template / "songs" / sid, store.songs_dir / sid)
    shutil.copy(template / DEMO_MARKER, store.root / DEMO_MARKER)


@pytest.fixture
def demo_store(tmp_store, demo_template) -> Store:
    """``tmp_store`` holding the demo song, dated :data:`FIXED_CREATED`."""
    install_demo(demo_template, tmp_store)
    return tmp_store


def make_app(store: Store, engine: Engine, settings: Settings | None = None, **kwargs):
    """The real app on a test store and engine (no demo synthesis, start dir = store).

    ``settings`` default: everything next to the store, as the ``settings``
    fixture has it (``<tmp>/cache`` is the store, ``<tmp>/data``, ``<tmp>/log``).
    """
    from stemtui.ui.app import StemtuiApp

    if settings is None:
        # No warm analysis worker per test app (test_ui_songmap checks it once).
        settings = Settings.under(store.root.parent, cache_dir=store.root, warm_workers=False)
    kwargs.setdefault("start_dir", store.root.parent)
    kwargs.setdefault("install_demo", False)
    return StemtuiApp(settings, store=store, engine_factory=lambda: engine, **kwargs)


async def wait_for(pilot, predicate, timeout: float = 5.0, what: str = "condition") -> None:
    """Let the app run until ``predicate()`` holds (fails the test after ``timeout`` s)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


async def open_demo(pilot):
    """From the library, open the highlighted (demo) song and wait for its mixer."""
    from stemtui.ui.screens.player import PlayerScreen

    app = pilot.app
    await wait_for(
        pilot, lambda: app.library is not None and app.library.highlighted() is not None, what="library rows"
    )
    await pilot.press("enter")
    await wait_for(
        pilot, lambda: isinstance(app.screen, PlayerScreen) and app.screen.mixer is not None, what="the player"
    )
    # Let the background decode finish: Pilot's key presses wait for the
    # process to go idle, which a decoding thread delays.
    player = app.screen
    await wait_for(pilot, player.mixer.song.complete.is_set, what="the decode")
    return player


async def settle(pilot, player) -> None:
    """Wait until the audio thread has applied every seek (the playhead is real)."""
    from stemtui.ui.screens.player import pending_seek

    await wait_for(pilot, lambda: pending_seek(player.mixer) is None, what="the seek")
    await pilot.pause(0.03)


def write_stems(folder: Path, names=("vocals", "drums"), seconds: float = 1.0, sr: int = 44100) -> Path:
    """A folder of short WAV stems (sines at different pitches)."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    for i, name in enumerate(names):
        tone = 0.3 * np.sin(2 * np.pi * (220.0 * (i + 1)) * t).astype(np.float32)
        sf.write(str(folder / f"{name}.wav"), np.stack([tone, tone], axis=1), sr)
    return folder
