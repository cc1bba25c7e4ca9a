"""The core must stay UI-free, and `--help` must not pay for heavy imports."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "stemtui.core.song",
    "stemtui.core.mixer",
    "stemtui.core.engine",
    "stemtui.core.store",
    "stemtui.core.library",
    "stemtui.core.export",
    "stemtui.core.timefmt",
    "stemtui.core.audio_io",
    "stemtui.core.demo",
]


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
    assert "stemtui.core.mixer" in mods


def test_core_imports_no_torch_for_playback():
    """Playing and exporting cached songs never pays torch's import cost."""
    mods = _loaded_after("\n".join(f"import {m}" for m in CORE_MODULES))
    assert "torch" not in mods and "demucs" not in mods


def test_cli_help_is_lightweight():
    mods = _loaded_after("import stemtui.cli\nstemtui.cli.build_parser()")
    assert not ({"numpy", "torch", "textual", "sounddevice", "soundfile"} & mods)


def test_ui_imports_no_torch_until_a_separation_starts():
    mods = _loaded_after("import stemtui.ui.app\nimport stemtui.ui.screens.separation\nimport stemtui.core.jobs")
    assert "textual" in mods
    assert "torch" not in mods and "demucs" not in mods
