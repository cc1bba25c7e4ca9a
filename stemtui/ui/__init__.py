"""The Textual terminal UI: library browser, player, help.

Entry point: :func:`stemtui.ui.app.run_app`. Nothing under ``stemtui.core``
imports this package; this package drives the core through its public API.
"""
