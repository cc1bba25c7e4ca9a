"""The audio engine: a sounddevice output stream (or a paced null stream) for a mixer.

The engine owns the device side: picking the device, matching the song's
sample rate to it (resampling once at load), counting underruns and the
largest gap between two callbacks. The mixing itself is :class:`Mixer`'s.

With no output device at all (a headless host over SSH, no PortAudio) the
engine falls back to a *null* stream: a thread that pulls blocks at the
real-time pace and throws them away, so the transport, meters and UI behave
exactly as with a speaker. ``Engine.notice`` then says why there is no sound.

Failures are never silent. An exception in the callback plays that block
as silence and is counted, with its one-line description. A stream that ends
unasked or whose callbacks stop goes to :mod:`.devicewatch` (position held,
reopened every second, the default device or null output offered after 5 s,
each step one line: :meth:`Engine.take_device_events`). :meth:`Engine.faults`
says it all. Gaps are measured with start-up apart (:attr:`Engine.startup_s`,
:attr:`Engine.steady_max_gap_ms`).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import numpy as np

from stemtui.core.audio.devices import OutputDevice, list_output_devices, resolve_device
from stemtui.core.audio.devices import sounddevice_module as _sounddevice
from stemtui.core.audio.devicewatch import DeviceWatch, GapStats
from stemtui.core.audio.faults import describe
from stemtui.core.audio.mixer import Mixer
from stemtui.core.audio.realtime import NullTime, promote_audio_helpers, try_realtime
from stemtui.core.audio.song import Song
from stemtui.core.errors import NoOutputDevice

__all__ = ["DEFAULT_BLOCKSIZE", "Engine", "OutputDevice", "list_output_devices", "resolve_device"]

DEFAULT_BLOCKSIZE = 512


class Engine:
    """Plays one song at a time through a device, or silently when there is none.

    Args:
        device: Device index or name; ``None`` for the default.
        blocksize: Frames per callback.
        null: Use the paced null stream even if a device exists (tests,
            ``--device null``).
    """

    def __init__(self, device: str | int | None = None, blocksize: int = DEFAULT_BLOCKSIZE, null: bool = False):
        self.device_spec = device
        self.blocksize = blocksize
        self.null = null or device == "null"
        self.mixer: Mixer | None = None
        #: One line saying why there is no sound (the engine then plays
        #: silently through the null stream), or ``None``.
        self.notice: str | None = None
        self.device_name = "null (no sound)" if self.null else ""
        self.sample_rate = 0
        self._stream: Any = None  # a sounddevice.OutputStream
        self._null: tuple[threading.Thread, threading.Event] | None = None
        self._null_lock = threading.Lock()
        # [underruns, callbacks, callback errors]; written by the audio
        # thread, read by the UI without locks. The gaps likewise.
        self._counts = np.zeros(3, dtype=np.int64)
        self._last_error: str | None = None
        self._lost: str | None = None
        self._end_reason = ""
        # Bumped whenever a stream is started or stopped, on purpose or by
        # the device watch: a finished callback from an older generation is
        # not news. The lock guards it and _stream (never held while PortAudio
        # may block).
        self._generation = 0
        self._lock = threading.Lock()
        self._device_index = -1
        #: Gaps between callbacks, start-up and steady state apart.
        self.gaps = GapStats()
        #: The thread that notices a lost device and reopens it.
        self.watch = DeviceWatch(self)
        # Exceptions the callback lets through to PortAudio: they end the
        # stream on purpose (sounddevice's CallbackStop/CallbackAbort).
        self._passthrough: tuple[type[BaseException], ...] = ()
        self._rt_tried = False
        #: Whether the audio thread got real-time scheduling (needs privileges).
        self.realtime = False
        #: ``tap(frames, time_info)``, called by the callback after each mixed block (the recorder's
        #: song clock; on the null stream ``time_info`` is a ``NullTime``). It must not allocate or block.
        self.tap: Any = None

    # -- stats -------------------------------------------------------------
    @property
    def underruns(self) -> int:
        """Callbacks that reported an output underflow."""
        return int(self._counts[0])

    @property
    def callbacks(self) -> int:
        """Callbacks so far."""
        return int(self._counts[1])

    @property
    def max_gap_ms(self) -> float:
        """Largest time between two callbacks, in ms, stream start-up included (buffers can hide it)."""
        return self.gaps.max_gap * 1000.0

    @property
    def startup_s(self) -> float:
        """The stream's start-up: first callback to steady callbacks at the period, in s."""
        return self.gaps.startup

    @property
    def steady_max_gap_ms(self) -> float:
        """Largest time between two callbacks after start-up, in ms: the steady-state health figure."""
        return self.gaps.steady_max_gap * 1000.0

    def wait_started(self, timeout: float) -> float | None:
        """Wait until the stream's start-up is over; the ``time.monotonic()`` audio began to flow at its period.

        The null stream flows at once. ``None`` on timeout.
        """
        if self.null:
            return time.monotonic()
        deadline = time.monotonic() + timeout
        while not self.gaps.steady:
            if time.monotonic() >= deadline or self._lost:
                return None
            time.sleep(0.01)
        return time.monotonic() - (time.perf_counter() - self.gaps.steady_since)

    @property
    def device_lost_for(self) -> float | None:
        """Seconds since the device was lost, or ``None`` while it plays."""
        return self.watch.lost_for

    @property
    def fallback_offered(self) -> bool:
        """Whether the device has been lost long enough to offer :meth:`use_fallback`."""
        return self.watch.lost_since is not None and self.watch.offered

    def use_fallback(self, kind: str) -> None:
        """While the device is lost, play on ``"default"`` (the default device) or ``"null"`` (no sound)."""
        if kind not in ("default", "null"):
            raise ValueError(kind)
        self.watch.choose(kind)

    def take_device_events(self) -> list[tuple[str, str]]:
        """``(severity, line)`` about the device (lost, back, still gone) since the last call."""
        return self.watch.take_events()

    @property
    def output_latency(self) -> float:
        """PortAudio's reported output latency of the open stream, in s (0 for the null stream)."""
        stream = self._stream
        return float(stream.latency) if stream is not None else 0.0

    @property
    def callback_errors(self) -> int:
        """Callbacks that raised (each played a block of silence) since :meth:`load`."""
        return int(self._counts[2])

    @property
    def last_callback_error(self) -> str | None:
        """One line describing the latest exception in the callback, or ``None``."""
        return self._last_error

    @property
    def stream_lost(self) -> str | None:
        """One line if the stream ended without being stopped (since :meth:`load`), else ``None``."""
        return self._lost

    def faults(self) -> list[str]:
        """What went wrong in the audio path since :meth:`load`, one line each (empty: nothing)."""
        lines = []
        n = self.callback_errors
        if n:
            times = "once" if n == 1 else f"{n} times"
            lines.append(f"audio callback failed {times}, playing silence meanwhile (last: {self._last_error})")
        if self._lost:
            lines.append(self._lost)
        w = self.watch
        if w.history:
            n = len(w.history)
            lines.append(
                f"audio device lost {'once' if n == 1 else f'{n} times'} and regained: {'; '.join(w.history[-3:])}"
            )
        lost_for = w.lost_for
        if lost_for is not None:
            lines.append(f"audio device lost ({w.lost_reason}) and not regained within {lost_for:.0f} s")
        elif w.gave_up:
            lines.append(w.gave_up)
        return lines

    # -- lifecycle -----------------------------------------------------------
    def load(self, song: Song, xfade_ms: float | None = None) -> Mixer:
        """Stop any current song, prepare ``song`` for the device, start the stream.

        The stream runs from here on; the mixer starts paused.

        Returns:
            The mixer that now feeds the output; drive playback through it.

        Raises:
            NoOutputDevice: Only if ``strict`` playback was asked and no device exists.
        """
        self.stop_stream()
        if self.mixer is not None:
            self.mixer.close()  # the previous song's tempo workers
        sr = song.sample_rate
        dev = None
        if not self.null:
            try:
                dev = resolve_device(self.device_spec)
                sr = self._pick_rate(dev, sr)
            except NoOutputDevice as exc:
                self.notice = str(exc)
                self.null = True
                self.device_name = "null (no sound)"
        if sr != song.sample_rate:
            if not song.complete.is_set():
                song.complete.wait()
            song = song.resampled(sr)
        self.mixer = Mixer(song) if xfade_ms is None else Mixer(song, xfade_ms)
        self.sample_rate = sr
        self._counts[:] = 0
        self.gaps.reset(self.blocksize / sr)
        self.watch.history.clear()
        self.watch.gave_up = None
        self._last_error = self._lost = None
        self._end_reason = ""
        self._rt_tried = self.null  # the null stream's thread needs no priority
        if self.null or dev is None:
            self._start_null(sr)
        else:
            self._start_device(dev, sr)
        return self.mixer

    def _pick_rate(self, dev: OutputDevice, sr: int) -> int:
        sd = _sounddevice()
        try:
            sd.check_output_settings(device=dev.index, samplerate=sr, channels=2, dtype="float32")
            return sr
        except Exception:  # noqa: BLE001 - PortAudio: any refusal means "not this rate"
            # The device can't run at the song's rate: resample once at load.
            return int(dev.default_samplerate)

    def _open_stream(self, index: int, sr: int, gen: int) -> Any:
        """Open and start an output stream whose finished callback reports as ``gen``."""
        sd = _sounddevice()
        self._passthrough = (sd.CallbackStop, sd.CallbackAbort)
        stream = sd.OutputStream(
            device=index,
            samplerate=sr,
            channels=2,
            dtype="float32",
            blocksize=self.blocksize,
            callback=self.callback,
            finished_callback=lambda: self._finished(gen),
        )
        stream.start()
        promote_audio_helpers()
        return stream

    def _start_device(self, dev: OutputDevice, sr: int) -> None:
        with self._lock:
            self._generation += 1
            gen = self._generation
        try:
            stream = self._open_stream(dev.index, sr, gen)
        except Exception as exc:  # noqa: BLE001 - PortAudio errors are plain exceptions
            raise NoOutputDevice(f"{dev.name}: cannot open output ({exc})") from None
        with self._lock:
            self._stream = stream
        self.device_name = dev.name
        self._device_index = dev.index
        self.watch.start()

    def _start_null(self, sr: int) -> None:
        self._generation += 1  # under self._lock when the device watch calls it
        # Like a device's stream, the null stream ends on CallbackStop/Abort;
        # no need to import sounddevice (PortAudio) for that if nobody has.
        sd = sys.modules.get("sounddevice")
        self._passthrough = (sd.CallbackStop, sd.CallbackAbort) if sd is not None else ()
        # Its own stop event, published once started: a stop on another thread never joins an unstarted one.
        stop = threading.Event()
        thread = threading.Thread(target=self._null_loop, args=(sr, stop), name="stemtui-null-audio", daemon=True)
        thread.start()
        with self._null_lock:
            old, self._null = self._null, (thread, stop)
        if old is not None:
            old[1].set()  # never two null threads

    def _null_loop(self, sr: int, stop: threading.Event) -> None:
        buf = np.zeros((self.blocksize, 2), dtype=np.float32)
        period = self.blocksize / sr
        deadline = time.monotonic()
        gen = self._generation
        stamp = NullTime()  # the block's scheduled time, for the recorder's song clock
        try:
            while not stop.is_set():
                stamp.outputBufferDacTime, stamp.currentTime = deadline, time.monotonic()
                deadline += period
                self.callback(buf, self.blocksize, stamp, None)
                delay = deadline - time.monotonic()
                if delay > 0:
                    stop.wait(delay)
                elif delay < -0.5:
                    deadline = time.monotonic()  # we were suspended: don't race to catch up
        except self._passthrough:
            pass  # the callback ended the stream, as it can end a device's
        finally:
            if not stop.is_set():
                self._finished(gen)

    def _finished(self, generation: int) -> None:
        """The stream's finished callback: record an end nobody asked for.

        The callback ending it (CallbackStop/Abort) or the null stream ending
        is final; a device stream that ends otherwise was lost, and the device
        watch takes over.
        """
        if generation != self._generation or self._lost is not None:
            return
        if self._end_reason or self._stream is None:
            why = f" ({self._end_reason})" if self._end_reason else ""
            self._lost = f"the audio stream stopped by itself{why}; no sound until the song is reopened"
        else:
            self.watch.ended()

    def callback(self, outdata, frames, time_info, status) -> None:  # noqa: ARG002
        """The audio callback: counters, then the mixer. No allocation, no locks.

        Also what the null stream calls; tests and benchmarks drive it directly.
        An exception never reaches PortAudio (that would end the stream): the
        block plays silence, and :attr:`callback_errors` and
        :attr:`last_callback_error` record it. Only sounddevice's
        ``CallbackStop``/``CallbackAbort`` pass, to end the stream on purpose.
        """
        try:
            self._run_callback(outdata, status, time_info)
        except self._passthrough as exc:
            self._end_reason = f"{type(exc).__name__} in the audio callback"
            raise
        except Exception as exc:  # noqa: BLE001 - reported through faults(); the stream must live
            self._fault(outdata, exc)

    def _fault(self, outdata, exc: Exception) -> None:
        """The callback's error path (it may allocate): silence, count, remember one line."""
        outdata.fill(0.0)
        self._counts[2] += 1
        self._last_error = describe(exc)
        mixer = self.mixer
        if mixer is not None:
            mixer.recover()

    def _run_callback(self, outdata, status, time_info) -> None:
        if not self._rt_tried:
            # Once, on the audio thread itself: ask for real-time scheduling so
            # a busy machine (a separation on every core) can't delay us.
            self._rt_tried = True
            self.realtime = try_realtime()
        if status is not None and status.output_underflow:
            self._counts[0] += 1
        self._counts[1] += 1
        self.gaps.tick(time.perf_counter())
        mixer = self.mixer
        if mixer is None:
            outdata.fill(0.0)
        else:
            mixer.process(outdata)
            tap = self.tap  # read once: the recorder may clear it meanwhile
            if tap is not None:
                tap(outdata.shape[0], time_info)

    def stop_stream(self) -> None:
        """Stop and close the current stream, if any."""
        with self._lock:
            self._generation += 1  # asked for: its finished callback reports nothing
            stream, self._stream = self._stream, None
        self.watch.forget()
        if stream is not None:
            stream.stop()
            stream.close()
        with self._null_lock:
            null, self._null = self._null, None
        if null is not None:
            null[1].set()
            if null[0] is not threading.current_thread():
                null[0].join(timeout=2)

    def close(self) -> None:
        """Release the device and the mixer's tempo workers. Safe to call twice."""
        self.watch.close()
        self.stop_stream()
        if self.mixer is not None:
            self.mixer.close()
        self.mixer = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
