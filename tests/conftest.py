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


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Every test gets its own cache, data and log dirs: never the user's."""
    monkeypatch.setenv("STEMTUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("STEMTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STEMTUI_LOG_DIR", str(tmp_path / "log"))


@pytest.fixture
def tmp_store(tmp_path):
    """An empty song store in a temp dir (also what STEMTUI_CACHE_DIR points at)."""
    from stemtui.core.library.store import Store

    return Store(tmp_path / "cache")


@pytest.fixture
def null_engine():
    """The real engine in its device-free mode: a paced null stream, no sound."""
    from stemtui.core.audio.engine import Engine

    engine = Engine(null=True)
    try:
        yield engine
    finally:
        engine.close()
