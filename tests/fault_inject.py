"""Faults for the audio path: a song whose samples raise when the mixer reads them.

:class:`FaultyData` is the song's ``(stems, frames, 2)`` array, except that
the audio thread's read (a slice, ``data[:, a:b]``) raises during chosen
reads: ``arm(n)`` makes the next ``n`` reads raise. It is a real ndarray, so
the real mixer and engine play it like any song.

Run as ``python -m tests.fault_inject --device pulse ...`` to play a 440 Hz
sine through a device and fail while it plays; it prints one JSON line with
what the engine reported (the functional tests record the sink meanwhile).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from stemtui.core.audio.song import Song, SongMeta

SR = 44100
FREQ = 440.0


def stretch_workers(parent: int) -> list[int]:
    """Pids of the stretch worker processes whose parent is ``parent`` (runs' and spares')."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as fh:
                cmd = fh.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"stemtui.core.tempo.renderchild" in cmd:
            pids.append(int(d))
    return pids


class InjectedFault(RuntimeError):
    """What an armed read raises by default."""


class FaultyData(np.ndarray):
    """A song array whose 2-D+ slices raise while armed (see the module docstring)."""

    def __array_finalize__(self, obj) -> None:
        # Views (the slices the mixer makes) are plain: only the base raises.
        self._armed = 0
        self._exc: type[BaseException] = InjectedFault
        self.raised = 0

    def arm(self, n: int = 1, exc: type[BaseException] = InjectedFault) -> None:
        """Make the next ``n`` reads raise ``exc``."""
        self._exc = exc
        self._armed = n

    def __getitem__(self, key):
        if self._armed and isinstance(key, tuple):
            self._armed -= 1
            self.raised += 1
            raise self._exc("injected fault")
        return super().__getitem__(key)


def sine_song(seconds: float, amp: float = 0.3) -> tuple[Song, FaultyData]:
    """A one-stem 440 Hz sine song whose data is a :class:`FaultyData`."""
    t = np.arange(int(seconds * SR)) / SR
    x = (amp * np.sin(2 * np.pi * FREQ * t)).astype(np.float32)
    data = np.ascontiguousarray(np.stack([x, x], axis=1)[None]).view(FaultyData)
    return Song(["sine"], data, SR, SongMeta("faulty sine")), data


def main(argv: list[str]) -> int:
    """Play the sine, fail at ``--fail-at`` seconds, print the engine's report as JSON."""
    import sounddevice as sd

    from stemtui.core.audio.engine import Engine

    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="pulse")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--fail-at", type=float, default=1.5)
    ap.add_argument("--blocks", type=int, default=1, help="reads that raise")
    ap.add_argument("--abort", action="store_true", help="raise sounddevice.CallbackAbort instead")
    args = ap.parse_args(argv)
    song, data = sine_song(args.seconds + 5)
    engine = Engine(device=args.device)
    mixer = engine.load(song)
    mixer.start_at(0)
    t0 = time.monotonic()
    time.sleep(args.fail_at)
    before = engine.callbacks
    pos_fault = mixer.position
    data.arm(args.blocks, sd.CallbackAbort if args.abort else InjectedFault)
    time.sleep(max(0.0, args.seconds - (time.monotonic() - t0)))
    report = {
        "callbacks_before": before,
        "callbacks": engine.callbacks,
        "position_at_fault": pos_fault,
        "position": mixer.position,
        "raised": data.raised,
        "callback_errors": engine.callback_errors,
        "last_callback_error": engine.last_callback_error,
        "stream_lost": engine.stream_lost,
        "underruns": engine.underruns,
    }
    mixer.pause()
    time.sleep(0.1)
    engine.close()
    report["stream_lost_after_close"] = engine.stream_lost
    report["faults"] = engine.faults()
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
