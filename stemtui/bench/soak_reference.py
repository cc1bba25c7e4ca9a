"""The soak's reference stream: a bare output stream beside the player, on the same server.

``python -m stemtui.bench.soak_reference`` opens the ``pulse`` device as the
engine does (float32 stereo, 512 frames, the default latency, SCHED_FIFO on
the callback thread, the PulseAudio client thread promoted) with a callback
that only writes zeros, and counts what the engine counts: callbacks,
underruns, and the largest gap between callbacks after start-up. It runs
until its stdin closes, then prints one JSON line.

It has nothing to do: no mixing, no GIL held by other threads, no workers
of its own. What it shows is the platform's figure (the kernel's
scheduling, the sound server's cadence, the other load) in the same minutes
as the player's, so the two can be told apart.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from stemtui.core.audio.realtime import promote_audio_helpers, try_realtime

SR = 44100
BLOCKSIZE = 512
#: Callbacks in the first seconds of a stream are start-up, as in the soak.
STARTUP_S = 3.0


def run(device: str = "pulse", blocksize: int = BLOCKSIZE) -> dict:
    """Play silence until stdin closes; the figures."""
    import sounddevice as sd

    # first, last, steady max gap, callbacks, underruns, real-time (1/0)
    st = np.zeros(6)

    def callback(out, frames, time_info, status) -> None:  # noqa: ARG001
        now = time.perf_counter()
        if st[3] == 0:
            st[5] = 1.0 if try_realtime() else 0.0
            st[0] = now
        elif now - st[0] > STARTUP_S and now - st[1] > st[2]:
            st[2] = now - st[1]
        st[1] = now
        st[3] += 1
        if status.output_underflow:
            st[4] += 1
        out.fill(0.0)

    names = [d["name"] for d in sd.query_devices()]
    index = names.index(device) if device in names else None
    with sd.OutputStream(
        device=index, samplerate=SR, channels=2, dtype="float32", blocksize=blocksize, callback=callback
    ):
        promote_audio_helpers()
        sys.stdin.read()  # until the soak is over
    period = blocksize / SR
    return {
        "callbacks": int(st[3]),
        "underruns": int(st[4]),
        "realtime": bool(st[5]),
        "steady_max_gap_ms": round(1000 * float(st[2]), 1),
        "steady_max_gap_periods": round(float(st[2]) / period, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run()))
