"""Path completion for the add dialog (no Textual here, so it is unit-tested)."""

from __future__ import annotations

import os
from pathlib import Path


def _audio_extensions() -> frozenset[str]:
    # audio_io pulls in PyAV and soxr: import it on first use, not at startup.
    from stemtui.core.library.audiofiles import AUDIO_EXTENSIONS

    return AUDIO_EXTENSIONS


def importable(path: Path) -> bool:
    """Whether a path is worth offering: a visible folder or audio file."""
    if path.name.startswith("."):
        return False
    try:
        if path.is_dir():
            return True
    except OSError:
        return False
    return path.suffix.lower() in _audio_extensions()


def is_single_audio_file(path: Path) -> bool:
    """A plain audio file (not a folder, not a ``.stem.mp4``): it needs separating."""
    return path.is_file() and path.suffix.lower() in _audio_extensions() and not path.name.lower().endswith(".stem.mp4")


def complete_path(text: str, cwd: Path | None = None) -> tuple[str, list[str]]:
    """Complete the last component of ``text`` like a shell's tab.

    Only folders and audio files are offered. The typed form (``~``,
    relative paths) is kept.

    Returns:
        The completed text (the longest common prefix; a lone folder gets a
        trailing ``/``) and the matching names, sorted (folders end in ``/``).
    """
    base = cwd or Path.cwd()
    head, prefix = os.path.split(text)
    folder = Path(os.path.expanduser(head)) if head else base
    if not folder.is_absolute():
        folder = base / folder
    try:
        children = list(folder.iterdir())
    except OSError:
        return text, []
    names = []
    for child in children:
        if not child.name.startswith(prefix):
            continue
        if child.name.startswith(".") and not prefix.startswith("."):
            continue
        if importable(child) or (child.name.startswith(".") and child.is_dir()):
            names.append(child.name + ("/" if child.is_dir() else ""))
    names.sort()
    if not names:
        return text, []
    common = os.path.commonprefix(names)  # noqa: RUF071 -- a string prefix is what tab completes
    done = text[: len(text) - len(prefix)] + common
    return done, names
