"""The input side of recording: the input device, its stream, and the song clock.

* :func:`resolve_input` finds the input device (``None``: the default one).
* :class:`InputCapture` runs a ``sounddevice.InputStream`` (or, for the
  device-free engine, a paced null input that "records" silence or a given
  array) whose callback copies each block into an :class:`InputRing`, counts
  PortAudio's ``input_overflow`` flags and keeps the capture time of the
  first frame (``inputBufferAdcTime``). A stream that ends unasked (its
  device went away) sets :attr:`InputCapture.ended`; :meth:`InputCapture.close_input`
  makes the callback drop what comes after (the recorder calls it once it
  decided the input was lost).
* :class:`SongClock` is the engine's output tap (``Engine.tap``): after the
  mixer renders a block it notes the song frame the block starts at, how far
  the song advanced, and when the block reaches the speaker
  (``outputBufferDacTime``), into a small preallocated ring of anchors.

Both times are PortAudio stream times, on the monotonic clock for ALSA (and
``time.monotonic()`` for the null streams), so the song time of an input
frame is ``anchor frame / rate + (adc time - dac time) * tempo``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from stemtui.core.audio.devices import sounddevice_module
from stemtui.core.audio.realtime import NullTime
from stemtui.core.errors import BadInput, NoOutputDevice, StemtuiError
from stemtui.core.takes.inputring import InputRing

__all__ = ["InputCapture", "InputDevice", "NoInputDevice", "SongClock", "resolve_input"]

#: Anchors the song clock keeps (about 3 s of 512-frame blocks).
ANCHORS = 256


class NoInputDevice(StemtuiError):
    """No input device to record from (playback still works)."""

    exit_code = 1


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    channels: int  # the most it offers
    default_samplerate: float


def resolve_input(spec: str | int | None) -> InputDevice:
    """The input device named by index, exact name or unique substring; ``None`` for the default.

    Raises:
        NoInputDevice: No input device at all (or no PortAudio).
        BadInput: ``spec`` names no input device, or several.
    """
    try:
        sd = sounddevice_module()
        devices = [
            InputDevice(i, str(d["name"]), int(d["max_input_channels"]), float(d["default_samplerate"]))
            for i, d in enumerate(sd.query_devices())
            if int(d["max_input_channels"]) > 0
        ]
        default = int(sd.default.device[0])
    except NoOutputDevice as exc:
        raise NoInputDevice(str(exc).replace("output", "input")) from None
    except Exception as exc:  # noqa: BLE001 - PortAudio errors are plain exceptions
        raise NoInputDevice(f"no audio input: {exc}") from None
    if not devices:
        raise NoInputDevice("no audio input device found (nothing to record from)")
    if spec is None or spec == "":
        for d in devices:
            if d.index == default:
                return d
        return devices[0]
    text = str(spec)
    if text.isdigit():
        found = [d for d in devices if d.index == int(text)]
        if found:
            return found[0]
        raise BadInput(f"--input {text}", "no input device with that index (see `stemtui devices`)")
    found = [d for d in devices if d.name.lower() == text.lower()] or [
        d for d in devices if text.lower() in d.name.lower()
    ]
    if len(found) == 1 or (found and found[0].name.lower() == text.lower()):
        return found[0]
    if not found:
        raise BadInput(f"--input {text}", "no input device by that name (see `stemtui devices`)")
    names = ", ".join(f"{d.index}: {d.name}" for d in found)
    raise BadInput(f"--input {text}", f"matches several input devices ({names}); use the index")


class SongClock:
    """The engine's output tap: where the song is, and when that reaches the speaker.

    Anchor rows are ``[song frame at the block's start, frames the song
    advanced over the block, dac time of the block's first frame, block
    frames]``; :attr:`count` is how many were written.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.anchors = np.zeros((ANCHORS, 4), dtype=np.float64)
        self._n = np.zeros(1, dtype=np.int64)
        self._prev = np.full(1, -1, dtype=np.int64)

    @property
    def count(self) -> int:
        return int(self._n[0])

    def __call__(self, frames: int, time_info: Any) -> None:
        """Audio thread (after the mixer rendered the block): note one anchor. No allocation."""
        mixer = self.engine.mixer
        if mixer is None:
            return
        end = mixer.position
        prev = self._prev[0]
        self._prev[0] = end
        if time_info is None:
            dac = time.monotonic()
        else:
            dac = time_info.outputBufferDacTime
            if dac <= 0.0:
                dac = time_info.currentTime + self.engine.output_latency
        row = self.anchors[self._n[0] % ANCHORS]
        row[0] = end - (end - prev if prev >= 0 else 0)
        row[1] = end - prev if prev >= 0 else 0
        row[2] = dac
        row[3] = frames
        self._n[0] += 1

    def snapshot(self) -> np.ndarray:
        """The anchors written so far, oldest first (a copy; reader thread)."""
        n = self.count
        a = self.anchors.copy()
        if n <= ANCHORS:
            return a[:n]
        i = n % ANCHORS
        return np.concatenate([a[i:], a[:i]])


