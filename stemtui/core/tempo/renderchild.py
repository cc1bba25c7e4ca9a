"""The render worker's side: ``python -m stemtui.core.tempo.renderchild``.

It serves :class:`~stemtui.core.tempo.stretchworker.StretchRun` jobs one
after another, for as long as its stdin stays open: each job is one JSON line
(the song file, the run's output file, the region, tempo, transpose, the
stems); ``cancel`` stops the job in hand at its next stem. It speaks the
protocol of :mod:`stemtui.core.procs.protocol`: ``progress`` events
(``valid``, ``length``) as the run grows, a ``finished`` event ending each
job (``valid``, ``cancelled``), and ``done`` when stdin closes and it exits.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading

import numpy as np

from stemtui.core.procs.channel import Channel, serve
from stemtui.core.tempo.stretch import RunRenderer, out_frames

#: Niceness of a render worker. It runs seconds ahead of the playhead, so it
#: can yield: the player's own threads (one of them may hold the GIL the
#: audio callback is waiting for) go first when the cores are busy.
STRETCH_NICE = 4


def _read_jobs(jobs: queue.Queue, cancel: threading.Event) -> None:
    """The worker's stdin, on a thread: jobs into ``jobs``, ``cancel`` sets ``cancel``; EOF ends it.

    A job clears ``cancel`` before it is queued: the parent sends the next
    job only once the last one is over, so a late ``cancel`` never reaches it.
    """
    for line in sys.stdin:
        line = line.strip()
        if line == "cancel":
            cancel.set()
        elif line:
            cancel.clear()
            jobs.put(json.loads(line))
    cancel.set()
    jobs.put(None)


def _render(chan: Channel, job: dict, cancel: threading.Event) -> int:
    """Render one job into its output file, reporting progress; returns the frames valid."""
    shape = tuple(job["shape"])
    song = np.memmap(job["song"], dtype=np.float32, mode="r", shape=shape)
    n_out = out_frames(max(1, job["end"] - job["start"]), job["tempo"])
    out = np.memmap(job["out"], dtype=np.float32, mode="r+", shape=(shape[0], n_out, 2))
    r = RunRenderer(
        song, job["start"], job["end"], job["sr"], job["tempo"], job["semitones"], out, stems=job.get("stems")
    )
    while not r.done and not cancel.is_set():
        r.step(cancel.is_set)
        # The pages are shared with the parent: once written they are
        # visible there; the message tells it how far it may read.
        chan.progress(r.valid / max(1, r.length), valid=r.valid, length=r.length)
    return r.valid


def main() -> int:
    chan = Channel()
    try:
        os.nice(STRETCH_NICE)  # here, not preexec_fn: that is unsafe while the parent runs threads
    except OSError:
        pass
    # Import everything before waiting: a pooled worker starts its job at once.
    import python_stretch.Signalsmith  # noqa: F401

    jobs: queue.Queue = queue.Queue()
    cancel = threading.Event()
    threading.Thread(target=_read_jobs, args=(jobs, cancel), name="stemtui-jobs", daemon=True).start()

    def body(chan: Channel) -> int:
        served = 0
        while (job := jobs.get()) is not None:
            valid = _render(chan, job, cancel)
            served += 1
            chan.send("finished", valid=valid, cancelled=cancel.is_set())
        chan.done(jobs=served)  # stdin closed: the pool's owner is done with us
        return 0

    return serve(body, channel=chan)


if __name__ == "__main__":
    sys.exit(main())
