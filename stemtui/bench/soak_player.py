"""The player side of ``python -m stemtui.bench soak``: runs in the child process.

:func:`soak` drives the real app core headlessly, as the TUI's key handlers
do: an :class:`~stemtui.core.audio.engine.Engine` on the ``pulse`` device, a
mixer on the demo song, :class:`Keys` pressing keys from a thread (the mixer
methods of ``stemtui/ui/screens/player.py``'s actions) and
:class:`Separations` running real separation jobs one after another.
:mod:`stemtui.bench.bench_soak` starts the sound server and reports.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

# Everything the soak's threads use is imported before playback starts, as
# in the app (imports in a thread hold the GIL for long stretches: a module
# of Textual's took 0.16 s, and the audio callback waited for it).
from stemtui.core.audio.faults import describe
from stemtui.core.library import audiofiles  # noqa: F401 -- PyAV and mutagen, which a separation's start loads
from stemtui.core.separation.job import SeparationJob
from stemtui.core.separation.splitter import SeparationOptions
from stemtui.ui.separating import SEPARATION_NICE

SR = 44100
#: Callbacks in the first seconds of a stream are start-up, not steady state.
STARTUP_S = 3.0
#: RSS "at start" is read after this much playback (at most half the run):
#: the song is loaded, the first tempo change made the copy of the song the
#: stretch workers map, and a separation finished. One-time costs, not growth.
WARMUP_S = 60.0
TEMPOS = (0.85, 1.15, 1.0)
#: After the keys stop: back to 1.0x, then this long before RSS "at end".
SETTLE_S = 5.0
#: RSS is also sampled this often, for the timeline.
TIMELINE_S = 15.0


def _rss_mb(field: str = "VmRSS") -> float:
    """A memory figure of this process from /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def _rss_parts() -> dict:
    """RSS split into anonymous memory, mapped files and shared memory, in MB.

    ``deleted``: the part of it in mappings of files already deleted (memory
    nothing can use any more, held until the mapping goes).
    """
    parts = {k: round(_rss_mb(f"Rss{k.capitalize()}"), 1) for k in ("anon", "file", "shmem")}
    kb, deleted, name, by_file = 0, False, "", {}
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if line[:1] in "0123456789abcdef" and "-" in line.split(" ", 1)[0]:
            deleted = line.endswith("(deleted)")
            name = line.split(None, 5)[-1][: -len(" (deleted)")] if deleted else ""
        elif deleted and line.startswith("Rss:"):
            kb += int(line.split()[1])
            by_file[name] = by_file.get(name, 0) + int(line.split()[1])
    parts["deleted"] = round(kb / 1024.0, 1)
    # The largest held deleted files (MB), to tell whose they are.
    top = sorted(by_file.items(), key=lambda kv: -kv[1])[:5]
    parts["deleted_top"] = {Path(k).name: round(v / 1024.0, 1) for k, v in top if v}
    return parts


