"""The Textual terminal UI: library browser, player, help.

Entry point: :func:`stemtui.ui.app.run_app`, given the process's
:class:`~stemtui.settings.Settings` (the UI reads no environment of its
own). Nothing under ``stemtui.core``
imports this package; this package drives the core through its public API.
"""
