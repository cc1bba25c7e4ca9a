"""Offline export of a mix, through the same code the audio callback runs."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from stemtui.core.audio.mixer import BLOCK_MAX, Mixer
from stemtui.core.errors import BadInput
from stemtui.core.library.safeio import SafeSoundFile, file_kind, probe_writable, unwind_on_signals

FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".mp3": ("MP3", "MPEG_LAYER_III")}


def render_blocks(mixer: Mixer, start: int, end: int, block: int = BLOCK_MAX, source=None):
    """Yield the mix of frames ``[start, end)`` in blocks, as heard live.

    Runs :meth:`Mixer.process`, the audio callback's own code, so an export
    is bit-for-bit what the callback plays with the same settings.

    Args:
        mixer: The mixer with the settings to render.
        start: First song frame.
        end: End song frame.
        block: Frames per block.
        source: A stretched rendering of ``[start, end)`` to play instead of
            the song (then all of it is rendered).

    Yields:
        ``float32`` arrays of shape ``(n, 2)``; each is a fresh copy.
    """
    import numpy as np

    mixer.start_at(start, playing=True, source=source)
    remaining = max(0, end - start) if source is None else source.frames
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
        BadInput: Unknown extension, a folder that does not exist, a target
            that is a folder or not a regular file (a FIFO, ``/dev/...``),
            or a folder that cannot be written (read-only file system,
            permission denied).
        WriteFailed: The folder cannot take a new file for another reason
            (e.g. no space or no inodes left).
    """
    p = Path(path).expanduser()
    if p.suffix.lower() not in FORMATS:
        raise BadInput(str(path), "unsupported output format (use .wav, .flac or .mp3)")
    if p.is_dir():
        raise BadInput(str(path), "is a directory")
    if not p.parent.is_dir():
        raise BadInput(str(path), f"folder {p.parent} does not exist")
    try:
        mode = os.stat(p).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        # The rename would replace a device node or FIFO with our file.
        raise BadInput(str(path), f"not a regular file ({file_kind(mode)}); give a new file name")
    probe_writable(p)
    return p


def export_mix(
    mixer: Mixer,
    start: int,
    end: int,
    path: str | Path,
    on_progress: Callable[[float], None] | None = None,
    tempo: float = 1.0,
    semitones: int = 0,
) -> Path:
    """Render frames ``[start, end)`` of the mix to an audio file.

    The file is written to a hidden ``.NAME.<pid>.<hex>.part`` beside the
    target and renamed at the end, so an interrupted or failed export leaves
    nothing behind: Ctrl-C, SIGTERM and SIGHUP remove the part on the way
    out, and the parts of writers that were killed outright (SIGKILL) are
    swept by the next export into the same folder.

    Args:
        mixer: A mixer set up with the mutes, solos and volumes to render.
        start: First frame.
        end: End frame (exclusive).
        path: Target ``.wav``, ``.flac`` or ``.mp3``.
        on_progress: Called with the fraction done, 0–1.
        tempo: Speed factor; the file lasts ``(end - start) / tempo``.
        semitones: Transpose.

    Returns:
        The written path.

    Raises:
        BadInput: A target that cannot be used or written (see
            :func:`check_output_path`).
        WriteFailed: The write failed on the way (e.g. the disk filled up).
        SystemExit: ``128 + N`` after signal N (SIGTERM, SIGHUP), once the
            part file is removed.
    """
    with unwind_on_signals():
        return _export(mixer, start, end, path, on_progress, tempo, semitones)


def _export(mixer, start, end, path, on_progress, tempo, semitones) -> Path:
    from stemtui.core.tempo.stretch import is_identity

    target = check_output_path(path)
    fmt, subtype = FORMATS[target.suffix.lower()]
    source = None
    # Stretching takes most of the time: it is the first 80 % of the bar.
    share = 0.0
    if not is_identity(tempo, semitones):
        from stemtui.core.audio.source import ArraySource
        from stemtui.core.tempo.stretch import stretch_song_region

        share = 0.8

        def stretch_progress(f: float) -> None:
            if on_progress is not None:
                on_progress(share * f)

        data = stretch_song_region(mixer.song.data, start, end, mixer.sample_rate, tempo, semitones, stretch_progress)
        source = ArraySource(data, start, end, tempo, semitones)
    total = max(1, end - start) if source is None else source.frames
    done = 0
    with SafeSoundFile(target, mixer.sample_rate, 2, fmt, subtype) as f:
        for block in render_blocks(mixer, start, end, source=source):
            f.write(block.clip(-1.0, 1.0))
            done += block.shape[0]
            if on_progress is not None:
                on_progress(share + (1.0 - share) * min(1.0, done / total))
    return target


def backing_name(
    title: str,
    names: list[str],
    audible: list[bool],
    tempo: float = 1.0,
    semitones: int = 0,
    loop: tuple[float, float] | None = None,
    ext: str = ".wav",
    click: bool = False,
    ranges: Sequence[tuple[str, str, float, float]] = (),
) -> str:
    """A file name that says what the backing track leaves out, e.g. ``Song (no vocals, 80%).wav``.

    Args:
        title: Song title.
        names: Stem names.
        audible: Whether each stem is heard.
        tempo: Speed factor (shown when not 100 %).
        semitones: Transpose (shown when not 0).
        loop: ``(start, end)`` seconds when only the loop is exported.
        ext: Extension with the dot.
        click: Whether the metronome click is in it.
        ranges: ``(kind, stem, start_s, end_s)`` of the mute and solo ranges
            (``no vocals 30.0s-45.0s``, ``bass only 8.0s-16.0s``).
    """
    muted = [n for n, a in zip(names, audible, strict=True) if not a]
    kept = [n for n, a in zip(names, audible, strict=True) if a]
    parts = []
    if muted and len(muted) <= len(kept):
        parts.append("no " + "+".join(muted))
    elif muted:
        parts.append("+".join(kept) + " only" if kept else "silent")
    if abs(tempo - 1.0) > 1e-6:
        parts.append(f"{tempo * 100:.0f}%")
    if semitones:
        parts.append(f"{semitones:+d} st")
    if click:
        parts.append("click")
    for kind, stem, a, b in ranges:
        parts.append(f"{'no ' + stem if kind == 'mute' else stem + ' only'} {a:.1f}s-{b:.1f}s")
    if loop is not None:
        parts.append(f"loop {loop[0]:.1f}s-{loop[1]:.1f}s")
    safe = "".join(
        c if c.isalnum() or c in " -_.,+%()&'" else "-" if c in ":/\\|" else "_" for c in title.replace(":", " -")
    )
    safe = " ".join(safe.split()) or "mix"
    return f"{safe} ({', '.join(parts)}){ext}" if parts else f"{safe} (full mix){ext}"
