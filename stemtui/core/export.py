"""Offline export of a mix, through the same code the audio callback runs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

from stemtui.core.errors import BadInput
from stemtui.core.mixer import BLOCK_MAX, Mixer

FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".mp3": ("MP3", "MPEG_LAYER_III")}


def render_blocks(mixer: Mixer, start: int, end: int, block: int = BLOCK_MAX):
    """Yield the mix of frames ``[start, end)`` in blocks, as heard live.

    Runs :meth:`Mixer.process`, the audio callback's own code, so an export
    is bit-for-bit what the callback plays with the same settings.

    Yields:
        ``float32`` arrays of shape ``(n, 2)``; each is a fresh copy.
    """
    import numpy as np

    mixer.start_at(start, playing=True)
    remaining = max(0, end - start)
    buf = np.zeros((block, 2), dtype=np.float32)
    while remaining > 0:
        n = min(block, remaining)
        mixer.process(buf[:n])
        yield buf[:n].copy()
        remaining -= n
        if mixer.ended:
            break


def check_output_path(path: str | Path) -> Path:
    """Validate an export target before any work is done.

    Raises:
        BadInput: Unknown extension, or a folder that does not exist.
    """
    p = Path(path).expanduser()
    if p.suffix.lower() not in FORMATS:
        raise BadInput(str(path), "unsupported output format (use .wav, .flac or .mp3)")
    if p.is_dir():
        raise BadInput(str(path), "is a directory")
    if not p.parent.exists():
        raise BadInput(str(path), f"folder {p.parent} does not exist")
    return p


def export_mix(
    mixer: Mixer,
    start: int,
    end: int,
    path: str | Path,
    on_progress: Callable[[float], None] | None = None,
) -> Path:
    """Render frames ``[start, end)`` of the mix to an audio file.

    The file is written to a hidden temporary name beside the target and
    renamed at the end, so an interrupted export leaves nothing behind.

    Args:
        mixer: A mixer set up with the mutes, solos and volumes to render.
        start: First frame.
        end: End frame (exclusive).
        path: Target ``.wav``, ``.flac`` or ``.mp3``.
        on_progress: Called with the fraction done, 0–1.

    Returns:
        The written path.
    """
    import soundfile as sf

    target = check_output_path(path)
    fmt, subtype = FORMATS[target.suffix.lower()]
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:6]}.part")
    total = max(1, end - start)
    done = 0
    try:
        with sf.SoundFile(str(tmp), "w", samplerate=mixer.sample_rate, channels=2, format=fmt, subtype=subtype) as f:
            for block in render_blocks(mixer, start, end):
                f.write(block.clip(-1.0, 1.0))
                done += block.shape[0]
                if on_progress is not None:
                    on_progress(min(1.0, done / total))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
