"""The separation worker process, and :class:`SeparationTask` that drives it.

Torch holds the GIL for parts of its work, which starved the audio callback
(a 44 ms gap) when separating in the player's process. So the model runs in
a child: ``python -m stemtui.core.separation.worker INPUT --output OUT ...``.

Protocol:

* ``INPUT`` is a ``.npy`` float32 ``(frames, channels)`` array at
  ``--sample-rate`` (what :class:`SeparationTask` writes), or any audio file
  (decoded with :func:`stemtui.core.library.audiofiles.read_audio`).
* ``OUT`` becomes a raw float32 file, a C-order ``(stems, frames, 2)`` array at
  the model's rate, zero-filled, that the parent maps read-only while the
  worker fills it. Frames ``[0, k)`` are final once a ``ready`` event says so.
* The rest is the worker protocol of :mod:`stemtui.core.procs.protocol`:
  stdout carries one JSON object per line, and nothing else (stray prints
  are sent to stderr)::

    {"event": "info", "names": [...], "samplerate": 44100, "frames": N,
     "model": ..., "device": "cpu", "precision": "bf16"}
    {"event": "progress", "fraction": 0.25, ..., "ready_frames": k}
    {"event": "ready", "frames": k}
    {"event": "done"}
    {"event": "error", "kind": "ModelUnavailable", "error": "one line", "exit_code": 2,
     "traceback": "...", "expected": true}

  A worker that dies without a word raises :class:`SeparationWorkerDied`
  (a :class:`SeparationFailed` and a :class:`~stemtui.core.procs.protocol.WorkerDied`);
  an unexpected exception in it, :class:`SeparationWorkerFailed` with the
  worker's traceback.
* With ``--watch-stdin``, a ``cancel`` line on stdin, or stdin closing (the
  parent died), stops the worker before its next segment.
  :meth:`SeparationTask.cancel` does not wait for that: it sends SIGTERM,
  which ends the worker at once (SIGKILL follows if it does not).
* The worker keeps its heap (glibc settings, :func:`worker_env`), grows it
  while torch imports, runs two single-threaded segments at once on a CPU
  (:func:`plan_threads`) and skips interpreter teardown when it ends (see
  :mod:`stemtui.core.separation.tuning`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from stemtui.core.audio.song import as_stereo
from stemtui.core.errors import BadInput
from stemtui.core.procs.channel import Channel, serve
from stemtui.core.procs.protocol import Child, Event, WorkerDied, WorkerError
from stemtui.core.separation.splitter import (
    ModelUnavailable,
    Progress,
    SeparationCancelled,
    SeparationFailed,
    SeparationOptions,
)
from stemtui.core.separation.tuning import (  # noqa: F401  (MALLOC_ENV: re-exported for the benchmark)
    HEAP_PER_JOB,
    MALLOC_ENV,
    exit_now,
    likely_cpu,
    plan_threads,
    prefault_heap,
    worker_env,
)

WORKER_MODULE = "stemtui.core.separation.worker"
_ERRORS = {c.__name__: c for c in (ModelUnavailable, SeparationCancelled, SeparationFailed)}


def worker_command(
    input_path: Path,
    output_path: Path,
    options: SeparationOptions,
    sample_rate: int | None = None,
    nice: int = 0,
    watch_stdin: bool = False,
) -> list[str]:
    """The argv that runs the worker on ``input_path`` with ``options``."""
    flags = {
        "--output": output_path,
        "--model": options.model,
        "--device": options.device,
        "--shifts": options.shifts,
        "--overlap": repr(float(options.overlap)),
        "--precision": options.precision,
        "--seed": options.seed,
    }
    cmd = [sys.executable, "-m", WORKER_MODULE, str(input_path)]
    for flag, value in flags.items():
        cmd += [flag, str(value)]
    if sample_rate is not None:
        cmd += ["--sample-rate", str(int(sample_rate))]
    if options.repo is not None:
        cmd += ["--model-repo", str(options.repo)]
    if options.two_stems:
        cmd += ["--two-stems", options.two_stems]
    if options.segment is not None:
        cmd += ["--segment", repr(float(options.segment))]
    if nice:
        cmd += ["--nice", str(int(nice))]
    if watch_stdin:
        cmd.append("--watch-stdin")
    return cmd


# -- the child ------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m stemtui.core.separation.worker", description="stemtui separation worker"
    )
    p.add_argument("input", type=Path, help=".npy float32 (frames, channels) or an audio file")
    p.add_argument("--output", type=Path, help="raw float32 (stems, frames, 2) file (default: INPUT.stems.f32)")
    p.add_argument("--sample-rate", type=int, help="rate of a .npy input")
    p.add_argument("--model", default="htdemucs")
    p.add_argument("--model-repo", type=Path, dest="repo")
    p.add_argument("--device", default="auto")
    p.add_argument("--shifts", type=int, default=1)
    p.add_argument("--overlap", type=float, default=0.25)
    p.add_argument("--precision", default="auto")
    p.add_argument("--two-stems", dest="two_stems")
    p.add_argument("--segment", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nice", type=int, default=0)
    p.add_argument("--jobs", type=int, default=0, help="segments at once (default: 2 on a multi-core CPU)")
    p.add_argument("--threads", type=int, default=0, help="torch threads per job (default: cores / jobs)")
    p.add_argument("--watch-stdin", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one separation; report on stdout as JSON lines; return the exit code."""
    args = _parser().parse_args(argv)
    chan = Channel()  # the protocol owns the real stdout; anything else printed goes to stderr
    if args.watch_stdin:
        chan.watch_stdin()

    def body(chan: Channel) -> int:
        if args.nice:
            os.nice(args.nice)
        elif likely_cpu(args.model, args.device):  # not beside playback: the thread would not be niced
            prefault_heap(HEAP_PER_JOB * plan_threads("cpu", args.jobs, args.threads)[0])
        return _separate(args, chan)

    return serve(body, channel=chan)


