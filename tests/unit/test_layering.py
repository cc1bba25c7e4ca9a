"""The core must stay UI-free, and `--help` must not pay for heavy imports.

Also: import-linter's contracts (pyproject.toml) hold, and each one fails on a violation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


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
    mods = _loaded_after(
        "import stemtui.ui.app\nimport stemtui.ui.screens.separation_screen\nimport stemtui.core.separation.job"
    )
    assert "textual" in mods
    assert "torch" not in mods and "demucs" not in mods


# --- import-linter: the layering contracts in pyproject.toml ----------------

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(root: Path) -> tuple[int, dict[str, str], str]:
    """Run lint-imports on the ``stemtui`` package under ``root``, with its pyproject.toml.

    Returns the exit status, each contract's verdict by name (``KEPT`` or
    ``BROKEN``) and the whole output.
    """
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    verdicts = {}
    for line in out.splitlines():
        name, _, verdict = line.rpartition(" ")
        if name and verdict in ("KEPT", "BROKEN"):
            verdicts[name] = verdict
    return proc.returncode, verdicts, out


def test_import_contracts_are_kept():
    rc, verdicts, out = _lint_imports(ROOT)
    assert rc == 0, out
    assert len(verdicts) >= 3 and set(verdicts.values()) == {"KEPT"}, out


# Each case adds one forbidden import to a copy of the tree; exactly the
# contract it breaks must say so (and lint-imports must fail).
VIOLATIONS = {
    "core-imports-ui": ("stemtui/core/__init__.py", "import stemtui.ui", "core imports neither"),
    "core-imports-textual": ("stemtui/core/timefmt.py", "import textual", "core imports neither"),
    "ui-imports-commands": ("stemtui/ui/__init__.py", "from stemtui.commands import common", "the UI does not import"),
    "audio-imports-separation": (
        "stemtui/core/audio/__init__.py",
        "import stemtui.core.separation.splitter",
        "core.audio imports nothing",
    ),
    "lyrics-imports-audio": (
        "stemtui/core/lyrics/__init__.py",
        "import stemtui.core.audio.song",
        "core.lyrics stands alone",
    ),
}


@pytest.mark.parametrize("case", list(VIOLATIONS))
def test_import_contract_catches_a_violation(tmp_path, case):
    module, line, contract = VIOLATIONS[case]
    shutil.copytree(ROOT / "stemtui", tmp_path / "stemtui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # the violation under test\n")
    rc, verdicts, out = _lint_imports(tmp_path)
    assert rc != 0, out
    broken = {name for name, verdict in verdicts.items() if verdict == "BROKEN"}
    assert len(broken) == 1 and next(iter(broken)).startswith(contract), out
    assert len(verdicts) >= 3, out


def test_architecture_map_names_every_package():
    """ARCHITECTURE.md stays true: it names every package of the tree, and nothing that is gone."""
    import re

    import stemtui

    pkg = Path(stemtui.__file__).parent
    text = (pkg.parent / "ARCHITECTURE.md").read_text()
    packages = {
        str(p.parent.relative_to(pkg.parent))
        for p in pkg.rglob("__init__.py")
        if "__pycache__" not in p.parts and p.parent != pkg
    }
    missing = {p for p in packages if f"`{p}/`" not in text}
    assert not missing, f"ARCHITECTURE.md does not name {sorted(missing)}"
    named = set(re.findall(r"`(stemtui/[a-z_/]+?)/?`", text))
    gone = {n for n in named if not (pkg.parent / n).exists() and not (pkg.parent / f"{n}.py").exists()}
    assert not gone, f"ARCHITECTURE.md names what is not in the tree: {sorted(gone)}"
