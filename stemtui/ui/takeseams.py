"""Where the take keys meet the take store, the recorder and the analysis.

Each function is a small seam: the UI's one call into the parts that do the
work (:mod:`stemtui.core.takes`, the recorder, :mod:`stemtui.core.analysis`),
so :mod:`stemtui.ui.take_actions` stays about keys and screens.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from stemtui.core.errors import StemtuiError

if TYPE_CHECKING:
    import numpy as np

    from stemtui.core.analysis.comparison import CompareResult
    from stemtui.core.audio.engine import Engine
    from stemtui.core.audio.mixer import Mixer
    from stemtui.core.audio.song import Song
    from stemtui.core.library.store import Entry
    from stemtui.core.takes.takestore import Take, TakeStore
    from stemtui.settings import Settings


log = logging.getLogger("stemtui.ui")


class TakeFault(StemtuiError):
    """A take could not be recorded (one line)."""


#: Seconds to wait for the input's first block before the backing starts (PulseAudio stalls up to ~2 s).
INPUT_START_S = 10.0
#: Seconds between looks at the comparison's worker.
COMPARE_POLL_S = 0.1


class Recording(Protocol):
    """A take being recorded, as the take keys see it."""

    @property
    def counting_in(self) -> bool:
        """Whether nothing is kept yet: the input is starting, or the count-in plays."""
        ...

    @property
    def elapsed_s(self) -> float:
        """Seconds recorded so far."""
        ...

    def take_peak_db(self) -> float:
        """The input's peak since the previous call, in dBFS (``-inf``: silence)."""
        ...

    def poll(self) -> bool:
        """Start the backing once the input flows; whether the take should stop (song ended, take full).

        Raises:
            StemtuiError: The input delivered nothing in time (one line).
        """
        ...

    def stop(self) -> Take | None:
        """Stop and keep the take (writes its file; call it off the UI thread); ``None``: nothing recorded."""
        ...

    def discard(self) -> None:
        """Stop and throw the take away."""
        ...


class RecorderRecording:
    """:class:`Recording` over the recorder (:class:`stemtui.core.takes.recorder.Recorder`).

    The backing starts (with its count-in) once the input delivers blocks,
    so the take's first frame is known in song time.
    """

    def __init__(self, rec: Any, mixer: Mixer) -> None:
        self.rec = rec
        self.mixer = mixer
        self.started = False
        self._since = time.monotonic()

    @property
    def counting_in(self) -> bool:
        return not self.started or self.mixer.counting_in

    @property
    def elapsed_s(self) -> float:
        return float(self.rec.recorded_s)

    def take_peak_db(self) -> float:
        peak = float(self.rec.level())
        return 20.0 * math.log10(peak) if peak > 1e-9 else float("-inf")

    def poll(self) -> bool:
        if not self.started:
            if self.rec.capture.callbacks == 0:
                if time.monotonic() - self._since > INPUT_START_S:
                    raise TakeFault(
                        f"{self.rec.capture.name}: the input delivered no audio within {INPUT_START_S:.0f} s"
                    )
                return False
            self.started = True
            self.mixer.play()  # from paused: the count-in first, if set
        return bool(self.mixer.ended or self.rec.done.is_set())

    def stop(self) -> Take | None:
        return self.rec.stop()

    def discard(self) -> None:
        self.rec.discard()


def open_take_store(settings: Settings) -> TakeStore:
    """The takes store under ``settings.data_dir``."""
    return settings.takes_store()


def song_with_takes(store: TakeStore, song: Song) -> tuple[list[Take], Song, list[str]]:
    """The song's takes in the mix, ``song`` with each appended as a row ``take:ID`` at its song time,
    and one line per problem (a take left out)."""
    from stemtui.core.takes.takemix import song_with_takes as with_takes
    from stemtui.core.takes.takemix import take_row

    if not song.id:
        return [], song, []
    takes, problems = store.listing(song.id)
    out, more = with_takes(song, store, takes)
    return [t for t in takes if take_row(t.id) in out.names], out, problems + more


def begin_recording(
    engine: Engine, mixer: Mixer, store: TakeStore, reference: str, settings: Settings, feed: np.ndarray | None = None
) -> Recording:
    """Start recording the engine's input over ``mixer``'s song, from its playhead (the mixer is paused).

    The device-free engine records the device-free input: silence, or ``feed``.

    Raises:
        StemtuiError: No input device, or it refused (one line; playback is unaffected).
    """
    from stemtui.core.takes.capture import resolve_input
    from stemtui.core.takes.latency import CalibrationStore
    from stemtui.core.takes.recorder import Recorder, StoreSink

    device = None if engine.null else resolve_input(None)
    cal = CalibrationStore(settings.data_dir).get(engine.device_name, device.name) if device is not None else 0.0
    rec = Recorder(
        engine,
        StoreSink(store, mixer.song.id, reference),
        device,
        calibration_s=cal,
        min_start_s=mixer.position / mixer.sample_rate,
        feed=feed,
    )
    rec.start()
    return RecorderRecording(rec, mixer)


def run_compare(
    entry: Entry,
    take: Take,
    reference: str,
    progress: Callable[[float, str], None],
    cancelled: Callable[[], bool],
) -> CompareResult | None:
    """Compare ``take`` with the stored stem ``reference`` in a worker process; ``None`` if cancelled.

    Blocks (a thread worker waits on it), telling ``progress(fraction, stage)``.
    """
    from stemtui.core.analysis.comparejob import CompareJob

    job = CompareJob(entry.stem_path(reference), take.path, take.start_s, take.id, reference).start()
    while True:
        state = job.poll()
        if state.done:
            break
        if cancelled():
            job.cancel()
            return None
        progress(state.fraction, state.stage)
        time.sleep(COMPARE_POLL_S)
    if state.error is not None:
        raise state.error
    return state.result
