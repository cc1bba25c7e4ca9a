"""Audio and tempo faults, told as one-line notifications (no Textual here).

The core reports faults and keeps playing: the engine counts exceptions in
the audio callback (silence for those blocks) and notices a stream that
ended unasked; the tempo control reports a stretch worker that died (playback
goes on at 100 %); the engine's device watch tells a lost device (the
position holds while it retries), its return, and after 5 s offers the
default device or the null output. :class:`FaultNotices` turns those into
notifications, each in one line: callback failures when they start and at
most every 5 s while they go on, a lost stream once, each tempo error and
device event once, and the offer with its keys (:meth:`use_fallback`, the
player's ``D`` and ``N``). Every notice also goes to the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stemtui.core.audio.engine import Engine
    from stemtui.core.audio.mixer import Mixer

log = logging.getLogger("stemtui.ui")

#: Seconds between two notices of callback failures that go on.
REPEAT_S = 5.0


class FaultNotices:
    """Polls the engine and the mixer for faults and notifies them.

    Args:
        engine: The engine that plays (its fault counters are read).
        notify: ``notify(message, severity=..., timeout=...)``, e.g. a screen's.
    """

    def __init__(self, engine: Engine, notify: Callable[..., object]) -> None:
        self.engine = engine
        self.notify = notify
        self.errors_told = 0
        self.told_at = 0.0
        self.lost_told: str | None = None
        self.offer_told = False

    def poll(self, mixer: Mixer) -> None:
        """Tell what went wrong since the last poll (cheap when nothing did)."""
        for line in mixer.take_tempo_errors():
            log.warning("tempo: %s", line)
            self.notify(line, severity="warning", timeout=10)
        eng, now = self.engine, time.monotonic()
        errors = eng.callback_errors
        if errors < self.errors_told:  # the engine loaded another song: its count restarted
            self.errors_told = 0
        if errors > self.errors_told and (self.errors_told == 0 or now - self.told_at >= REPEAT_S):
            self.errors_told, self.told_at = errors, now
            times = "once" if errors == 1 else f"{errors} times"
            line = f"audio callback failed {times}, silence meanwhile: {eng.last_callback_error}"
            log.error(line)
            self.notify(line, severity="error", timeout=10)
        lost = eng.stream_lost
        if lost and lost != self.lost_told:
            self.lost_told = lost
            log.error("audio: %s", lost)
            self.notify(lost, severity="error", timeout=10)
        for severity, line in eng.take_device_events():
            log.log(logging.INFO if severity == "information" else logging.ERROR, "audio: %s", line)
            self.notify(line, severity=severity, timeout=10)
        offered = eng.fallback_offered
        if offered and not self.offer_told:
            line = "no audio device: press D for the default device, N for no sound (null output)"
            log.warning(line)
            self.notify(line, severity="warning", timeout=30)
        self.offer_told = offered

    def use_fallback(self, kind: str) -> None:
        """The player's ``D`` (``"default"``) and ``N`` (``"null"``): only while the device is lost."""
        if not self.engine.fallback_offered and self.engine.device_lost_for is None:
            self.notify("the audio device is playing: nothing to switch", timeout=3)
            return
        self.engine.use_fallback(kind)
        what = "the default device" if kind == "default" else "no sound (the null output)"
        self.notify(f"switching to {what} …", timeout=3)
