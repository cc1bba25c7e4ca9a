"""Stem separation with Demucs: exact, progressive, cancellable, off-process.

The engine (:func:`separate_array`) re-implements the split loop of
``demucs.apply.apply_model`` so that audio becomes final while the rest is
still being computed, yet the finished stems equal a one-shot ``apply_model``
(and ``demucs.api.Separator``) run of the same model and settings:

* The mix is normalised by the mean/std of its mono downmix, as
  ``demucs.api.Separator.separate_tensor`` does, and scaled back at the end.
* Each model of a bag, and each random shift of ``shifts``, is one *pass* with
  demucs's own segment grid (``stride = int((1 - overlap) * segment)``),
  ``TensorChunk`` padding and triangular weights. Each segment goes through
  the body of ``apply_model(split=False)`` (same padding from neighbouring
  samples, valid length, centre trim), so the model sees exactly the samples
  it would in demucs.
* A segment's contribution is added already divided by the pass's total
  weight at each frame (known in advance from the grid) and scaled by its bag
  weight, so every pass accumulates into the same output buffer.
* A pass never touches frames before the start of its next segment again.
  The frames before the smallest such start over all passes are therefore
  final: they are de-normalised, handed on (written to the output file by
  the worker) and dropped from the accumulator, which so holds only about
  two segments, whatever the song's length; then published (``on_ready``).
  Passes are interleaved, always advancing the one furthest behind.
* The mix is never held whole either: its normalisation statistics are
  merged block by block, and each segment reads its window (demucs's
  zero padding included) from the input, in memory or in a file.
* Shift offsets come from ``random.Random(seed)`` in demucs's order (model by
  model, shift by shift), so runs are repeatable; with one model and
  ``shifts <= 1`` they equal ``apply_model`` run right after
  ``random.seed(seed)``. (For ``shifts > 1`` or bags the offsets after the
  first differ from a seeded demucs run, because HTDemucs itself draws from
  the global ``random`` between shifts; the stems are as good, not equal.)
* Segments may run concurrently (``jobs``); results are summed in schedule
  order, so the output does not depend on it.
* For bf16 on a CPU, :class:`~stemtui.core.separation.models.fast_inference` casts the
  weights once and uses a faster attention (47.8 dB vs fp32, as autocast).

:class:`SeparationTask` (defined in :mod:`stemtui.core.separation.task`, beside the
worker it drives, re-exported here) runs the engine in a worker process, so
the audio callback never waits on torch's GIL-holding work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stemtui.core.audio.song import as_stereo, stem_sort_key
from stemtui.core.errors import BadInput, StemtuiError
from stemtui.core.separation.models import (
    ModelUnavailable,
    load_model,
    pick_precision,
    resolve_device,
    save_model_safetensors,
)
from stemtui.core.separation.scratch import NpyFrames

__all__ = [
    "ModelUnavailable",
    "Progress",
    "SeparationCancelled",
    "SeparationFailed",
    "SeparationOptions",
    "load_model",
    "model_sample_rate",
    "pick_precision",
    "resolve_device",
    "save_model_safetensors",
    "separate_array",
]


class SeparationCancelled(StemtuiError):
    """The separation was cancelled before it finished."""

    exit_code = 130


class SeparationFailed(StemtuiError):
    """The model or the worker failed; the message is one line."""

    exit_code = 1


@dataclass
class SeparationOptions:
    """How to separate.

    Attributes:
        model: Demucs model name or signature (see :func:`load_model`).
        repo: A folder with model files (``--model-repo``).
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        shifts: Random-shift passes averaged (demucs's ``--shifts``); 0 = none.
        overlap: Overlap between segments, in [0, 1).
        precision: ``auto``, ``fp32`` or ``bf16`` (autocast).
        two_stems: Keep this stem and ``instrumental`` (the sum of the others).
        segment: Segment length in seconds (default: the model's).
        seed: Seeds the shift offsets, so equal options give equal stems.
    """

    model: str = "htdemucs"
    repo: Path | None = None
    device: str = "auto"
    shifts: int = 1
    overlap: float = 0.25
    precision: str = "auto"
    two_stems: str | None = None
    segment: float | None = None
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`BadInput` for values demucs would reject."""
        if int(self.shifts) != self.shifts or self.shifts < 0:
            raise BadInput(f"--shifts {self.shifts}", "must be a whole number >= 0")
        if not 0.0 <= float(self.overlap) < 1.0:
            raise BadInput(f"--overlap {self.overlap}", "must be in [0, 1)")
        if self.segment is not None and not float(self.segment) > 0:
            raise BadInput(f"--segment {self.segment}", "must be > 0 seconds")

    def cache_key_fields(self) -> dict:
        """The options that change the stems (not the device, nor where the model lives)."""
        d = asdict(self)
        return {k: d[k] for k in ("model", "two_stems", "shifts", "overlap", "precision", "segment", "seed")}


@dataclass
class Progress:
    """One progress report; fields only grow, and the last has ``fraction == 1``.

    Attributes:
        fraction: Segments computed / all segments (all passes).
        audio_done_s: ``fraction`` of ``audio_total_s``, in seconds of audio.
        audio_total_s: Length of the song.
        elapsed_s: Since the separation started (model loading included).
        eta_s: Estimated seconds left, None until a segment is done.
        model, device, precision: What is running.
        ready_frames: Frames from the start whose stems are final.
    """

    fraction: float
    audio_done_s: float
    audio_total_s: float
    elapsed_s: float
    eta_s: float | None
    model: str
    device: str
    precision: str
    ready_frames: int


def model_sample_rate(model) -> int:
    """The sample rate a loaded demucs model (or bag) expects."""
    return int(model.samplerate)


def stem_layout(sources: list[str], two_stems: str | None) -> tuple[list[str], np.ndarray]:
    """Output stem names and the 0/1 matrix folding model sources into them.

    Raises:
        BadInput: ``two_stems`` is not one of the model's sources.
    """
    sources = list(sources)
    if two_stems is None:
        # Output in the store's (a musician's) order, vocals first, so key 1
        # means the same stem while separating as after: the fold matrix
        # reorders for free.
        names = sorted(sources, key=stem_sort_key)
        fold = np.zeros((len(names), len(sources)), dtype=np.float32)
        for row, name in enumerate(names):
            fold[row, sources.index(name)] = 1.0
        return names, fold
    if two_stems not in sources:
        raise BadInput(f"--two-stems {two_stems}", f"not a stem of this model ({', '.join(sources)})")
    fold = np.zeros((2, len(sources)), dtype=np.float32)
    for k, name in enumerate(sources):
        fold[0 if name == two_stems else 1, k] = 1.0
    return [two_stems, "instrumental"], fold


def prepare_input(audio: np.ndarray, sample_rate: int, model_rate: int) -> np.ndarray:
    """``(frames, 2)`` float32 at the model's rate (soxr HQ when rates differ)."""
    x = as_stereo(audio)
    if int(sample_rate) != int(model_rate):
        import soxr

        x = soxr.resample(x, int(sample_rate), int(model_rate), quality="HQ")
    return np.ascontiguousarray(x, dtype=np.float32)


def _resample_file(src: NpyFrames, sample_rate: int, model_rate: int, dest: Path) -> NpyFrames:
    """``src`` resampled to the model's rate into ``dest``, a block at a time.

    soxr's stream gives the same samples and length as its one-shot call.
    """
    import soxr

    from stemtui.core.separation.scratch import write_npy

    stream = soxr.ResampleStream(int(sample_rate), int(model_rate), 2, dtype="float32", quality="HQ")

    def blocks():
        for blk in src.blocks():
            yield stream.resample_chunk(as_stereo(blk), last=False)
        yield stream.resample_chunk(np.zeros((0, 2), dtype=np.float32), last=True)

    write_npy(dest, blocks())
    return NpyFrames(dest)


def _mix_reader(audio, sample_rate: int, rate: int, resampled: Path | None):
    """``(read(a, b), frames, blocks())`` of the stereo mix at the model's rate.

    A :class:`NpyFrames` input is read from its file (resampled into the file
    ``resampled`` first when rates differ); an array is held in memory.
    """
    from stemtui.core.separation.scratch import BLOCK

    if isinstance(audio, NpyFrames):
        src = audio
        if int(sample_rate) != int(rate):
            dest = resampled if resampled is not None else audio.path.with_suffix(f".{rate}.npy")
            src = _resample_file(audio, sample_rate, rate, dest)
        if src.channels == 2:
            return src.read, src.frames, src.blocks
        return (lambda a, b: as_stereo(src.read(a, b))), src.frames, (lambda: map(as_stereo, src.blocks()))
    x = prepare_input(audio, sample_rate, rate)
    frames = x.shape[0]
    return (lambda a, b: x[a:b]), frames, (lambda: (x[s : s + BLOCK] for s in range(0, frames, BLOCK)))


def separate_array(
    audio,
    sample_rate: int,
    options: SeparationOptions | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel_event: threading.Event | None = None,
    on_ready: Callable[[int], None] | None = None,
    on_start: Callable[[list[str], int, int], Any] | None = None,
    model=None,
    jobs: int = 1,
    resampled: Path | None = None,
) -> tuple[list[str], Any]:
    """Separate audio in this process (the worker's engine).

    Args:
        audio: ``(frames[, channels])`` float audio (made stereo), or a
            :class:`~stemtui.core.separation.scratch.NpyFrames` file, read a
            window at a time so memory does not grow with the song.
        sample_rate: Its rate; resampled (soxr) to the model's.
        options: How to separate.
        on_progress: Called with a :class:`Progress` at start and per segment.
        cancel_event: When set, stops before the next segment.
        on_ready: Called with ``k`` when frames ``[0, k)`` became final.
        on_start: Called once with ``(names, model_rate, frames)`` before any
            compute; may return where the stems go: a ``(stems, frames, 2)``
            float32 array to fill, or an object whose ``write(start, block)``
            takes each finished ``(stems, n, 2)`` block (a
            :class:`~stemtui.core.separation.scratch.StemsFile`).
        model: An already loaded model, else ``options.model`` is loaded.
        jobs: Segments computed at once, each in its own thread. The result
            is the same for any value; see :mod:`stemtui.core.separation.worker` for
            why the worker uses 2 single-threaded jobs on a CPU.
        resampled: Where a file input goes once resampled (default: beside it).

    Returns:
        ``(names, stems)``: stems is ``(len(names), frames, 2)`` float32 at the
        model's rate (``None`` when ``on_start`` gave a writer).

    Raises:
        SeparationCancelled, ModelUnavailable, BadInput, SeparationFailed.
    """
    t0 = time.monotonic()
    options = options or SeparationOptions()
    options.validate()
    device = resolve_device(options.device)
    precision = pick_precision(device, options.precision)
    if model is None:
        model = load_model(options.model, options.repo)
    names, fold = stem_layout(list(model.sources), options.two_stems)
    rate = model_sample_rate(model)
    try:
        from stemtui.core.separation.splitloop import _Mix, _run, norm_stats

        read, frames, blocks = _mix_reader(audio, sample_rate, rate, resampled)
        if frames == 0:
            raise BadInput("audio", "zero-length audio")
        target = on_start(names, rate, frames) if on_start else None
        out = np.zeros((len(names), frames, 2), dtype=np.float32) if target is None else target
        if isinstance(out, np.ndarray):
            arr = out

            def sink(start: int, block: np.ndarray) -> None:
                arr[:, start : start + block.shape[1]] = block

        else:
            sink = out.write
        import torch

        mean, std = norm_stats(blocks())  # as demucs.api.Separator, over the mono downmix
        mix = _Mix(read, frames, torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32) + 1e-8)
        _run(model, mix, sink, fold, options, device, precision, t0, on_progress, cancel_event, on_ready, jobs)
    except KeyboardInterrupt:
        # Ctrl-C in the worker (the terminal signals the whole process group):
        # the user asked to stop, which is a cancel, not a failure.
        raise SeparationCancelled("separation cancelled") from None
    except StemtuiError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure inside torch/demucs becomes SeparationFailed
        first = (str(exc).strip().splitlines() or [""])[0]
        raise SeparationFailed(f"separation failed: {type(exc).__name__}: {first}") from None
    return names, out if isinstance(out, np.ndarray) else None


def __getattr__(name: str):
    # SeparationTask lives beside its worker (which imports this module), so
    # it is re-exported lazily rather than imported in a cycle.
    if name == "SeparationTask":
        from stemtui.core.separation.task import SeparationTask

        return SeparationTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
