"""Watching the output device: callback gaps, a lost or stalled stream, reopening it.

:class:`GapStats` is what the audio callback updates (no allocation, no
locks): the largest gap between two callbacks, split at the end of the
stream's *start-up*. A PulseAudio stream stalls once, for 0.8–1.9 s, within
its first callbacks, then calls back at its period: the start-up ends where
the first run of :data:`STEADY_RUN_S` of callbacks at the period begins (at
the latest :data:`STARTUP_MAX_S` after the first callback), and the
*steady* max gap is the largest gap after that.

:class:`DeviceWatch` is a thread beside the stream. It notices a stream that
ended unasked (told by the engine's finished callback) or whose callbacks
stopped for over :data:`STALL_S` after start-up (:data:`STARTUP_STALL_S`
during it). It then holds the position (no callbacks, so the mixer does not
move), says so in one line, and tries to reopen the same device every
:data:`RETRY_S` (found again by its name: PortAudio's list is re-read, see
:meth:`DeviceWatch._find_device`). After :data:`OFFER_AFTER_S` it offers the default device or
the null output (:meth:`Engine.use_fallback`). Opening or aborting a stream
may block while the sound server is stuck: that happens on this thread only,
and how long the device has been lost is measured by the clock, not by it.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from stemtui.core.audio.engine import Engine

#: Callbacks that stop for longer than this (after start-up) mean a stalled device.
STALL_S = 1.0
#: During start-up the stream may stall once for up to ~2 s; only longer is a stall.
STARTUP_STALL_S = 4.0
#: Seconds between two attempts to reopen a lost device.
RETRY_S = 1.0
#: After this long without the device, the default device or the null output is offered.
OFFER_AFTER_S = 5.0
#: How long headless ``play`` waits for a lost device before it gives up (exit 1).
GIVE_UP_S = 10.0
#: Start-up ends where this long a run of callbacks at the period begins.
STEADY_RUN_S = 1.0
#: ... or this long after the first callback, whatever came before.
STARTUP_MAX_S = 5.0
#: A gap up to this many periods counts as "at the period".
ON_PERIOD = 2.5

# Slots of GapStats._t (seconds, perf_counter clock).
_MAX, _LAST, _FIRST, _STARTUP, _STEADY_MAX, _RUN_START, _RUN_MAX = range(7)
# Slots of GapStats._n.
_RUN, _STEADY = range(2)


class GapStats:
    """Gaps between callbacks, start-up and steady state apart; updated by the callback.

    Args:
        period: Seconds per callback (block size / sample rate).
    """

    def __init__(self, period: float = 512 / 44100) -> None:
        self._t = np.zeros(7, dtype=np.float64)
        self._n = np.zeros(2, dtype=np.int64)
        self.reset(period)

    def reset(self, period: float) -> None:
        """Forget everything (a new song, a new stream)."""
        self.period = period
        self._on = ON_PERIOD * period
        self._run_needed = max(2, round(STEADY_RUN_S / period))
        self._t[:] = 0.0
        self._n[:] = 0

    def restart(self) -> None:
        """A reopened stream: measure its start-up again; keep the figures so far."""
        self._t[_LAST] = self._t[_FIRST] = self._t[_RUN_START] = self._t[_RUN_MAX] = 0.0
        self._n[:] = 0

    def tick(self, now: float) -> None:
        """One callback at ``now`` (``time.perf_counter()``); runs on the audio thread."""
        t, n = self._t, self._n
        last = t[_LAST]
        t[_LAST] = now
        if last == 0.0:
            t[_FIRST] = now
            return
        gap = now - last
        if gap > t[_MAX]:
            t[_MAX] = gap
        if n[_STEADY]:
            if gap > t[_STEADY_MAX]:
                t[_STEADY_MAX] = gap
            return
        if gap <= self._on:
            if n[_RUN] == 0:
                t[_RUN_START], t[_RUN_MAX] = last, gap
            elif gap > t[_RUN_MAX]:
                t[_RUN_MAX] = gap
            n[_RUN] += 1
            if n[_RUN] >= self._run_needed:
                self._steady(t[_RUN_START], t[_RUN_MAX])
                return
        else:
            n[_RUN] = 0
        if now - t[_FIRST] >= STARTUP_MAX_S:
            self._steady(now, 0.0)

    def _steady(self, since: float, run_max: float) -> None:
        t = self._t
        t[_STARTUP] = max(t[_STARTUP], since - t[_FIRST])
        t[_STEADY_MAX] = max(t[_STEADY_MAX], run_max)
        t[_RUN_START] = since
        self._n[_STEADY] = 1

    @property
    def last(self) -> float:
        """``perf_counter`` time of the latest callback (0: none yet)."""
        return float(self._t[_LAST])

    @property
    def steady(self) -> bool:
        """Whether the current stream's start-up is over."""
        return bool(self._n[_STEADY])

    @property
    def steady_since(self) -> float:
        """``perf_counter`` time the steady state began (0: not yet)."""
        return float(self._t[_RUN_START]) if self._n[_STEADY] else 0.0

    @property
    def max_gap(self) -> float:
        """Largest gap between two callbacks, start-up included (s)."""
        return float(self._t[_MAX])

    @property
    def startup(self) -> float:
        """First callback to steady state (s), the longest of the streams so far; 0 until steady."""
        return float(self._t[_STARTUP])

    @property
    def steady_max_gap(self) -> float:
        """Largest gap between two callbacks after start-up (s)."""
        return float(self._t[_STEADY_MAX])


