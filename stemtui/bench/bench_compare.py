"""Take comparison benchmark: analysis time for a 60-s take, and accuracy on synthesized songs.

``python -m stemtui.bench compare --json`` prints:

* ``analysis_s``: :func:`compare_take` on a 60-s sung take against its
  reference, in this process, warm (librosa's JIT compiled); the target is
  under 10 s on the project's 2-core machine;
* ``worker_s``: the same through :class:`CompareJob` (a fresh worker
  process, numba loading its cache): what the user waits for;
* ``analysis_cpu_s``, ``worker_cpu_s``: their CPU seconds (the analysis is
  single-threaded, so on an idle machine wall time is about CPU time; the
  wall times grow with whatever else the box runs, ``load_avg_1min``);
* per synthesized song (:func:`stemtui.bench.compare_synth.cases`): the
  reference's note segmentation scored with ``mir_eval`` (onsets within
  50 ms, pitch within 50 cents, no offsets), and how well the known errors
  were recovered: the largest cents and onset errors over the notes with
  an error, and the largest reading of an in-tune note.

``bench takes`` calls :func:`analysis_time_60s` for its ``analysis_s`` key.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import numpy as np

from stemtui.bench.compare_synth import SynthCase, cases, make_case
from stemtui.core.analysis.comparison import CompareResult
from stemtui.core.analysis.takecompare import compare_take


def long_case(seconds: float = 60.0) -> SynthCase:
    """A song whose take is ``seconds`` long."""
    return make_case("sixty", seed=5, seconds=seconds + 1.7, take_start_s=1.7)


def _warm() -> None:
    c = make_case("warm", seed=1, seconds=4.0, take_start_s=0.5, cents_errors=(), timing_errors_ms=(10.0,))
    compare_take(c.ref, c.take, c.sr, c.take_start_s, "w", "ref")


def analysis_time_60s(worker: bool = False) -> float:
    """Seconds :func:`compare_take` takes on a 60-s take (warm); ``worker``: end to end through the worker."""
    return _timed(worker)[0]


def _timed(worker: bool) -> tuple[float, float]:
    """Wall and CPU seconds of one comparison of a 60-s take (CPU: ours, or the worker's)."""
    c = long_case()
    if worker:
        from stemtui.core.analysis.comparejob import CompareJob

        job = CompareJob.from_arrays(c.ref, c.take, c.sr, c.take_start_s, "bench", "ref")
        cpu0 = _children_cpu()
        t = time.perf_counter()
        job.run()
        return time.perf_counter() - t, _children_cpu() - cpu0
    _warm()
    cpu0 = time.process_time()
    t = time.perf_counter()
    compare_take(c.ref, c.take, c.sr, c.take_start_s, "bench", "ref")
    return time.perf_counter() - t, time.process_time() - cpu0


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def segmentation_scores(case: SynthCase) -> dict[str, float]:
    """mir_eval's note precision, recall, F1 and overlap of the reference's segmentation."""
    import librosa
    import mir_eval

    from stemtui.core.analysis.notesegment import transcribe
    from stemtui.core.analysis.pitchtrack import to_analysis_rate

    est = transcribe(to_analysis_rate(case.ref, case.sr))
    ref_iv = np.array([[n.start, n.end] for n in case.notes])
    ref_hz = librosa.midi_to_hz(np.array([n.midi for n in case.notes], dtype=float))
    est_iv = np.array([[n.start, n.end] for n in est]).reshape(-1, 2)
    est_hz = librosa.midi_to_hz(np.array([n.midi for n in est], dtype=float))
    p, r, f, overlap = mir_eval.transcription.precision_recall_f1_overlap(
        ref_iv, ref_hz, est_iv, est_hz, onset_tolerance=0.05, pitch_tolerance=50.0, offset_ratio=None
    )
    return {"precision": float(p), "recall": float(r), "f1": float(f), "overlap": float(overlap)}


def recovery(case: SynthCase, result: CompareResult) -> dict[str, Any]:
    """How the comparison read each true note: matched count and the worst errors."""
    found, cents_err, onset_err, in_tune = 0, [], [], []
    for tn in case.truth():
        m = [n for n in result.notes if abs(n.ref_start - tn.start) < 0.05]
        if not m:
            continue
        found += 1
        n = m[0]
        if tn.cents:
            cents_err.append(abs(n.cents - tn.cents))
        else:
            in_tune.append(abs(n.cents))
        if tn.onset_ms:
            onset_err.append(abs(n.onset_ms - tn.onset_ms))
    return {
        "notes_true": len(case.truth()),
        "notes_found": found,
        "notes_reported": len(result.notes),
        "cents_error_max": round(max(cents_err, default=0.0), 2),
        "onset_error_max_ms": round(max(onset_err, default=0.0), 2),
        "in_tune_abs_max_cents": round(max(in_tune, default=0.0), 2),
        "offset_ms": round(result.offset_ms, 2),
    }


def main(argv: list[str]) -> int:
    """Run the comparison benchmark; see the module docstring."""
    ap = argparse.ArgumentParser(prog="python -m stemtui.bench compare")
    ap.add_argument("--json", action="store_true", help="one JSON object")
    args = ap.parse_args(argv)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    analysis_s, analysis_cpu = _timed(worker=False)
    worker_s, worker_cpu = _timed(worker=True)
    load = os.getloadavg()[0]
    songs = []
    for c in cases():
        res = compare_take(c.ref, c.take, c.sr, c.take_start_s, "1", "ref")
        songs.append({"name": c.name, "mir_eval": segmentation_scores(c), **recovery(c, res)})
    out = {
        "bench": "compare",
        "machine": machine,
        "take_s": 60.0,
        "analysis_s": round(analysis_s, 2),
        "worker_s": round(worker_s, 2),
        # CPU seconds do not grow with the load the other processes put on the box.
        "analysis_cpu_s": round(analysis_cpu, 2),
        "worker_cpu_s": round(worker_cpu, 2),
        "load_avg_1min": round(load, 2),
        "target_s": 10.0,
        "songs": songs,
    }
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"take comparison on {machine}")
    print(
        f"  60-s take: {analysis_s:.2f} s analysis ({analysis_cpu:.2f} s CPU), {worker_s:.2f} s through the worker "
        f"({worker_cpu:.2f} s CPU) at load {load:.1f} (target < 10 s)"
    )
    for s in songs:
        me = s["mir_eval"]
        print(
            f"  {s['name']}: segmentation F1 {me['f1']:.3f} (P {me['precision']:.3f}, R {me['recall']:.3f}); "
            f"{s['notes_found']}/{s['notes_true']} notes; errors read within {s['cents_error_max']} cents, "
            f"{s['onset_error_max_ms']} ms; in-tune notes within {s['in_tune_abs_max_cents']} cents"
        )
    return 0
