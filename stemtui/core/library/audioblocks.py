"""Audio files decoded a block at a time, and their length from the header.

For songs too long to hold decoded (a 2-hour live set is 2.5 GB as float32
stereo): the same decoders, samples and checks as
:func:`stemtui.core.library.audiofiles.read_audio`, one block at a time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from stemtui.core.errors import BadInput
from stemtui.core.library.audiofiles import (
    _SOUNDFILE_MAGIC,
    _check_file,
    _frame_to_float,
    _open_container,
    _short,
)

log = logging.getLogger("stemtui.audiofiles")


def _zero_nonfinite(block: np.ndarray) -> int:
    """Zero NaN/inf samples of one block in place; how many there were."""
    with np.errstate(invalid="ignore", over="ignore"):
        if np.isfinite(np.sum(block, dtype=np.float64)):
            return 0
    bad = ~np.isfinite(block)
    block[bad] = 0.0
    return int(np.count_nonzero(bad))


def _repaired(blocks: Iterator[np.ndarray], path: Path) -> Iterator[np.ndarray]:
    """``blocks`` with non-finite samples zeroed, and one warning at the end (as :func:`repair_nonfinite`)."""
    count = 0
    for b in blocks:
        count += _zero_nonfinite(b)
        yield b
    if count:
        log.warning(
            "stemtui: warning: %s: %d non-finite sample%s (NaN or infinity) replaced with silence",
            path,
            count,
            "" if count == 1 else "s",
        )


def _sf_blocks(f: sf.SoundFile, p: Path, block: int) -> Iterator[np.ndarray]:
    with f:
        while True:
            try:
                data = f.read(block, dtype="float32", always_2d=True)
            except (sf.SoundFileError, RuntimeError, ValueError) as exc:
                raise BadInput(str(p), f"unreadable: {_short(exc)}") from None
            if not data.shape[0]:
                return
            yield data


def _av_blocks(p: Path, container, rate: int, first: np.ndarray, frames) -> Iterator[np.ndarray]:
    with container:
        yield first
        try:
            for frame in frames:
                chunk = _frame_to_float(frame)
                if frame.sample_rate != rate or chunk.shape[1] != first.shape[1]:
                    raise BadInput(str(p), "unreadable: format changes mid-stream")
                yield chunk
        except (av.FFmpegError, ValueError) as exc:
            raise BadInput(str(p), f"unreadable: {_short(exc)}") from None


def decode_blocks(path: str | os.PathLike, block: int = 1 << 16) -> tuple[int, Iterator[np.ndarray]]:
    """Decode an audio file a block at a time, never holding it whole (a 2-hour set).

    The same decoders, samples and checks as :func:`read_audio`, except that
    a file libsndfile fails on part-way is reported rather than retried with
    FFmpeg.

    Returns:
        ``(sample_rate, blocks)``: float32 ``(n, channels)`` blocks, NaN and
        infinity zeroed (one warning for the file).

    Raises:
        BadInput: As :func:`read_audio`; errors found while iterating too.
    """
    p = Path(path)
    if _check_file(p).startswith(_SOUNDFILE_MAGIC):
        try:
            f = sf.SoundFile(str(p))
        except (sf.SoundFileError, RuntimeError, TypeError, ValueError):
            pass  # FFmpeg may read what libsndfile rejects
        else:
            if f.frames == 0:
                f.close()
                raise BadInput(str(p), "zero-length audio")
            return int(f.samplerate), _repaired(_sf_blocks(f, p, block), p)
    container = _open_container(p)
    try:
        if not container.streams.audio or not container.streams.audio[0].codec_context.sample_rate:
            raise BadInput(str(p), "not an audio file")
        stream = container.streams.audio[0]
        frames = (frame for packet in container.demux(stream) for frame in packet.decode())
        try:
            frame = next(frames, None)
        except (av.FFmpegError, ValueError):
            raise BadInput(str(p), "not an audio file") from None
        if frame is None:
            raise BadInput(str(p), "zero-length audio")
    except BaseException:
        container.close()
        raise
    rate = int(frame.sample_rate)  # HE-AAC headers may announce half the real rate; trust frames
    return rate, _repaired(_av_blocks(p, container, rate, _frame_to_float(frame), frames), p)


def audio_length(path: str | os.PathLike) -> tuple[int, int]:
    """``(frames, sample_rate)`` of an audio file from its header, without decoding it.

    For compressed formats FFmpeg's duration is an estimate (an MP3 without
    a length header is measured from its bit rate).

    Raises:
        BadInput: As :func:`read_audio` for files that are not audio.
    """
    p = Path(path)
    if _check_file(p).startswith(_SOUNDFILE_MAGIC):
        try:
            info = sf.info(str(p))
        except (sf.SoundFileError, RuntimeError, TypeError, ValueError):
            pass
        else:
            if info.frames > 0:
                return int(info.frames), int(info.samplerate)
    with _open_container(p) as container:
        if not container.streams.audio or not container.streams.audio[0].codec_context.sample_rate:
            raise BadInput(str(p), "not an audio file")
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate)
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        else:
            seconds = (container.duration or 0) / 1_000_000
    return max(0, int(seconds * rate)), rate
