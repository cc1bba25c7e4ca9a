"""Separation benchmark: stemtui against demucs's own CLI, side by side.

``python -m stemtui.bench separation [--json] [--seconds 30]``; with
``--long``, peak RSS against song length instead (see
:mod:`stemtui.bench.bench_sepmemory`).

Both sides separate the same stereo WAV with the same model: a full-size
``HTDemucs(sources=[drums, bass, other, vocals], bottom_channels=512,
segment=39/5)`` with random (seeded) weights, which this script saves to a
local repo as demucs's pickle (``bench.th``, what ``demucs.separate --repo``
reads) and as safetensors (``bench.safetensors`` + ``.json``, what stemtui
prefers in the same folder). Each side is a fresh process, timed wall clock:

* demucs: ``python -m demucs.separate FILE --repo DIR -n bench --float32
  --clip-mode none`` (float output, so the SNR is not limited by 16-bit
  rounding), with Python's ``random`` seeded to 0 first: with ``--shifts 1``
  demucs shifts the input by a random offset, and stemtui draws the same
  offset from its default ``seed=0``, so the two outputs are comparable. It
  runs in the caller's environment, as a user would run it (stemtui's worker
  tunes its own: see ``stemtui.core.separation.tuning``).
* stemtui: ``python -m stemtui separate FILE --model-repo DIR --model bench
  --cache-dir TMP`` when the CLI has that command, else the separation worker
  itself, ``python -m stemtui.core.separation.worker FILE --model-repo DIR --model
  bench --output OUT`` (``stemtui_side`` says which).

Also measured: the time until the first playable audio (the worker's first
``ready`` event, from process start, decoding included) on a 4-minute file,
and the SNR of stemtui's stems against demucs's fp32 output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SR = 44100
SIG = "bench"
SOURCES = ["drums", "bass", "other", "vocals"]
TARGET_RATIO = 0.5
TARGET_SNR_DB = 40.0


def build_repo(folder: Path) -> None:
    """Save the full-size random-weight HTDemucs as ``bench.th`` and safetensors."""
    from fractions import Fraction

    import torch
    from demucs.htdemucs import HTDemucs

    from stemtui.core.separation.models import save_model_safetensors

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = HTDemucs(sources=SOURCES, bottom_channels=512, segment=Fraction(39, 5)).eval()
    args, kwargs = model._init_args_kwargs
    torch.save({"klass": HTDemucs, "args": args, "kwargs": kwargs, "state": model.state_dict()}, folder / f"{SIG}.th")
    save_model_safetensors(model, folder, SIG)


def write_song(path: Path, seconds: float, seed: int = 0) -> None:
    """A stereo 16-bit WAV with drum-like noise bursts, a bass line and chords."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    beat = (t % 0.5) < 0.05
    drums = 0.3 * rng.standard_normal(n) * beat
    bass = 0.3 * np.sin(2 * np.pi * 55 * (1 + (t // 2 % 4) / 4) * t)
    chords = sum(0.08 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    mix = np.stack([drums + bass + chords, 0.8 * drums + bass + 1.1 * chords], axis=1)
    sf.write(str(path), (mix / np.abs(mix).max() * 0.8).astype(np.float32), SR, subtype="PCM_16")


def has_cli_separate() -> bool:
    """True when ``stemtui.cli`` has a ``separate`` command."""
    try:
        from stemtui.cli import build_parser

        parser = build_parser()
    except Exception:  # noqa: BLE001 -- any failure means: no usable CLI here
        return False
    for action in parser._actions:
        if getattr(action, "choices", None) and isinstance(action.choices, dict) and "separate" in action.choices:
            return True
    return False


def _env() -> dict[str, str]:
    """Both sides' environment: the caller's, the package importable, no hub.

    Deliberately not the worker's tuned environment (``worker_env``): demucs
    runs as a user would run it, and stemtui's worker sets its own.
    """
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def run_demucs(wav: Path, repo: Path, out: Path) -> float:
    """Wall seconds of ``python -m demucs.separate`` (seeded ``random``) on ``wav``."""
    argv = [str(wav), "--repo", str(repo), "-n", SIG, "-o", str(out), "--float32", "--clip-mode", "none"]
    code = (
        "import random, runpy, sys; random.seed(0); "
        f"sys.argv = ['demucs.separate'] + {json.dumps(argv)}; "
        "runpy.run_module('demucs.separate', run_name='__main__', alter_sys=True)"
    )
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code], check=True, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    return time.perf_counter() - t


def stemtui_command(wav: Path, repo: Path, out: Path, use_cli: bool) -> list[str]:
    """The stemtui side: the CLI when it can separate, else the worker itself."""
    if use_cli:
        return [
            sys.executable,
            "-m",
            "stemtui",
            "separate",
            str(wav),
            "--model-repo",
            str(repo),
            "--model",
            SIG,
            "--cache-dir",
            str(out),
        ]
    return [
        sys.executable,
        "-m",
        "stemtui.core.separation.worker",
        str(wav),
        "--model-repo",
        str(repo),
        "--model",
        SIG,
        "--output",
        str(out / "stems.f32"),
    ]


def run_stemtui(wav: Path, repo: Path, out: Path, use_cli: bool) -> tuple[float, list[dict]]:
    """Wall seconds of the stemtui side, and the worker's events when run directly."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = stemtui_command(wav, repo, out, use_cli)
    env = _env()
    if not use_cli:  # run directly, the worker gets the environment its parent would give it
        from stemtui.core.separation.worker import worker_env

        env = {**worker_env(), **{k: v for k, v in env.items() if k != "PYTHONPATH"}}
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"stemtui failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")] if not use_cli else []
    return wall, events


def first_ready(wav: Path, repo: Path, out: Path) -> dict:
    """Seconds from spawning the worker on ``wav`` to its first ``ready`` event."""
    import threading

    from stemtui.core.procs.protocol import Child, Event
    from stemtui.core.separation.worker import WORKER_MODULE, worker_env

    out.mkdir(parents=True, exist_ok=True)
    env = {**worker_env(), "HF_HUB_OFFLINE": _env()["HF_HUB_OFFLINE"]}
    result: dict = {}
    ready = threading.Event()
    frames = [0]

    def on_event(ev: Event) -> None:
        if ev.kind == "info":
            result["model_loaded_s"] = round(time.perf_counter() - t, 2)
            frames[0] = ev.data["frames"]
        elif ev.kind == "ready" and not ready.is_set():
            result.update(
                first_ready_s=round(time.perf_counter() - t, 2),
                first_ready_audio_s=round(ev.data["frames"] / SR, 2),
                song_s=round(frames[0] / SR, 1),
            )
            ready.set()

    t = time.perf_counter()
    args = stemtui_command(wav, repo, out, use_cli=False)[3:]  # after: python -m MODULE
    child = Child(WORKER_MODULE, args, name="separation worker", env=env, on_event=on_event)
    try:
        while not ready.wait(0.05) and not child.finished.is_set():
            pass
        if not ready.is_set() and child.error is not None:
            result["error"] = str(child.error)
    finally:
        child.kill()
        child.wait(10)
    return result


def stemtui_stems(out: Path, events: list[dict], use_cli: bool) -> dict[str, np.ndarray] | None:
    """stemtui's stems, ``(frames, 2)`` each, or None if they cannot be found."""
    if not use_cli:
        info = next(e for e in events if e["event"] == "info")
        data = np.memmap(out / "stems.f32", dtype=np.float32, mode="r", shape=(len(info["names"]), info["frames"], 2))
        return {n: np.array(data[i]) for i, n in enumerate(info["names"])}
    import soundfile as sf

    found = {}
    for name in SOURCES:  # whatever layout the store uses, look for the stem files
        for p in sorted(out.rglob(f"{name}.*")):
            if p.suffix.lower() in (".wav", ".flac"):
                found[name] = sf.read(str(p), dtype="float32", always_2d=True)[0]
            elif p.suffix == ".npy":
                found[name] = np.load(p)
            if name in found:
                break
    return found if len(found) == len(SOURCES) else None


def snr(est: dict[str, np.ndarray], ref_dir: Path) -> dict[str, float]:
    import soundfile as sf

    out, num, den = {}, 0.0, 0.0
    for name in SOURCES:
        ref = sf.read(str(ref_dir / f"{name}.wav"), dtype="float64", always_2d=True)[0]
        e = np.asarray(est[name], dtype=np.float64)[: ref.shape[0]]
        err = ((e - ref[: e.shape[0]]) ** 2).sum()
        out[name] = round(float(10 * np.log10((ref**2).sum() / max(err, 1e-30))), 1)
        num += (ref**2).sum()
        den += err
    out["all"] = round(float(10 * np.log10(num / max(den, 1e-30))), 1)
    return out


def worker_plan(device: str) -> dict:
    """How stemtui's worker runs here: segments at once, threads each, tuning."""
    from stemtui.core.separation.tuning import (
        HEAP_PER_JOB,
        MALLOC_ENV,
        likely_cpu,
        plan_threads,
        worker_env,
    )

    jobs, threads = plan_threads(device)
    env = worker_env()
    prefault = HEAP_PER_JOB * jobs if likely_cpu(SIG, device) else 0
    return {
        "jobs": jobs,
        "threads_per_job": threads,
        "heap_prefault_mib": prefault >> 20,
        **{k: env.get(k) for k in MALLOC_ENV},
    }


def main(argv: list[str]) -> int:
    """Run the benchmark; print a report (or one JSON object with ``--json``)."""
    if "--long" in argv:  # peak RSS against song length: its own module
        from stemtui.bench.bench_sepmemory import main as long_main

        return long_main(argv)
    ap = argparse.ArgumentParser(prog="python -m stemtui.bench separation", description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the timed song (default 30)")
    ap.add_argument(
        "--repeat", type=int, default=1, help="alternate the two sides this many times; ratio = median / median"
    )
    ap.add_argument("--first-ready-seconds", type=float, default=240.0, help="song length for time-to-first-audio")
    ap.add_argument("--no-cache", action="store_true", help="skip the cached-song open/size figures")
    args = ap.parse_args(argv)

    use_cli = has_cli_separate()
    with tempfile.TemporaryDirectory(prefix="stemtui-bench-") as tmp:
        tmp = Path(tmp)
        repo = tmp / "repo"
        repo.mkdir()
        build_repo(repo)
        wav, long_wav = tmp / "song.wav", tmp / "long.wav"
        write_song(wav, args.seconds)
        write_song(long_wav, args.first_ready_seconds, seed=1)
        # Warm the page cache for torch's and demucs's files so neither side pays it.
        subprocess.run([sys.executable, "-c", "import torch, demucs.separate"], check=True, env=_env())
        d_times, s_times, events = [], [], []
        for i in range(args.repeat):
            d_times.append(run_demucs(wav, repo, tmp / f"demucs{i}"))
            t, events = run_stemtui(wav, repo, tmp / f"stemtui{i}", use_cli)
            s_times.append(t)
        ready = first_ready(long_wav, repo, tmp / "first")
        est = stemtui_stems(tmp / "stemtui0", events, use_cli)
        snrs = snr(est, tmp / "demucs0" / SIG / "song") if est is not None else None

    info = next((e for e in events if e["event"] == "info"), {})
    if not info:  # the CLI prints no worker events: report what the worker picks here
        from stemtui.core.separation.splitter import pick_precision, resolve_device

        info = {"device": resolve_device("auto")}
        info["precision"] = pick_precision(info["device"], "auto")
    d, s = statistics.median(d_times), statistics.median(s_times)
    result = {
        "bench": "separation",
        "song_seconds": args.seconds,
        "model": "HTDemucs full size (41.5 M params, random weights)",
        "stemtui_side": "stemtui separate (CLI)"
        if use_cli
        else "python -m stemtui.core.separation.worker (CLI has no separate yet)",
        "demucs_cli_s": round(d, 2),
        "stemtui_s": round(s, 2),
        "ratio": round(s / d, 3),
        "target_ratio": TARGET_RATIO,
        "ratio_of_fastest_runs": round(min(s_times) / min(d_times), 3),
        "demucs_runs_s": [round(x, 2) for x in d_times],
        "stemtui_runs_s": [round(x, 2) for x in s_times],
        "device": info.get("device"),
        "precision": info.get("precision"),
        "worker_plan": worker_plan(info.get("device") or "cpu"),
        "snr_vs_demucs_fp32_db": snrs,
        "target_snr_db": TARGET_SNR_DB,
        "first_ready": ready,
        "ok": bool(s / d <= TARGET_RATIO and snrs is not None and snrs["all"] >= TARGET_SNR_DB),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch": __import__("torch").__version__,
    }
    if not args.no_cache:
        # The other storage figures: opening a cached 10-min 6-stem
        # song, and its size on disk against 16-bit PCM.
        from stemtui.bench.bench_cache import measure

        result["cache"] = measure()
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>24}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