def _separate(args, chan: Channel) -> int:
    from stemtui.core.separation.splitter import (
        load_model,
        pick_precision,
        resolve_device,
        separate_array,
    )

    if args.input.suffix.lower() == ".npy":
        if not args.sample_rate:
            raise BadInput(str(args.input), "a .npy input needs --sample-rate")
        audio, rate = np.load(args.input, mmap_mode="r"), args.sample_rate
    else:
        from stemtui.core.library.audiofiles import read_audio

        audio, rate = read_audio(args.input)
    opts = SeparationOptions(
        model=args.model,
        repo=args.repo,
        device=args.device,
        shifts=args.shifts,
        overlap=args.overlap,
        precision=args.precision,
        two_stems=args.two_stems,
        segment=args.segment,
        seed=args.seed,
    )
    opts.validate()
    device = resolve_device(opts.device)
    precision = pick_precision(device, opts.precision)
    jobs, threads = plan_threads(device, args.jobs, args.threads)
    import torch

    torch.set_num_threads(threads)
    model = load_model(opts.model, opts.repo)
    output = args.output or args.input.with_suffix(".stems.f32")

    def on_start(names, samplerate, frames):
        out = np.memmap(output, dtype=np.float32, mode="w+", shape=(len(names), frames, 2))
        chan.send(
            "info",
            names=names,
            samplerate=samplerate,
            frames=frames,
            model=opts.model,
            device=device,
            precision=precision,
            output=str(output),
        )
        return out

    def on_progress(p: Progress) -> None:
        chan.send("progress", **asdict(p))

    def on_ready(k: int) -> None:
        chan.send("ready", frames=k)

    separate_array(
        audio,
        rate,
        opts,
        on_progress=on_progress,
        cancel_event=chan.cancelled,
        on_ready=on_ready,
        on_start=on_start,
        model=model,
        jobs=jobs,
    )
    # No msync: the parent maps the same page cache, and the file is scratch
    # (the stems are stored, and fsynced, as FLAC by the parent).
    chan.done()
    return 0


# -- the parent -----------------------------------------------------------------


class SeparationWorkerDied(SeparationFailed, WorkerDied):
    """The worker process died (killed, or crashed without a word); one line, see ``worker.log``."""


class SeparationWorkerFailed(SeparationFailed, WorkerError):
    """An unexpected exception in the worker; ``traceback`` holds the worker's traceback."""