class DeviceWatch:
    """The thread that notices a lost or stalled device stream and reopens it.

    The engine calls :meth:`ended` from the stream's finished callback and
    :meth:`forget` whenever it starts or stops a stream on purpose.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._wake = threading.Event()
        self._quit = threading.Event()
        self._ended = threading.Event()
        self._thread: threading.Thread | None = None
        self._events: deque[tuple[str, str]] = deque(maxlen=50)
        #: One line per loss that was told (for :meth:`Engine.faults`).
        self.history: list[str] = []
        self.lost_since: float | None = None
        self.lost_reason = ""
        self.offered = False
        self.gave_up: str | None = None
        self._choice: str | None = None
        self._lost_gen = -1
        self.lost_name = ""  # the device that was lost: found again by its name

    # -- the engine's side --------------------------------------------------------
    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="stemtui-devicewatch", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread; it may be stuck in PortAudio, so it is not waited for long."""
        self._quit.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
            if thread.is_alive():
                # Stuck in PortAudio (aborting or opening a stream on a sound
                # server that does not answer): sounddevice's exit handler
                # (Pa_Terminate) would wait for that stream forever, so the
                # process could never exit. The OS releases it instead.
                handler = getattr(sys.modules.get("sounddevice"), "_exit_handler", None)
                if handler is not None:
                    atexit.unregister(handler)

    def ended(self) -> None:
        """The device stream ended unasked (called on PortAudio's thread)."""
        self._ended.set()
        self._wake.set()

    def forget(self) -> None:
        """A stream was started or stopped on purpose: any loss is over (and kept in :attr:`gave_up`)."""
        lost_for = self.lost_for
        if lost_for is not None:
            self.gave_up = f"audio device lost ({self.lost_reason}) and not regained within {lost_for:.0f} s"
        self._ended.clear()
        self.lost_since = None
        self.offered = False
        self._choice = None

    def choose(self, kind: str) -> None:
        """Reopen on ``"default"`` (the default device) or ``"null"`` (no sound) instead."""
        self._choice = kind
        self._wake.set()

    def take_events(self) -> list[tuple[str, str]]:
        """``(severity, line)`` told since the last call."""
        out = []
        while self._events:
            out.append(self._events.popleft())
        return out

    @property
    def lost_for(self) -> float | None:
        """Seconds since the device was lost, or ``None`` while it plays."""
        since = self.lost_since
        return None if since is None else time.monotonic() - since

    # -- the thread -----------------------------------------------------------------
    def _tell(self, severity: str, line: str) -> None:
        self._events.append((severity, line))

    def _run(self) -> None:
        next_try = 0.0
        while not self._quit.is_set():
            self._wake.wait(0.1)
            self._wake.clear()
            if self._quit.is_set():
                return
            if self.lost_since is None:
                why = self._why_lost()
                if why:
                    self._lose(why)
                    next_try = time.monotonic() + RETRY_S
                continue
            lost_for = self.lost_for or 0.0
            if lost_for >= OFFER_AFTER_S and not self.offered:
                self.offered = True
                self._tell("warning", f"audio device still gone after {OFFER_AFTER_S:.0f} s: {self.lost_reason}")
            if self._choice is not None or time.monotonic() >= next_try:
                self._try_reopen()
                next_try = time.monotonic() + RETRY_S

    def _why_lost(self) -> str:
        eng = self.engine
        if eng.stream_lost:
            return ""  # ended for good by its callback (CallbackStop/Abort): nothing to reopen
        if self._ended.is_set():
            self._ended.clear()
            return "the stream ended" if eng._stream is not None else ""
        last = eng.gaps.last
        if not last or eng._stream is None:
            return ""
        limit = STALL_S if eng.gaps.steady else STARTUP_STALL_S
        quiet = time.perf_counter() - last
        return f"no callback for {quiet:.1f} s" if quiet > limit else ""

    def _lose(self, why: str) -> None:
        eng = self.engine
        quiet = max(0.0, time.perf_counter() - eng.gaps.last) if eng.gaps.last else 0.0
        self.lost_since = time.monotonic() - quiet
        self.lost_reason = f"{eng.device_name}: {why}"
        self.lost_name = eng.device_name
        self.offered = False
        self._choice = None
        self._lost_gen = self._detach()  # aborts the stream; may block while the server is stuck
        self._tell(
            "error",
            f"audio device lost ({self.lost_reason}); holding at {self._position()}, retrying every second",
        )

    def _try_reopen(self) -> None:
        choice, self._choice = self._choice, None
        try:
            name = self._reopen(self._lost_gen, choice)
        except Exception as exc:  # noqa: BLE001 - PortAudio errors are plain exceptions; try again later
            if choice is not None:
                self._tell("error", f"cannot switch to the {choice} output: {str(exc).splitlines()[0][:200]}")
            return
        if name is None:
            self.lost_since = None  # the engine started or stopped a stream meanwhile
            return
        lost_for = self.lost_for or 0.0
        self.history.append(f"{self.lost_reason} ({lost_for:.1f} s)")
        self.lost_since = None
        self.offered = False
        what = f"audio device back ({name})" if choice is None else f"audio switched to {name}"
        self._tell("information", f"{what} after {lost_for:.1f} s; playing on from {self._position()}")

    # -- the engine's stream, swapped under its lock (never held while PortAudio may block)
    def _position(self) -> str:
        from stemtui.core.timefmt import format_time

        m = self.engine.mixer
        return format_time(m.position / m.sample_rate) if m is not None else "0:00"

    def _detach(self) -> int:
        """Drop the engine's device stream, aborting it (may block); returns the new generation."""
        eng = self.engine
        with eng._lock:
            eng._generation += 1
            gen, stream, eng._stream = eng._generation, eng._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # noqa: BLE001 - the device is gone: nothing left to release
                pass
        return gen

    def _reopen(self, gen: int, choice: str | None) -> str | None:
        """Open the lost device again (or ``choice``: ``"default"``/``"null"``) if still at ``gen``.

        Returns the device's name, or ``None`` if the engine started or
        stopped a stream meanwhile. Raises what PortAudio raises.
        """
        from stemtui.core.audio.devices import list_output_devices, resolve_device

        eng = self.engine
        if gen != eng._generation:
            return None
        eng.gaps.restart()
        if choice == "null":
            with eng._lock:
                if gen != eng._generation:
                    return None
                eng.null, eng.device_name = True, "null (no sound)"
                eng._start_null(eng.sample_rate)
            return eng.device_name
        if choice == "default":
            index = resolve_device(None).index
        else:
            index = self._find_device()
        stream = eng._open_stream(index, eng.sample_rate, gen + 1)
        with eng._lock:
            adopted = gen == eng._generation
            if adopted:
                eng._generation, eng._stream, eng._device_index = gen + 1, stream, index
        if not adopted:
            stream.abort()
            stream.close()
            return None
        eng.device_name = next((d.name for d in list_output_devices() if d.index == index), eng.device_name)
        return eng.device_name

    def _find_device(self) -> int:
        """The lost device's index now (it may have moved): PortAudio's list re-read, found by name,
        else the old index. Re-read only while the engine holds no open stream: that closes them all."""
        from stemtui.core.audio.devices import find_again, rescan

        eng = self.engine
        if not self.lost_name:
            self.lost_name = eng.device_name
        rescan(_open_streams(eng))
        return find_again(self.lost_name, eng._device_index)


_STREAM_KINDS = ("Stream", "InputStream", "OutputStream", "RawStream", "RawInputStream", "RawOutputStream")


def _open_streams(engine: Engine) -> int:
    """How many open sounddevice streams the engine holds (as attributes: output, input, any)."""
    sd = sys.modules.get("sounddevice")
    if sd is None:
        return 0
    kinds = tuple(getattr(sd, k) for k in _STREAM_KINDS if hasattr(sd, k))
    return sum(1 for v in vars(engine).values() if isinstance(v, kinds) and not v.closed)


def gap_report(engine: Engine) -> dict[str, float]:
    """The engine's callback-gap figures for benchmarks (the soak's, the latency bench's).

    ``steady_periods`` is the steady max gap in block periods (target ≤ 2).
    """
    period_ms = 1000.0 * engine.gaps.period
    steady = engine.steady_max_gap_ms
    return {
        "startup_s": round(engine.startup_s, 3),
        "steady_max_gap_ms": round(steady, 2),
        "steady_periods": round(steady / period_ms, 2) if period_ms else 0.0,
        "max_gap_ms": round(engine.max_gap_ms, 2),
        "period_ms": round(period_ms, 2),
        "underruns": engine.underruns,
    }
