"""Recording a take over the playing song.

A :class:`Recorder` ties three things together:

* an :class:`~.capture.InputCapture` (the input stream and its ring),
* a :class:`~.capture.SongClock` installed as the engine's output tap,
* a writer thread that drains the ring into a sink: the take store's
  ``.part.f32`` file (:class:`StoreSink`), flushed and fsynced about every
  second so a killed process loses at most ~1 s; or memory
  (:class:`MemorySink`, for calibration and tests).

The take's song time is found once audio flows: the first input frame's
capture time, through the song clock's nearest steady anchor, plus the
stored calibration (:mod:`.latency`). Only then does the writer open the
take (``TakeStore.begin`` writes the sidecar with that start); frames from
before ``min_start_s`` (the count-in, the input's head start) are trimmed.

If the input goes away mid-take (its stream ends by itself, or its callbacks
stop for :data:`INPUT_STALL_S`: a hung or suspended device), the writer keeps what came before, sets
:attr:`Recorder.input_lost` (one line) and :attr:`Recorder.done`; the engine
plays on, and :meth:`Recorder.stop` stores the take as usual.

Typical use (the app or ``stemtui record``)::

    rec = Recorder(engine, StoreSink(store, song.id, reference="vocals"),
                   input_device=resolve_input(None), calibration_s=cal)
    rec.start()            # NoInputDevice: one line, playback unaffected
    ...                    # rec.level(), rec.overflows, rec.recorded_s, rec.input_lost
    take = rec.stop()      # or rec.discard()
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from stemtui.core.takes.capture import ANCHORS, InputCapture, InputDevice, SongClock
from stemtui.core.takes.latency import dominant, steady_mask
from stemtui.core.takes.takesinks import MemorySink, StoreSink, TakeSink

__all__ = ["MemorySink", "Recorder", "StoreSink", "TakeSink"]

#: Seconds between fsyncs of the part file.
SYNC_S = 1.0
#: How often the writer wakes up.
POLL_S = 0.02
#: Steady output blocks the take's provisional start is told from (~0.2 s).
FIRST_BLOCKS = 16
#: Input anchors either side in the running median of the input clock's offset.
SMOOTH = 16
#: Seconds without an input callback, once it flowed, after which the input counts as lost.
#: Not 1 s: on the 2-core CI box, loaded by a separation and other test runs
#: (load 8-9), PulseAudio's input paused for 0.8-1.3 s and then caught up
#: with nothing lost (``bench takes``' ``input_max_gap_ms``). A device that
#: goes away mostly ends its stream, which counts at once.
INPUT_STALL_S = 5.0
#: Callbacks the input must have delivered before a silence counts (a stream's start stalls).
STEADY_CALLBACKS = 32


class Recorder:
    """Records one take from ``input_device`` while ``engine`` plays its mixer.

    Args:
        engine: A loaded :class:`~stemtui.core.audio.engine.Engine`.
        sink: Where the frames go.
        input_device: The device; ``None`` records from the null input
            (silence, or ``feed``), paced like the null output.
        channels: 1 or 2; default: up to 2, what the device has.
        calibration_s: Added to the take's start (see :mod:`.latency`).
        min_start_s: Trim frames whose song time comes before this.
        max_frames: Stop the take at this many frames (:attr:`done` is set).
        feed: The null input's "recorded" audio.
    """

    def __init__(
        self,
        engine: Any,
        sink: TakeSink,
        input_device: InputDevice | None = None,
        channels: int | None = None,
        calibration_s: float = 0.0,
        min_start_s: float | None = None,
        max_frames: int | None = None,
        feed: np.ndarray | None = None,
        ring_seconds: float = 8.0,
    ) -> None:
        self.engine = engine
        self.sink = sink
        self.sample_rate = int(engine.sample_rate)
        ch = channels or (min(2, input_device.channels) if input_device is not None else 2)
        if feed is not None and channels is None:
            ch = 1 if feed.ndim == 1 else int(feed.shape[1])
        self.capture = InputCapture(self.sample_rate, engine.blocksize, input_device, ch, ring_seconds, feed)
        self.clock = SongClock(engine)
        self.calibration_s = float(calibration_s)
        self.min_start_s = min_start_s
        self.max_frames = max_frames
        #: Set once ``max_frames`` are written (or the writer failed).
        self.done = threading.Event()
        #: Song time of the take's first frame, once known.
        self.start_s: float | None = None
        #: Uncompensated song time of the input's first frame (before trim and calibration).
        self.raw_start_s: float | None = None
        self.error: BaseException | None = None
        #: One line once the input was lost mid-take (the take keeps what came before), else ``None``.
        self.input_lost: str | None = None
        self._seen_callbacks = 0  # the input's callback count when the writer last saw it change
        self._seen_at = 0.0
        #: The longest the input went without a callback once it flowed (s), as the writer saw it.
        self.max_input_gap_s = 0.0
        self._frames = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._begun = False
        self._skipped = 0
        self._out: list[tuple[float, float]] = []  # (dac time, song s - dac time * tempo)
        self._in: list[tuple[float, float]] = []  # (adc time, ring frame / rate - adc time)
        self._out_seen = self._in_seen = 0
        self._tempo = 1.0
        self._jumped = False

    # -- the app's view --------------------------------------------------------
    @property
    def channels(self) -> int:
        return self.capture.channels

    @property
    def overflows(self) -> int:
        """Input overflows: PortAudio's ``input_overflow`` flags plus blocks the ring dropped."""
        return self.capture.input_overflows + self.capture.ring.overflows

    @property
    def recorded_frames(self) -> int:
        """Frames in the take so far (after trimming)."""
        return self._frames

    @property
    def recorded_s(self) -> float:
        return self._frames / self.sample_rate

    def level(self) -> float:
        """The input's peak level (0..1) since the previous call, for a meter."""
        return self.capture.ring.take_peak()

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Open the input and start recording.

        Raises:
            NoInputDevice: The input refused; nothing was recorded or stored.
        """
        self.engine.tap = self.clock
        try:
            self.capture.start()
        except BaseException:
            self.engine.tap = None
            raise
        self._thread = threading.Thread(target=self._writer, name="stemtui-take-writer", daemon=True)
        self._thread.start()

    def stop(self) -> Any:
        """End the take: the rest of the ring is written, then the sink finishes it (a Take, for the store).

        Returns ``None`` if nothing was recorded (the sink is left untouched).
        Raises what the writer hit (a full disk: ``WriteFailed``), after discarding.
        """
        self._end()
        if self.error is not None:
            self.sink.discard()
            raise self.error
        if not self._begun:
            return None
        return self.sink.finish(self.start_s if self.start_s is not None else 0.0)

    def discard(self) -> None:
        """End the take and throw it away."""
        self._end()
        if self._begun:
            self.sink.discard()

    def _end(self) -> None:
        self.capture.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.engine.tap is self.clock:
            self.engine.tap = None

    # -- the writer thread -------------------------------------------------------
    def _writer(self) -> None:
        try:
            self._drain()
        except BaseException as exc:  # noqa: BLE001 - handed to stop()
            self.error = exc
            self.done.set()

    # -- where the take sits in song time ---------------------------------------
    # Each steady output block gives out = song s - dac time * tempo, each
    # input block inp = ring frame / rate - adc time; the song time of ring
    # frame 0 is then out - inp * tempo. Both are sampled all along the take.
    def _collect(self) -> None:
        """Gather the clocks' new anchors as ``(time, offset)`` pairs (writer thread)."""
        mixer = self.engine.mixer
        tempo = float(mixer.tempo) if mixer is not None else 1.0
        n = self.clock.count
        new = min(n - self._out_seen, ANCHORS)
        self._out_seen = n
        if new > 0 and not self._jumped:
            rows = self.clock.snapshot()[-new:]
            steady = steady_mask(rows, tempo)
            if self._out or steady.any():
                # Once the song played steadily, a block that is not steady is
                # a loop wrap, a seek or a pause: song time jumps there, and
                # the take is placed by what came before it.
                start = 0 if self._out else int(np.argmax(steady))
                broken = np.flatnonzero(~steady[start:])
                if broken.size:
                    self._jumped = True
                    rows = rows[start : start + int(broken[0])]
                else:
                    rows = rows[start:]
            else:
                rows = rows[:0]
            self._out.extend(
                zip(rows[:, 2].tolist(), (rows[:, 0] / self.sample_rate - rows[:, 2] * tempo).tolist(), strict=True)
            )
        n = self.capture.anchor_count
        new = min(n - self._in_seen, ANCHORS)
        self._in_seen = n
        if new > 0:
            rows = self.capture.anchors_snapshot(monotonic=bool(self.engine.null))[-new:]
            self._in.extend(
                zip(rows[:, 1].tolist(), (rows[:, 0] / self.sample_rate - rows[:, 1]).tolist(), strict=True)
            )
        self._tempo = tempo

    def _estimates(self, out: list[tuple[float, float]]) -> np.ndarray:
        """Song time of ring frame 0 from each output anchor and the input anchor nearest it in time."""
        o = np.array(out)
        i = np.array(self._in)
        if len(i) >= 2 * SMOOTH + 1:
            # A running median over ~0.4 s: the adc times jitter by a few ms block to block.
            win = np.lib.stride_tricks.sliding_window_view(i[:, 1], 2 * SMOOTH + 1)
            i[SMOOTH:-SMOOTH, 1] = np.median(win, axis=1)
        j = np.clip(np.searchsorted(i[:, 0], o[:, 0]), 1, len(i) - 1) if len(i) > 1 else np.zeros(len(o), int)
        if len(i) > 1:
            j = np.where(np.abs(i[j - 1, 0] - o[:, 0]) < np.abs(i[j, 0] - o[:, 0]), j - 1, j)
        return o[:, 1] - i[j, 1] * self._tempo

    def _song_time_of_frame0(self, final: bool) -> float | None:
        """The uncompensated song time of the ring's frame 0, or ``None`` while it can't be told.

        At the start (``final`` false) from the first :data:`FIRST_BLOCKS`
        steady output blocks; at the end from all of them, by the value
        that held longest over the take (:func:`~.latency.dominant`).
        """
        if not self._in:
            return None
        if not self._out:
            if not final:
                return None
            mixer = self.engine.mixer
            return (mixer.position if mixer is not None else 0) / self.sample_rate  # never played steadily
        if final:
            return dominant(self._estimates(self._out))
        if len(self._out) < FIRST_BLOCKS and not (self._stop.is_set() or self._jumped):
            return None
        return float(np.median(self._estimates(self._out[:FIRST_BLOCKS])))

    def _check_input(self, now: float) -> bool:
        """Whether the input is lost (then :attr:`input_lost` says why, and no more blocks are taken)."""
        cap = self.capture
        if self.input_lost is None:
            n = cap.callbacks
            if n != self._seen_callbacks:
                if self._seen_callbacks >= STEADY_CALLBACKS:
                    self.max_input_gap_s = max(self.max_input_gap_s, now - self._seen_at)
                self._seen_callbacks, self._seen_at = n, now
            why = cap.ended
            if why is None and n >= STEADY_CALLBACKS and now - self._seen_at > INPUT_STALL_S:
                why = f"no audio from it for {now - self._seen_at:.1f} s"
            if why is None:
                return False
            cap.close_input()
            self.input_lost = f"{cap.name}: input lost ({why})"
            self.done.set()
        return True

    def _drain(self) -> None:
        ring = self.capture.ring
        chunk = np.zeros((max(self.sample_rate // 4, 1), self.channels), dtype=np.float32)
        pending: list[np.ndarray] = []
        skip = 0
        last_sync = self._seen_at = time.monotonic()
        while True:
            stopping = self._check_input(time.monotonic()) or self._stop.is_set()
            self._collect()
            n = ring.read_into(chunk)
            if not self._begun:
                if n:
                    pending.append(chunk[:n].copy())
                urgent = stopping or sum(p.shape[0] for p in pending) > 30 * self.sample_rate
                raw = self._song_time_of_frame0(final=urgent)
                if raw is not None:
                    self.raw_start_s = raw
                    start = raw + self.calibration_s
                    if self.min_start_s is not None and start < self.min_start_s:
                        skip = round((self.min_start_s - start) * self.sample_rate)
                    self._skipped = skip
                    self.start_s = start + skip / self.sample_rate
                    self.sink.begin(self.start_s, self.sample_rate, self.channels)
                    self._begun = True
                    for p in pending:
                        skip = self._emit(p, skip)
                    pending.clear()
            elif n:
                skip = self._emit(chunk[:n], skip)
            now = time.monotonic()
            if self._begun and now - last_sync >= SYNC_S:
                self.sink.sync()
                last_sync = now
            if self.max_frames is not None and self._frames >= self.max_frames:
                self.done.set()
            if stopping and ring.available == 0 and (self._begun or not pending):
                break
            if n < chunk.shape[0]:
                time.sleep(POLL_S)
        if self._begun:
            # Placed by the clock offsets that held longest over the whole take.
            raw = self._song_time_of_frame0(final=True)
            if raw is not None:
                self.raw_start_s = raw
                self.start_s = raw + self.calibration_s + self._skipped / self.sample_rate

    def _emit(self, frames: np.ndarray, skip: int) -> int:
        """Write ``frames`` less the first ``skip`` and past ``max_frames``; the skip still to do."""
        if skip >= frames.shape[0]:
            return skip - frames.shape[0]
        frames = frames[skip:]
        if self.max_frames is not None:
            frames = frames[: max(0, self.max_frames - self._frames)]
        if frames.shape[0]:
            self.sink.write(frames)
            self._frames += frames.shape[0]
        return 0
