"""What a separation will cost, told before it starts: time and disk.

* Time: seconds of compute per second of audio, for the model, device and
  precision. Each finished separation stores its measured figure in the
  cache (``separation-speed.json``); until one was measured on this machine
  a built-in figure is used (from the README's benchmarks on a 2-core Zen 4
  VM). Either way it is an estimate, and says which kind.
* Disk, at its peak, in the cache's ``tmp/``:

  - the decoded input, ``input.npy``: 8 bytes per frame at the file's rate
    (stereo float32), plus a resampled copy at the model's rate when they
    differ (both removed once the worker ends);
  - the worker's output, ``stems.f32``: 8 bytes per frame per stem at the
    model's rate (the player reads it while it grows);
  - the FLAC stems, about :data:`FLAC_RATIO` of 16-bit PCM, written while
    ``stems.f32`` still exists.

  The peak is the larger of input + output and output + FLAC.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from stemtui.core.library.safeio import WriteFailed

#: FLAC stems' size over 16-bit PCM: real recordings give 0.5–0.6 (README,
#: cache benchmark); the worst case (full-scale noise) is about 1.0.
FLAC_RATIO = 0.6

#: Room left over beyond the estimate (manifests, logs, rounding).
MARGIN = 64 << 20

#: Compute seconds per audio second before this machine measured one
#: (a full-size HTDemucs took 11.7 s for 30 s on 2 Zen 4 cores in bf16).
DEFAULT_SPEED = {"demucs_unittest": 0.15}
FALLBACK_SPEED = 0.45

#: Starting the worker (python, torch, the model) before the first segment.
STARTUP_S = 5.0

SPEED_FILE = "separation-speed.json"

MODEL_RATE = 44100  # every demucs model's rate


class NotEnoughDisk(WriteFailed):
    """The stems would not fit: refused before anything is written (exit 1)."""


@dataclass
class Budget:
    """The estimate for one file.

    Attributes:
        seconds: Length of the audio.
        eta_s: Estimated compute time.
        measured: Whether ``eta_s`` comes from this machine's past runs.
        stems_bytes: The FLAC stems kept in the store.
        peak_bytes: Disk used at the peak, temporary files included.
        free_bytes: Free space where the temporary files go.
    """

    seconds: float
    eta_s: float
    measured: bool
    stems_bytes: int
    peak_bytes: int
    free_bytes: int

    @property
    def fits(self) -> bool:
        return self.peak_bytes + MARGIN <= self.free_bytes


def stem_count(model: str, two_stems: str | None) -> int:
    """Stems a model gives, known before it is loaded (``*_6s`` models give 6)."""
    if two_stems:
        return 2
    return 6 if model.endswith("6s") else 4


def _speed_key(options, device: str) -> str:
    return f"{options.model}/{device}/{options.precision}"


def load_speed(root: Path, options, device: str = "auto") -> tuple[float, bool]:
    """(seconds per audio second, measured here?) for these options."""
    try:
        speeds = json.loads((Path(root) / SPEED_FILE).read_text())
        return float(speeds[_speed_key(options, device)]), True
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_SPEED.get(options.model, FALLBACK_SPEED), False


def record_speed(root: Path, options, device: str, compute_s: float, audio_s: float) -> None:
    """Remember a finished separation's speed (best effort: a full disk just skips it)."""
    if audio_s <= 0 or compute_s <= 0:
        return
    path = Path(root) / SPEED_FILE
    try:
        speeds = json.loads(path.read_text())
        if not isinstance(speeds, dict):
            speeds = {}
    except (OSError, ValueError):
        speeds = {}
    speeds[_speed_key(options, device)] = round(compute_s / audio_s, 4)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        part.write_text(json.dumps(speeds, indent=1))
        os.replace(part, path)
    except OSError:
        part.unlink(missing_ok=True)


def estimate(path: Path, options, tmp_dir: Path, cache_root: Path) -> Budget:
    """Time and disk for separating ``path`` with ``options`` into a store whose ``tmp/`` is ``tmp_dir``.

    Raises:
        BadInput: The file is not audio (from the probe).
    """
    from stemtui.core.library.audioblocks import audio_length

    frames, rate = audio_length(path)
    seconds = frames / rate
    model_frames = int(seconds * MODEL_RATE) + 1
    stems = stem_count(options.model, options.two_stems)
    inp = frames * 8 + (model_frames * 8 if rate != MODEL_RATE else 0)
    out = stems * model_frames * 8
    flac = int(stems * model_frames * 4 * FLAC_RATIO)
    speed, measured = load_speed(cache_root, options, options.device)
    free = shutil.disk_usage(tmp_dir).free
    return Budget(seconds, STARTUP_S + seconds * speed, measured, flac, max(inp + out, out + flac), free)


def check_disk(what: str, budget: Budget, tmp_dir: Path) -> None:
    """Refuse in one line when the disk is too small.

    Raises:
        NotEnoughDisk: ``WHAT: not enough disk space in TMP: needs X, Y free``.
    """
    if not budget.fits:
        raise NotEnoughDisk(
            what,
            f"not enough disk space in {tmp_dir}: separating needs about {human_bytes(budget.peak_bytes + MARGIN)}"
            f" ({human_bytes(budget.stems_bytes)} of stems kept), {human_bytes(budget.free_bytes)} free",
        )


def human_bytes(n: float) -> str:
    """``1.2 GB``, ``340 MB``."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def describe(budget: Budget) -> str:
    """The line shown before a separation starts."""
    from stemtui.core.timefmt import format_time

    source = "from past runs on this machine" if budget.measured else "a default figure, not yet measured here"
    return (
        f"{format_time(budget.seconds, 0)} of audio: about {format_time(max(budget.eta_s, 1.0), 0)} to separate"
        f" (an estimate, {source}); needs {human_bytes(budget.peak_bytes)} of disk while separating,"
        f" {human_bytes(budget.stems_bytes)} kept"
    )