class Keys:
    """Presses keys on a mixer at a steady rate from a thread, like a user would."""

    def __init__(self, mixer, per_s: float, tempo_every: float, seed: int) -> None:
        import numpy as np

        self.mixer = mixer
        self.per_s = per_s
        self.tempo_every = tempo_every
        self.rng = np.random.default_rng(seed)
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []
        self.tempos: list[float] = []
        self.restarts = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="soak-keys", daemon=True)
        # One second of keys, repeated: what a busy practising hand does.
        self.plan = ["mute", "volume", "seek", "mute", "solo", "volume", "loop", "mute", "volume", "loop"]

    def _playhead(self) -> int:
        pending = self.mixer.pending_seek
        return self.mixer.position if pending is None else pending

    def press(self, kind: str) -> None:
        from stemtui.ui.fmt import step_gain

        m, rng = self.mixer, self.rng
        stem = int(rng.integers(m.stem_count))
        sr = m.sample_rate
        if kind == "mute":
            m.toggle_mute(stem)
        elif kind == "solo":
            m.toggle_solo(stem)
        elif kind == "volume":
            m.set_volume(stem, step_gain(float(m.volume[stem]), int(rng.choice([-1, 1]))))
        elif kind == "seek":
            m.seek(self._playhead() + int(rng.choice([-5, 5])) * sr)
        elif kind == "loop":
            start, end, enabled = m.loop
            edit = ("set", "nudge", "toggle", "set", "clear")[int(rng.integers(5))]
            kind = f"loop-{edit}"
            if edit == "set" or (end == 0 and edit != "clear"):
                a = min(self._playhead(), m.frames - 4 * sr)
                m.set_loop(a, a + 4 * sr)
            elif edit == "nudge":
                m.set_loop(start, max(end + int(rng.choice([-1, 1])) * sr // 10, start + sr), enabled)
            elif edit == "toggle":
                m.enable_loop(not enabled)
            else:
                m.clear_loop()
        self.counts[kind] += 1

    def _run(self) -> None:
        period = 1.0 / self.per_s
        t0 = next_key = time.monotonic()
        next_tempo = t0 + self.tempo_every / 2  # a short run still changes tempo once
        i = 0
        while not self.stop.wait(max(0.0, next_key - time.monotonic())):
            next_key += period
            kind = self.plan[i % len(self.plan)]
            i += 1
            try:
                if time.monotonic() >= next_tempo:
                    tempo = TEMPOS[len(self.tempos) % len(TEMPOS)]
                    self.mixer.set_tempo(tempo, 0)
                    self.tempos.append(tempo)
                    next_tempo += self.tempo_every
                    kind = "tempo"
                    self.counts[kind] += 1
                else:
                    self.press(kind)
                if self.mixer.ended and self.mixer.pending_seek is None:
                    # The song ended (no loop): play from the top, once. (At a
                    # stretched tempo the old run plays on, ended, until the
                    # seek's run is ready: a restart then would be one more.)
                    self.mixer.seek(0)
                    self.mixer.play()
                    self.restarts += 1
            except Exception as exc:  # noqa: BLE001 - every failure is a figure of the soak
                from stemtui.core.audio.faults import describe

                self.errors.append(f"key {kind} at {time.monotonic() - t0:.1f} s: {describe(exc)}")


class Separations:
    """Separates one synthesized song again and again, niced as the player's are."""

    def __init__(self, store, wav: Path) -> None:
        self.store = store
        self.wav = wav
        self.started = self.finished = self.progress = 0
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.job = None
        self.thread = threading.Thread(target=self._run, name="soak-separation", daemon=True)

    def _count(self, _p) -> None:
        self.progress += 1

    def _run(self) -> None:
        while not self.stop.is_set():
            # A new seed each time: a new cache id, so every run really separates.
            opts = SeparationOptions(model="demucs_unittest", device="cpu", seed=self.started)
            try:
                self.job = job = SeparationJob(
                    self.store, self.wav, opts, on_progress=self._count, nice=SEPARATION_NICE
                )
                self.started += 1
                job.start()
                job.song()
                while job.task is not None and job.task.running and not self.stop.is_set():
                    time.sleep(0.1)
                if self.stop.is_set():
                    job.discard()
                    return
                self.store.remove(job.finish())
                self.finished += 1
            except Exception as exc:  # noqa: BLE001 - every failure is a figure of the soak
                if not self.stop.is_set():
                    self.errors.append(f"separation {self.started}: {describe(exc)}")
                    self.stop.wait(1.0)

    def close(self) -> None:
        self.stop.set()
        job = self.job
        if job is not None:
            job.discard()
        self.thread.join(10)


def _write_song(path: Path, seconds: float) -> None:
    """Tones over noise, the stand-in for a song to separate."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    tones = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1375 * t)
    sf.write(path, (0.05 * rng.standard_normal((t.size, 2)) + tones[:, None]).astype(np.float32), SR)


def soak(seconds: float, per_s: float, tempo_every: float, device: str, blocksize: int = 0) -> dict:
    """Run the soak in this process; returns the figures.

    ``blocksize``: frames per callback (0: the engine's default).
    """
    import numpy as np

    from stemtui.bench.gcpauses import GcPauses
    from stemtui.core.audio.engine import Engine
    from stemtui.core.library.catalog import ensure_demo
    from stemtui.core.library.store import Store
    from stemtui.core.tempo.stretchworker import POOL

    tmp = Path(tempfile.mkdtemp(prefix="stemtui-soak-store-"))
    store = Store(tmp / "cache")
    entry = ensure_demo(store)
    assert entry is not None
    wav = tmp / "separate me.wav"
    _write_song(wav, 30.0)
    seps = Separations(store, wav)
    seps.thread.start()

    engine = Engine(device=device) if not blocksize else Engine(device=device, blocksize=blocksize)
    # Our own steady-state gap, for an engine that does not report one: the
    # largest gap between callbacks more than STARTUP_S after the first.
    stamps = np.zeros(4)  # first, last, steady max gap, calls
    original = engine.callback

    def callback(out, frames, ti, st):
        now = time.perf_counter()
        if stamps[0] == 0.0:
            stamps[0] = now
        elif now - stamps[0] > STARTUP_S and now - stamps[1] > stamps[2]:
            stamps[2] = now - stamps[1]
        stamps[1] = now
        stamps[3] += 1
        original(out, frames, ti, st)

    engine.callback = callback  # the stream calls it through the instance
    mixer = engine.load(store.open(entry, block=True))
    POOL.refill()  # as the player does when a song opens
    keys = Keys(mixer, per_s, tempo_every, seed=1)
    errors: list[str] = []
    if engine.notice:
        errors.append(f"engine: {engine.notice}")
    pauses = GcPauses().install()
    mixer.play()
    t0 = time.monotonic()
    keys.thread.start()
    rss_start, parts_start, timeline, warm_s = None, {}, [], 0.0
    while (now := time.monotonic() - t0) < seconds:
        time.sleep(0.5)
        if rss_start is None and now >= min(WARMUP_S, seconds / 2):
            rss_start, parts_start, warm_s = _rss_mb(), _rss_parts(), now
        if now >= TIMELINE_S * len(timeline):
            timeline.append(round(_rss_mb(), 1))
        errors.extend(f"tempo: {line}" for line in mixer.take_tempo_errors())
    played_s = time.monotonic() - t0
    keys.stop.set()
    keys.thread.join(5)
    rss_played = _rss_mb()
    # Back to the state RSS "at start" was read in (1.0x, still separating),
    # so start and end compare like with like: a leak shows, the stretched
    # runs of the tempo in use at the last second do not.
    if mixer.tempo != 1.0:
        mixer.set_tempo(1.0, 0)
    time.sleep(SETTLE_S)
    rss_end, rss_peak, parts_end = _rss_mb(), _rss_mb("VmHWM"), _rss_parts()
    seps.close()
    pauses.close()
    errors.extend(f"tempo: {line}" for line in mixer.take_tempo_errors())
    errors.extend(f"engine: {line}" for line in engine.faults())
    errors += keys.errors + seps.errors
    period = engine.blocksize / engine.sample_rate
    # The engine's own figures (start-up found from the callback periods); the
    # bench's own count after the first few seconds is kept beside them as a check.
    gap_s, gap_src = engine.steady_max_gap_ms / 1000.0, "Engine.steady_max_gap_ms"
    bench_gap_ms = round(1000 * float(stamps[2]), 1) if stamps[3] else None
    startup = engine.startup_s
    result = {
        "device": engine.device_name,
        "realtime": engine.realtime,
        "duration_s": round(played_s, 1),
        "sample_rate": engine.sample_rate,
        "blocksize": engine.blocksize,
        "period_ms": round(1000 * period, 2),
        "keys": sum(keys.counts.values()),
        "keys_per_s": round(sum(keys.counts.values()) / seconds, 2),
        "key_counts": dict(sorted(keys.counts.items())),
        "tempo_changes": keys.tempos,
        "song_restarts": keys.restarts,
        "separations": {"started": seps.started, "finished": seps.finished, "progress_events": seps.progress},
        "callbacks": engine.callbacks,
        "underruns": engine.underruns,
        "max_gap_ms": round(engine.max_gap_ms, 1),
        "startup_s": None if startup is None else round(float(startup), 3),
        "steady_max_gap_ms": None if gap_s is None else round(1000 * gap_s, 1),
        "steady_max_gap_periods": None if gap_s is None else round(gap_s / period, 2),
        "steady_gap_source": gap_src,
        "bench_gap_after_startup_ms": bench_gap_ms,
        "rss_mb": {
            "start": round(rss_start or rss_end, 1),
            "start_at_s": round(warm_s, 1),
            "end": round(rss_end, 1),
            "end_as_played": round(rss_played, 1),
            "growth": round(rss_end - (rss_start or rss_end), 1),
            "peak": round(rss_peak, 1),
            "parts_start": parts_start or parts_end,
            "parts_end": parts_end,
            "timeline": timeline,
            "timeline_every_s": TIMELINE_S,
        },
        "gc": pauses.figures(),
        # Render worker processes started, and runs' workers given back for the next run.
        "render_workers": {"started": POOL.started, "given_back": POOL.reused},
        "errors": errors,
    }
    engine.close()
    POOL.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return result
