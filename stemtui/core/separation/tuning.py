"""How the separation worker process tunes itself: heap, threads, start, exit.

Split from :mod:`stemtui.core.separation.worker` (the worker's protocol and the task
that drives it). Everything here is about wall time on a CPU; none of it
changes the stems.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

#: glibc malloc settings for the worker (see :func:`worker_env`).
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),  # the largest glibc accepts
    "MALLOC_TRIM_THRESHOLD_": str(16 << 30),  # never hand freed memory back
    "MALLOC_TOP_PAD_": str(512 << 20),
    "MALLOC_ARENA_MAX": "1",  # the segment threads share (and reuse) one heap
}

#: Heap a full-size HTDemucs segment (7.8 s) peaks at with one thread, in
#: bytes: 2 jobs grew the heap by ~1.15 GB over their first pair of segments.
HEAP_PER_JOB = 576 << 20

_MADV_POPULATE_WRITE = 23


def worker_env() -> dict[str, str]:
    """The worker's environment: ours, the package on its path, malloc tuned.

    Every segment allocates and frees about the same few hundred MB. By
    default glibc hands much of it back to the kernel and faults it in again
    (4-KiB page faults cost ~0.7 s of system time per pair of segments here).
    Keeping the heap (:data:`MALLOC_ENV`) made steady-state faults ~0; the
    worker exits after one song, so holding its peak memory is harmless.
    Torch's transparent-huge-page option (``THP_MEM_ALLOC_ENABLE``) was
    slower: with ``defrag=madvise`` each first touch of a huge page compacts
    memory (1.4-2.9 s of system time in the first pair of segments).
    Variables already set by the caller win.
    """
    env = {**MALLOC_ENV, **os.environ}
    root = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def plan_threads(device: str, jobs: int = 0, threads: int = 0) -> tuple[int, int]:
    """``(segments at once, torch threads)`` for the worker; 0 means choose.

    On a CPU, two segments run side by side, each on half the cores. On 2
    cores (1 thread each) this was as fast as one segment on 2 threads when
    the machine was idle, and about 2x faster when other processes (the
    player, here other jobs) took CPU time: OpenMP threads of one segment
    wait for each other at every operation, so one descheduled thread stalls
    the rest, while independent single-threaded segments keep going.
    """
    cores = os.cpu_count() or 1
    if not jobs:
        jobs = 2 if device == "cpu" and cores >= 2 else 1
    if not threads:
        threads = max(1, cores // jobs) if device == "cpu" else max(1, min(cores, 4))
    return jobs, threads


def likely_cpu(model: str, device: str) -> bool:
    """Whether a full-size model will likely run on the CPU (known before torch is imported).

    The test model (``demucs_unittest``) is tiny: its heap is not worth
    growing ahead of time.
    """
    device = (device or "auto").lower()
    if model == "demucs_unittest":
        return False
    return device == "cpu" or (device == "auto" and not os.path.exists("/dev/nvidiactl"))


def heap_is_kept() -> bool:
    """True when this process runs with :data:`MALLOC_ENV` (as the worker does)."""
    return all(os.environ.get(k) == v for k, v in MALLOC_ENV.items())


def prefault_heap(nbytes: int, chunk: int = 16 << 20) -> threading.Thread | None:
    """Grow the malloc heap by ``nbytes`` and touch it, on a background thread.

    The first pair of segments faulted in ~1.1 GB of fresh heap, 4 KiB at a
    time (~0.6 s of system time while both cores computed; that pair took
    ~1 s longer than the next). Started before ``import torch``, which keeps
    one core busy for ~1.5 s and leaves the other idle, the faults are taken
    there instead. The chunks are below the mmap threshold, so they come
    from the one arena's heap, and freeing them leaves that heap (never
    trimmed, see :func:`worker_env`) ready for the segments' tensors, even
    those above the threshold: glibc carves a large request from a big
    enough free chunk before it considers mmap. Does nothing (returns None)
    unless :func:`heap_is_kept`, or where ctypes cannot reach libc.

    Args:
        nbytes: How much heap to grow.
        chunk: Bytes per malloc (kept under the mmap threshold).

    Returns:
        The thread (daemon), to join if the caller wants the heap ready.
    """
    if nbytes <= 0 or not heap_is_kept() or not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None)  # ctypes calls release the GIL: the import goes on
        malloc, memset, free, madvise = libc.malloc, libc.memset, libc.free, libc.madvise
        malloc.restype, malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
        memset.restype, memset.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
        free.restype, free.argtypes = None, [ctypes.c_void_p]
        madvise.restype, madvise.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    chunk = min(chunk, int(MALLOC_ENV["MALLOC_MMAP_THRESHOLD_"]) // 2)
    page = os.sysconf("SC_PAGE_SIZE")

    def populate(p: int) -> None:
        # MADV_POPULATE_WRITE (Linux 5.14) faults the range in one call: half
        # the system time of touching it page by page (0.37 s against 0.66 s
        # per GB here). Older kernels refuse it (EINVAL): touch instead.
        a = (p + page - 1) // page * page
        end = (p + chunk) // page * page
        step = 1 << 20  # short calls: the importing thread's mmaps wait less for the lock
        while a < end:
            n = min(step, end - a)
            if madvise(a, n, _MADV_POPULATE_WRITE) != 0:
                memset(a, 0, n)
            a += n

    def touch() -> None:
        # All blocks first, in a burst: adjacent, they free into one free
        # region big enough for any tensor. Blocks allocated one by one as
        # they are faulted in were interleaved with the import's small
        # objects and freed into holes no large tensor fits in.
        blocks = []
        try:
            for _ in range(max(1, nbytes // chunk)):
                p = malloc(chunk)
                if not p:
                    break
                blocks.append(p)
            for p in blocks:
                populate(p)
        finally:
            for p in reversed(blocks):
                free(p)

    t = threading.Thread(target=touch, name="stemtui-prefault", daemon=True)
    t.start()
    return t


def exit_now(code: int) -> None:
    """End the worker at once, skipping interpreter teardown (~0.6 s with torch).

    Only for the worker's ``__main__``: everything the parent needs has been
    written (the output memmap lives in the page cache the parent maps) and
    the protocol stream has been flushed by the caller.
    """
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
