"""The separation worker process (its parent side is :class:`~stemtui.core.separation.task.SeparationTask`).

Torch holds the GIL for parts of its work, which starved the audio callback
(a 44 ms gap) when separating in the player's process. So the model runs in
a child: ``python -m stemtui.core.separation.worker INPUT --output OUT ...``.

Protocol:

* ``INPUT`` is a ``.npy`` float32 ``(frames, channels)`` array at
  ``--sample-rate`` (what :class:`SeparationTask` writes), or any audio file
  (decoded a block at a time into ``OUT.decoded.npy``). It is read a segment
  at a time (resampled first into ``OUT.resampled.npy`` when its rate is not
  the model's); both scratch files are removed at the end.
* ``OUT`` becomes a raw float32 file, a C-order ``(stems, frames, 2)`` array at
  the model's rate, zero-filled, that the parent maps read-only while the
  worker fills it. Frames ``[0, k)`` are final once a ``ready`` event says so;
  the worker writes them with ``pwrite`` and holds only the frames not yet
  final, so its memory does not grow with the song.
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
import sys
from dataclasses import asdict
from pathlib import Path

from stemtui.core.errors import BadInput
from stemtui.core.procs.channel import Channel, serve
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
    from stemtui.core.separation.scratch import NpyFrames, StemsFile, write_npy
    from stemtui.core.separation.splitter import (
        load_model,
        pick_precision,
        resolve_device,
        separate_array,
    )

    output = args.output or args.input.with_suffix(".stems.f32")
    temps = [output.with_name(f"{output.name}.{n}.npy") for n in ("decoded", "resampled")]
    if args.input.suffix.lower() == ".npy":
        if not args.sample_rate:
            raise BadInput(str(args.input), "a .npy input needs --sample-rate")
        audio, rate = NpyFrames(args.input), args.sample_rate
    else:
        from stemtui.core.audio.song import as_stereo
        from stemtui.core.library.audioblocks import decode_blocks

        rate, blocks = decode_blocks(args.input)
        write_npy(temps[0], map(as_stereo, blocks))
        audio = NpyFrames(temps[0])
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
    files: list[StemsFile] = []

    def on_start(names, samplerate, frames):
        out = StemsFile(output, len(names), frames)  # sized before the parent maps it
        files.append(out)
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
        resampled=temps[1],
    )
    # No fsync: the parent maps the same page cache, and the file is scratch
    # (the stems are stored, and fsynced, as FLAC by the parent).
    for f in files:
        f.close()
    audio.close()
    for t in temps:  # the resampled or decoded input: disk the FLAC stems may need
        t.unlink(missing_ok=True)
    chan.done()
    return 0


if __name__ == "__main__":
    exit_now(main())
