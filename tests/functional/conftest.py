"""Fixtures for the functional tests: the demo song, copied per test."""

from tests.functional.test_ui_support import demo_store, demo_template  # noqa: F401 - fixtures
