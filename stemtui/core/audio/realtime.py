"""Real-time scheduling for the audio path (Linux SCHED_FIFO, where allowed).

A busy machine (a separation on every core) must not delay the audio
callback, nor the sound server's client thread it waits on. Without the
privilege (rtkit-less desktops) nothing changes and nothing fails.
"""

from __future__ import annotations

import os

#: SCHED_FIFO priority for the audio thread, below the kernel's IRQ threads (50).
REALTIME_PRIORITY = 20


def try_realtime() -> bool:
    """Give the calling thread SCHED_FIFO priority if allowed; never raises."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
        return True
    except (AttributeError, OSError):
        return False  # not Linux, or no privilege (rtkit-less desktops): fine


#: Threads that sound servers' client libraries start inside our process and
#: that the audio path waits on: PulseAudio's mainloop (ALSA ``pulse`` plugin).
AUDIO_HELPER_THREADS = ("threaded-ml",)


def promote_audio_helpers() -> int:
    """Give sound-server client threads in this process real-time priority.

    PortAudio's callback thread is only woken when the PulseAudio client's
    mainloop thread has talked to the server; under full CPU load (a
    separation on every core) that thread, left at normal priority, was
    late by 40–140 ms and caused underruns. Returns how many were promoted.
    """
    done = 0
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return 0
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/comm") as fh:
                name = fh.read().strip()
            if name in AUDIO_HELPER_THREADS:
                os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
                done += 1
        except (AttributeError, OSError, ValueError):
            continue
    return done


class NullTime:
    """The ``time_info`` a paced null stream passes its callback, reused for every block.

    Its times are the block's *scheduled* times on ``time.monotonic()``'s
    clock, not when the thread happened to run: a null stream that a busy
    machine delays still stamps each block where it belongs, so a take
    recorded through the null engine is placed exactly.
    """

    __slots__ = ("currentTime", "inputBufferAdcTime", "outputBufferDacTime")

    def __init__(self) -> None:
        self.currentTime = 0.0
        self.inputBufferAdcTime = 0.0
        self.outputBufferDacTime = 0.0