class InputCapture:
    """An input stream (device or null) feeding an :class:`InputRing`.

    Args:
        sample_rate: The engine's rate (the input runs at it).
        blocksize: Frames per callback.
        device: An :class:`InputDevice`, or ``None`` for the null input.
        channels: Channels to record (1 or 2).
        ring_seconds: The ring's size.
        feed: For the null input: ``(frames, channels)`` float32 "recorded"
            from the first callback on, then silence; ``None``: silence.
    """

    def __init__(
        self,
        sample_rate: int,
        blocksize: int,
        device: InputDevice | None,
        channels: int,
        ring_seconds: float = 8.0,
        feed: np.ndarray | None = None,
    ) -> None:
        self.sample_rate = int(sample_rate)
        self.blocksize = int(blocksize)
        self.device = device
        self.channels = int(channels)
        self.ring = InputRing(int(ring_seconds * sample_rate), self.channels)
        self.feed = None if feed is None else np.ascontiguousarray(feed, dtype=np.float32).reshape(-1, self.channels)
        # [input overflow flags, callbacks, callback errors]
        self._counts = np.zeros(3, dtype=np.int64)
        #: One line about the latest exception in the input callback, or ``None``.
        self.last_error: str | None = None
        # [adc time of ring frame 0, 1 once set, time.monotonic() - PortAudio's stream time]
        self._first = np.zeros(3, dtype=np.float64)
        # Per block: [ring frame of its first frame, its adc time]; a stall or
        # a dropped block breaks the ring's continuity, so the writer maps
        # the take through an anchor near the song's start, not frame 0's.
        self.anchors = np.zeros((ANCHORS, 2), dtype=np.float64)
        self._n = np.zeros(1, dtype=np.int64)
        self.latency = 0.0  # PortAudio's reported input latency, s
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # 1 while blocks are taken; 0 once the input was given up on.
        self._open = np.ones(1, dtype=np.int64)
        #: Why the stream ended by itself (its device went away), or ``None``.
        self.ended: str | None = None

    @property
    def name(self) -> str:
        return self.device.name if self.device is not None else "null input"

    @property
    def input_overflows(self) -> int:
        """Callbacks PortAudio flagged with ``input_overflow``."""
        return int(self._counts[0])

    @property
    def callbacks(self) -> int:
        return int(self._counts[1])

    def first_adc(self, monotonic: bool = False) -> float | None:
        """The capture time of the ring's frame 0, once a block arrived.

        On the input stream's clock (PortAudio's), or with ``monotonic`` on
        ``time.monotonic()``'s, the null output's clock.
        """
        if not self._first[1]:
            return None
        return float(self._first[0] + (self._first[2] if monotonic else 0.0))

    @property
    def callback_errors(self) -> int:
        return int(self._counts[2])

    def callback(self, indata, frames, time_info, status) -> None:
        """The input callback: flags, first-frame time, one copy into the ring; never raises."""
        try:
            self._run_callback(indata, frames, time_info, status)
        except Exception as exc:  # noqa: BLE001 - an exception would end the stream; count it instead
            self._counts[2] += 1
            self.last_error = f"{type(exc).__name__}: {exc}"

    def _run_callback(self, indata, frames, time_info, status) -> None:
        if not self._open[0]:
            return
        if status is not None and status.input_overflow:
            self._counts[0] += 1
        self._counts[1] += 1
        if time_info is None:
            adc = time.monotonic() - frames / self.sample_rate  # the null input: the block just ended
        else:
            adc = time_info.inputBufferAdcTime
            if adc <= 0.0:  # a host API that does not report it
                adc = time_info.currentTime - self.latency - frames / self.sample_rate
        if not self._first[1]:
            if time_info is not None:
                self._first[2] = time.monotonic() - time_info.currentTime
            self._first[0] = adc
            self._first[1] = 1.0
        row = self.anchors[self._n[0] % ANCHORS]
        row[0] = self.ring.written
        row[1] = adc
        if self.ring.write(indata):
            self._n[0] += 1

    def start(self) -> None:
        """Open and start the stream.

        Raises:
            NoInputDevice: The device refused (one line naming it and why).
        """
        if self.device is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._null_loop, name="stemtui-null-input", daemon=True)
            self._thread.start()
            return
        sd = sounddevice_module()
        try:
            self._stream = sd.InputStream(
                device=self.device.index,
                samplerate=self.sample_rate,
                channels=self.channels,
                dtype="float32",
                blocksize=self.blocksize,
                callback=self.callback,
                finished_callback=self._finished,
            )
            self.latency = float(self._stream.latency)
            self._stream.start()
        except Exception as exc:  # noqa: BLE001 - PortAudio errors are plain exceptions
            self._stream = None
            raise NoInputDevice(f"{self.device.name}: cannot open input ({exc})") from None

    def _finished(self) -> None:
        """PortAudio's finished callback: an end that :meth:`stop` did not ask for is a lost device."""
        if self._stream is not None and self.ended is None:
            self.ended = "the input stream stopped by itself"

    def close_input(self) -> None:
        """Take no more blocks (the input was lost: what it still sends is not the take)."""
        self._open[0] = 0

    @property
    def anchor_count(self) -> int:
        return int(self._n[0])

    def anchors_snapshot(self, monotonic: bool = False) -> np.ndarray:
        """The input anchors so far, oldest first (a copy), on the chosen clock (see :meth:`first_adc`)."""
        n = int(self._n[0])
        a = self.anchors.copy()
        a = a[:n] if n <= ANCHORS else np.concatenate([a[n % ANCHORS :], a[: n % ANCHORS]])
        if monotonic:
            a[:, 1] += self._first[2]
        return a

    def _null_loop(self) -> None:
        f, ch = self.blocksize, self.channels
        block = np.zeros((f, ch), dtype=np.float32)
        period = f / self.sample_rate
        deadline = time.monotonic()
        pos = 0
        feed = self.feed
        stamp = NullTime()  # the block's scheduled times (a late thread still stamps it right)
        while not self._stop.is_set():
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            block.fill(0.0)
            if feed is not None and pos < feed.shape[0]:
                n = min(f, feed.shape[0] - pos)
                np.copyto(block[:n], feed[pos : pos + n])
            pos += f
            stamp.inputBufferAdcTime, stamp.currentTime = deadline - period, time.monotonic()
            self.callback(block, f, stamp, None)

    def stop(self) -> None:
        """Stop and close the stream (safe to call twice)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                # A stalled stream (the input given up on) can take ~20 s to
                # stop; aborting it is instant, and nothing more is wanted from it.
                if self._open[0]:
                    stream.stop()
                else:
                    stream.abort()
                stream.close()
            except Exception:  # noqa: BLE001 - closing a stream whose device went away
                pass
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=2)
            self._thread = None
