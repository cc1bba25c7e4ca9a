"""UI-free core of stemtui, one sub-package per concern.

* :mod:`stemtui.core.audio` – song model, real-time mixer, engine, click.
* :mod:`stemtui.core.tempo` – tempo and transpose (stretched runs, workers).
* :mod:`stemtui.core.separation` – Demucs separation in a worker process.
* :mod:`stemtui.core.library` – the stem cache, practice state, files, export.
* :mod:`stemtui.core.analysis` – beat grids (and later the song map).
* :mod:`stemtui.core.procs` – the one parent/child worker protocol.

Shared by all: :mod:`stemtui.core.errors` (exceptions that become one-line
messages) and :mod:`stemtui.core.timefmt` (times, loops and gains as
musicians type them).

Nothing in this package may import textual, the UI, the commands or the CLI:
import-linter contracts in ``pyproject.toml`` and ``tests/unit/test_layering.py``
enforce it. See ARCHITECTURE.md for the code map.
"""
