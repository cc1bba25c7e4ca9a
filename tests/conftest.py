"""Shared pytest fixtures for stemtui.

Sections:
  1. Environment   - process-wide settings applied before any test runs
  2. Helpers       - small functions used by fixtures
  3. Audio         - the PulseAudio server (``pulse`` fixture)
  4. Core          - a temp store and a device-free engine for every test
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.pulse_harness import PulseServer

# --------------------------------------------------------------------------
# 1. Environment
# --------------------------------------------------------------------------

# No network at test time: make huggingface_hub (used by demucs) fail fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


# --------------------------------------------------------------------------
# 2. Helpers
# --------------------------------------------------------------------------


def in_ci() -> bool:
    """True when running under CI (CI=true): missing tools then fail, not skip."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_tools(*tools: str) -> None:
    """Skip the test if a tool is missing locally; fail it in CI."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        msg = f"missing {', '.join(missing)} (bash scripts/setup.sh --test installs them)"
        if in_ci():
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


# --------------------------------------------------------------------------
# 3. Audio
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pulse():
    """A private PulseAudio server with a recordable null sink, for the session.

    Play through it from a subprocess started with ``env=pulse.env``
    (device ``"pulse"``), record with ``pulse.record()``; see
    tests/pulse_harness.py.
    """
    require_tools("pulseaudio", "pactl", "parec", "pacat")
    server = PulseServer(sink_name="stemtui_test")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------
# 4. Core
# --------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path):
    """The test's settings: cache, data and log dirs under ``tmp_path``, never the user's."""
    from stemtui.settings import Settings

    return Settings.under(tmp_path, warm_workers=False)


@pytest.fixture(autouse=True)
def _isolated_dirs(settings, monkeypatch):
    """Every test's subprocesses get the same dirs as ``settings``, through the environment."""
    from stemtui.settings import CACHE_ENV, DATA_ENV, LOG_ENV

    for name, folder in ((CACHE_ENV, settings.cache_dir), (DATA_ENV, settings.data_dir), (LOG_ENV, settings.log_dir)):
        monkeypatch.setenv(name, str(folder))


@pytest.fixture
def tmp_store(settings):
    """An empty song store at ``settings.cache_dir`` (also what STEMTUI_CACHE_DIR points at)."""
    from stemtui.core.library.store import Store

    return Store(settings.cache_dir)


@pytest.fixture
def practice_store(settings):
    """The saved practice states at ``settings.data_dir`` (also what STEMTUI_DATA_DIR points at)."""
    from stemtui.core.library.practice import PracticeStore

    return PracticeStore(settings.data_dir)


@pytest.fixture
def null_engine():
    """The real engine in its device-free mode: a paced null stream, no sound."""
    from stemtui.core.audio.engine import Engine

    engine = Engine(null=True)
    try:
        yield engine
    finally:
        engine.close()


def pytest_collection_modifyitems(items):
    """Tests that play through the real PulseAudio sink get one rerun (pytest-rerunfailures).

    They assert no underruns and match recordings sample by sample, on a
    shared 2-core machine whose scheduler can cost a block now and then. A
    real fault fails both runs; the rerun is reported in the summary.
    """
    for item in items:
        if item.get_closest_marker("audio") is not None:
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=1))
