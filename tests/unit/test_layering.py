"""The core must stay UI-free, and `--help` must not pay for heavy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _core_modules() -> list[str]:
    """Every module under ``stemtui.core``, found on disk (not a hand-kept list)."""
    import stemtui.core

    root = Path(stemtui.core.__file__).parent
    mods = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts[-1] != "__main__":
            mods.append(".".join(parts))
    return mods


CORE_MODULES = _core_modules()


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_core_never_imports_textual():
    mods = _loaded_after("\n".join(f"import {m}" for m in CORE_MODULES))
    assert not {m for m in mods if m == "textual" or m.startswith("textual.")}
    assert len(CORE_MODULES) > 30 and set(CORE_MODULES) <= mods


def test_core_imports_no_torch_for_playback():
    """Importing any core module never pays torch's import cost (the worker process does)."""
    mods = _loaded_after("\n".join(f"import {m}" for m in CORE_MODULES))
    assert "torch" not in mods and "demucs" not in mods


def test_cli_help_is_lightweight():
    mods = _loaded_after("import stemtui.cli\nstemtui.cli.build_parser()")
    assert not ({"numpy", "torch", "textual", "sounddevice", "soundfile"} & mods)


def test_ui_imports_no_torch_until_a_separation_starts():
    mods = _loaded_after("import stemtui.ui.app\nimport stemtui.ui.screens.separation_screen\nimport stemtui.core.separation.job")
    assert "textual" in mods
    assert "torch" not in mods and "demucs" not in mods
