"""Tempo and transpose in the player: which stretched runs exist, and when the mixer switches.

The UI thread only enqueues (a tempo change, a seek, a loop change); one
control thread turns each into runs (:class:`StretchRun`, rendered by a
worker process each) and into mixer commands. The audio thread switches
sources itself once a run has audio at the playhead, so nothing waits: a
tempo or transpose change starts a run at the playhead and switches to it at
the same song time; a seek starts a run at the target (the old playhead plays
until it is ready); a loop gets its own run from A, so every restart plays
the same audio, loop points in song time. Back at 100 % and no transpose the
mixer plays the song itself again. The speed trainer
(:mod:`stemtui.core.tempo.trainplay`) runs on this thread too.

Failures are reported, never fatal: a command that raises is recorded and the
thread goes on. A run whose worker died (``StretchRun.error``) is replaced:
the mixer plays the song itself at 100 % at once (no silence), a new run at
the asked tempo starts from the playhead with fresh workers, and the mixer
switches to it once it is 2 s ahead. A worker that makes no progress (no
event, no CPU time) for :data:`HUNG_S` while it is waited on is hung: killed
and treated as dead. A dead loop run is replaced the same way. After
:data:`MAX_DEATHS` deaths within :data:`DEATH_WINDOW_S` it gives up: 100 %,
tempo reset. Each streak is told once, and the giving up once:
:meth:`TempoControl.take_errors` hands the lines to the UI or CLI.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from pathlib import Path

from stemtui.core.audio.faults import describe
from stemtui.core.audio.shm import scratch_dir
from stemtui.core.tempo.runkeep import RunKeeper
from stemtui.core.tempo.stretch import check_semitones, check_tempo, is_identity
from stemtui.core.tempo.stretchworker import SharedSong, StretchRun
from stemtui.core.tempo.trainer import TrainerSpec
from stemtui.core.tempo.trainplay import TRAIN_WAKE_S, TrainerDriver

#: Song seconds a loop's run renders past the loop end (the wrap's crossfade reads them).
LOOP_PAD_S = 0.1
#: How often the control thread checks rendering runs for a dead worker, seconds.
WATCH_S = 0.25
#: Worker deaths within :data:`DEATH_WINDOW_S` seconds after which tempo gives up (stays at 100 %).
MAX_DEATHS = 3
DEATH_WINDOW_S = 30.0
#: A worker needed by the playhead that sends no progress for this long is hung (killed, treated as dead).
HUNG_S = 1.5
#: ... "waited on": the playhead within this many seconds of what its run rendered.
EDGE_S = 0.25


class TempoControl(RunKeeper):
    """Owns the stretched runs of one mixer.

    Args:
        mixer: The :class:`~stemtui.core.audio.mixer.Mixer` to drive.
    """

    def __init__(self, mixer) -> None:
        self.mixer = mixer
        #: Tempo factor asked for.
        self.tempo = 1.0
        #: Transpose asked for, semitones.
        self.semitones = 0
        self._q: queue.Queue = queue.Queue()
        self._seeks = 0
        self._lock = threading.Lock()
        self._folder: Path | None = None
        self._shared: SharedSong | None = None
        self._runs: list[StretchRun] = []
        self._retired: list[tuple[float, StretchRun]] = []
        self._errors: list[str] = []
        #: A run replacing one whose worker died, waiting for the mixer to be on the song first.
        self._restart: StretchRun | None = None
        self._deaths: deque[float] = deque()
        #: The speed trainer, while it runs (control thread).
        self.trainer: TrainerDriver | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="stemtui-tempo", daemon=True)
        self._thread.start()

    # -- UI thread ---------------------------------------------------------
    @property
    def identity(self) -> bool:
        """Whether the song plays untouched (100 %, no transpose)."""
        return is_identity(self.tempo, self.semitones)

    @property
    def seeking(self) -> bool:
        """Whether a seek is queued or being turned into a run."""
        return self._seeks > 0

    @property
    def folder(self) -> Path | None:
        """The scratch folder of the shared song and the runs (``None`` until the first run)."""
        return self._folder

    def take_errors(self) -> list[str]:
        """One line per failure since the last call, oldest first (any thread).

        A failure is a command that raised (the thread went on with the next)
        or a stretch worker that died; in the latter case the mixer already
        plays the song itself at 100 % while a new run renders (told once per
        streak of deaths), or, after :data:`MAX_DEATHS` of them, for good,
        with :attr:`tempo` back at 1.0.
        """
        with self._lock:
            errors, self._errors = self._errors, []
        return errors

    def _report(self, line: str) -> None:
        with self._lock:
            self._errors.append(line)

    def set(self, tempo: float, semitones: int) -> None:
        """Change tempo and transpose (validated: 0.5–1.5, −12…12)."""
        tempo, semitones = check_tempo(tempo), check_semitones(semitones)
        with self._lock:
            self.tempo, self.semitones = tempo, semitones
            self._deaths.clear()  # a new ask: a new chance
        self._q.put(("set", tempo, semitones))

    def seek(self, frame: int) -> None:
        """Seek at a stretched tempo: render from ``frame``, then jump there."""
        with self._lock:
            self._seeks += 1
        self._q.put(("seek", int(frame)))

    def loop_changed(self) -> None:
        """The loop moved, or was turned on or off."""
        self._q.put(("loop",))

    def train(self, spec: TrainerSpec | None) -> None:
        """Start the speed trainer on the loop, or stop it (``None``); a tempo or loop change stops it too."""
        self._q.put(("train", spec))

    def close(self) -> None:
        """Stop every worker and delete the shared files."""
        if self._closed:
            return
        self._closed = True
        self._q.put(None)
        self._thread.join(timeout=5)
        for run in self._runs + [r for _, r in self._retired]:
            run.close()
        self._runs, self._retired = [], []
        if self._shared is not None:
            self._shared.close()
        if self._folder is not None:
            import shutil

            shutil.rmtree(self._folder, ignore_errors=True)

    # -- control thread ----------------------------------------------------
    def _loop(self) -> None:
        while True:
            try:
                cmd = self._q.get(timeout=self._wake_s())
            except queue.Empty:
                cmd = ()
            if cmd is None:
                return
            try:
                if cmd:
                    self._handle(cmd)
                else:
                    self._extend()
            except Exception as exc:  # noqa: BLE001 - reported; the thread must keep serving the keys
                self._report(f"tempo: {cmd[0] if cmd else 'extend'} failed: {describe(exc)}")
            finally:
                if cmd and cmd[0] == "seek":
                    with self._lock:
                        self._seeks -= 1
            try:
                self._check_runs()
                if self.trainer is not None:
                    self.trainer.turn()
                self._switch_restart()
                self._clean()
            except Exception as exc:  # noqa: BLE001 - as above
                self._report(f"tempo: clean-up failed: {describe(exc)}")

    def _wake_s(self) -> float | None:
        """How long the thread may sleep: forever when idle (it then costs the audio thread nothing)."""
        if not self.mixer.song.complete.is_set():
            return 0.5  # a song still separating: runs are extended as it grows
        if self.trainer is not None:
            return TRAIN_WAKE_S
        if self._restart is not None or any(
            r.error is None and not r.done and not r.finished.is_set() for r in self._runs
        ):
            return WATCH_S  # rendering: watch for a worker that dies
        return 1.0 if self._retired else None

    def _check_runs(self) -> None:
        """Replace runs whose worker failed; meanwhile (or after too many deaths) play the song."""
        self._check_hung()
        failed = [r for r in self._runs if r.error is not None]
        if not failed:
            return
        m = self.mixer
        playing = {id(m.current_source), id(m.sources_in_use()[2]), id(self._restart)}
        play_dead = any(id(r) in playing for r in failed)
        loop_dead = any(r is m.loop_source for r in failed)
        for run in failed:
            self._retire(run)
        if not (play_dead or loop_dead):
            return  # nothing heard needed them
        run = next(r for r in failed if id(r) in playing or r is m.loop_source)
        now = m.pending_seek if m.pending_seek is not None else m.position
        t = time.monotonic()
        while self._deaths and t - self._deaths[0] > DEATH_WINDOW_S:
            self._deaths.popleft()
        self._deaths.append(t)
        with self._lock:
            tempo, semis = self.tempo, self.semitones
        asked = f"tempo {tempo * 100:.0f}%" + (f", {semis:+d} st" if semis else "")
        err = run.error or ""
        what = "hung" if err.startswith("stretch worker hung") else "died"
        why = err.removeprefix("stretch worker died: ").removeprefix("stretch worker hung: ")
        if len(self._deaths) >= MAX_DEATHS:
            with self._lock:
                if (self.tempo, self.semitones) == (tempo, semis):
                    self.tempo, self.semitones = 1.0, 0  # what is heard now (nothing newer was asked)
            self._restart = None
            m.set_loop_source(None)
            m.switch_to(m.song_source, now, at=-1)
            self._retire_all()
            self._report(
                f"stretch worker {what} {len(self._deaths)} times in {DEATH_WINDOW_S:.0f} s; "
                f"{asked} given up, playing at 100 % ({why})"
            )
            return
        if len(self._deaths) == 1:
            self._report(f"stretch worker {what}; playing at 100 % while it restarts ({asked}: {why})")
        if loop_dead:
            m.set_loop_source(None)
            self._refresh_loop(tempo, semis)
        if play_dead:
            m.switch_to(m.song_source, now, at=-1)  # at once: the song itself is always there
            self._restart = self._new_run(now, tempo, semis)

    def _check_hung(self) -> None:
        """Fail a run whose worker makes no progress while the playhead waits on it."""
        m = self.mixer
        cur, _tail, pending = m.sources_in_use()[:3]
        for run in self._runs:
            if run.error is not None or run.done:
                continue
            quiet = run.stalled_for()  # sampled every turn: a stop is timed from when it began
            if run is cur and (run.ready - m.source_position) / m.sample_rate > EDGE_S:
                continue  # rendered audio still ahead: the player does not wait on it yet
            if run is not cur and run is not pending and run is not self._restart:
                continue
            if quiet > HUNG_S:
                run.hang(f"no progress for {quiet:.1f} s")

    def _switch_restart(self) -> None:
        """Once the mixer plays the song again, switch to the run that replaces the dead one."""
        run, m = self._restart, self.mixer
        if run is None:
            return
        if run not in self._runs:
            self._restart = None  # replaced by a newer command (a tempo change, a seek)
        elif m.current_source is m.song_source:
            # At the same song time, once it is 2 s ahead of the playhead.
            m.switch_to(run, 0, at=run.start)
            self._restart = None

    def _handle(self, cmd: tuple) -> None:
        m = self.mixer
        kind = cmd[0]
        if kind in ("set", "loop", "train") and self.trainer is not None:
            self.trainer.stop()
            self.trainer = None
        if kind == "train" and cmd[1] is not None:
            if m.loop.enabled:
                self.trainer = TrainerDriver(self, cmd[1])
                self.trainer.begin()
            else:
                self._report("trainer: no loop to train on; set one first")
        elif kind == "set":
            _, tempo, semis = cmd
            if (tempo, semis) != (self.tempo, self.semitones):
                return  # a newer change is queued behind this one
            now = m.pending_seek if m.pending_seek is not None else m.position
            if is_identity(tempo, semis):
                m.set_loop_source(None)
                m.switch_to(m.song_source, now, at=now)
                self._retire_all()
                return
            run = self._new_run(now, tempo, semis)
            self._retire_all(keep=run)
            m.switch_to(run, 0, at=now)
            self._refresh_loop(tempo, semis)
        elif kind == "seek":
            if self.identity:
                m.seek(cmd[1])
                return
            run = self._new_run(cmd[1], self.tempo, self.semitones)
            m.switch_to(run, 0, at=-1)
            self._retire_others(keep={run, m.loop_source})
        elif kind == "loop" and not self.identity:
            self._refresh_loop(self.tempo, self.semitones)
            cur = m.current_source
            _la, lb, on = m.loop
            if getattr(cur, "end", m.frames) < self._song_end() and (not on or cur.end < lb):
                # Playing a loop's run, and the loop is gone: continue from here.
                now = m.position
                run = self._new_run(now, self.tempo, self.semitones)
                m.switch_to(run, 0, at=now)

    def _extend(self) -> None:
        """A song still being separated: continue past the end of the playing run.

        A run ends where the song ended when it started. When its last few
        seconds play and more of the song exists, a new run takes over from
        the playhead, at the same song time.
        """
        m = self.mixer
        cur = m.current_source
        if self.identity or not isinstance(cur, StretchRun) or cur is m.loop_source or not cur.done:
            return
        sr = m.sample_rate
        if cur.end >= m.frames or self._song_end() < cur.end + sr:
            return
        if (cur.frames - m.source_position) / sr > 5.0 or any(
            r.start >= cur.end - 10 * sr for r in self._runs if r is not cur
        ):
            return
        now = m.position
        run = self._new_run(now, self.tempo, self.semitones)
        m.switch_to(run, 0, at=now)
        self._retire_others(keep={run, m.loop_source})

    def _song_end(self) -> int:
        song = self.mixer.song
        return song.frames if song.complete.is_set() else song.available

    def _ensure_shared(self) -> tuple[SharedSong, Path]:
        """The song file the workers read, and the scratch folder (made on first use)."""
        if self._shared is not None and self._folder is not None:
            return self._shared, self._folder
        song = self.mixer.song
        path = getattr(song, "shared_path", None)
        if not song.complete.is_set() and not hasattr(song.data, "filename"):
            # A cached song still decoding (a second or so): runs are cut at
            # what exists when they start, so wait for all of it. (A song
            # still being separated is the exception: tempo covers what
            # is separated so far.)
            song.complete.wait(timeout=120)
        folder = self._folder = scratch_dir()
        self._shared = SharedSong(song.data, folder, path)
        return self._shared, folder

    def _new_run(self, start: int, tempo: float, semis: int, end: int | None = None) -> StretchRun:
        shared, folder = self._ensure_shared()
        song_end = self._song_end()
        end = song_end if end is None else min(end, song_end)
        start = min(max(0, int(start)), max(0, end - 1))
        run = StretchRun(shared, start, end, self.mixer.sample_rate, tempo, semis, folder)
        self._runs.append(run)
        return run

    def _refresh_loop(self, tempo: float, semis: int) -> None:
        m = self.mixer
        la, lb, on = m.loop
        old = m.loop_source
        if not on or lb <= la:
            m.set_loop_source(None)
        else:
            end = lb + int(LOOP_PAD_S * m.sample_rate)
            if (
                old is not None
                and old.start == la
                and old.end >= min(end, self._song_end())
                and old.tempo == tempo
                and old.semitones == semis
            ):
                return
            m.set_loop_source(self._new_run(la, tempo, semis, end=end))
        if old is not None and old is not m.loop_source:
            self._retire(old)