class SeparationTask:
    """A separation running in a worker process, filling a shared memmap.

    Callbacks (``on_progress``) run on a background reader thread.

    Args:
        audio: Decoded ``(frames[, channels])`` float32 audio.
        sample_rate: Its rate (the worker resamples to the model's).
        options: How to separate.
        workdir: A folder for the input, the output memmap and ``worker.log``;
            the caller owns it (and deletes it once the stems are stored).
        on_progress: Called with each :class:`Progress`.
        nice: Niceness added to the worker, e.g. 10 while playing, so the
            player's threads win the cores.
    """

    def __init__(
        self,
        audio: np.ndarray,
        sample_rate: int,
        options: SeparationOptions | None = None,
        workdir: str | os.PathLike = ".",
        on_progress: Callable[[Progress], None] | None = None,
        nice: int = 0,
    ) -> None:
        self._audio: np.ndarray | None = audio
        self.sample_rate = int(sample_rate)
        self.options = options or SeparationOptions()
        self.workdir = Path(workdir)
        self.on_progress = on_progress
        self.nice = nice
        self.output_path = self.workdir / "stems.f32"
        self.log_path = self.workdir / "worker.log"
        self._cond = threading.Condition()
        self._info: dict | None = None
        self._ready = 0
        self._finished = self._cancelled = False
        self._child: Child | None = None
        self._proc: subprocess.Popen | None = None
        self._out: np.ndarray | None = None
        self.last_progress: Progress | None = None

    def start(self) -> None:
        """Write the input and spawn the worker; returns at once."""
        self.options.validate()
        self.workdir.mkdir(parents=True, exist_ok=True)
        inp = self.workdir / "input.npy"
        assert self._audio is not None
        np.save(inp, as_stereo(self._audio))
        self._audio = None  # the worker reads the file; don't keep a second copy
        args = worker_command(inp, self.output_path, self.options, self.sample_rate, self.nice, watch_stdin=True)[3:]
        self._child = Child(
            WORKER_MODULE,
            args,
            name="separation worker",
            env=worker_env(),
            log=self.log_path,
            on_event=self._on_event,
            on_exit=self._on_exit,
        )
        self._proc = self._child.proc

    @property
    def pid(self) -> int | None:
        """The worker's process id (None before :meth:`start`)."""
        return self._child.pid if self._child is not None else None

    def _on_event(self, ev: Event) -> None:
        progress = None
        with self._cond:
            if ev.kind == "info":
                self._info = ev.data
            elif ev.kind == "ready":
                self._ready = max(self._ready, int(ev.data["frames"]))
            elif ev.kind == "progress":
                progress = Progress(**{f.name: ev.data[f.name] for f in fields(Progress)})
                self.last_progress = progress
            self._cond.notify_all()
        if progress is not None and self.on_progress is not None:
            self.on_progress(progress)  # an exception here is printed by the reader, which goes on

    def _on_exit(self, _child: Child) -> None:
        with self._cond:
            self._finished = True
            self._cond.notify_all()

    @property
    def _error(self) -> WorkerError | None:
        return self._child.error if self._child is not None else None

    def _raise_error(self) -> None:
        err = self._error
        if self._cancelled or (err is not None and err.kind == "SeparationCancelled"):
            raise SeparationCancelled("separation cancelled")
        if err is None:
            return
        if isinstance(err, WorkerDied):
            raise err.retyped(SeparationWorkerDied)
        if err.kind == "BadInput":
            raise BadInput(err.details.get("what", "input"), err.details.get("reason", str(err)))
        if err.kind in _ERRORS:
            raise _ERRORS[err.kind](str(err))
        if err.details.get("expected"):
            raise SeparationFailed(str(err))
        raise err.retyped(SeparationWorkerFailed, "separation worker failed: ")

    def stems_info(self) -> tuple[list[str], int]:
        """Stem names and the model's sample rate; blocks until the model is loaded.

        Raises:
            ModelUnavailable, BadInput, SeparationFailed, SeparationCancelled.
        """
        with self._cond:
            self._cond.wait_for(
                lambda: self._info is not None or self._error is not None or self._finished or self._cancelled
            )
            if self._info is None:
                self._raise_error()
                raise SeparationFailed("separation worker ended before loading the model")
            return list(self._info["names"]), int(self._info["samplerate"])

    @property
    def frames(self) -> int:
        """Length of the output at the model's rate (blocks like :meth:`stems_info`)."""
        self.stems_info()
        assert self._info is not None
        return int(self._info["frames"])

    @property
    def output(self) -> np.ndarray:
        """The read-only ``(stems, frames, 2)`` memmap the worker fills."""
        if self._out is None:
            names, _ = self.stems_info()
            self._out = np.memmap(self.output_path, dtype=np.float32, mode="r", shape=(len(names), self.frames, 2))
        return self._out

    @property
    def ready_frames(self) -> int:
        """Frames from the start that are final."""
        return self._ready

    @property
    def running(self) -> bool:
        """True while the worker process is alive."""
        return self._child is not None and self._child.running

    def wait(self, timeout: float | None = None) -> dict[str, np.ndarray]:
        """Block until the worker ends; the stems as views of :attr:`output`.

        Raises:
            SeparationCancelled, ModelUnavailable, BadInput, SeparationFailed;
            TimeoutError when ``timeout`` passes first.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._finished, timeout):
                raise TimeoutError("separation still running")
            if self._cancelled or self._error is not None:
                self._raise_error()
        names, _ = self.stems_info()
        return {name: self.output[i] for i, name in enumerate(names)}

    def cancel(self) -> None:
        """Stop the worker now (it is killed: no segment is finished first)."""
        with self._cond:
            if self._finished:
                return
            self._cancelled = True
            self._cond.notify_all()
        if self._child is not None:
            self._child.cancel(grace=5.0)  # SIGTERM ends it at once: no segment is finished first

    close = cancel

    def __enter__(self) -> SeparationTask:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    exit_now(main())
