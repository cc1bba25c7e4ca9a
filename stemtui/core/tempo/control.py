"""Tempo and transpose in the player: which stretched runs exist, and when the mixer switches.

The UI thread only enqueues (a tempo change, a seek, a loop change); one
control thread turns each into runs (:class:`StretchRun`, rendered by a
worker process each) and into mixer commands. The audio thread switches
sources itself once a run has audio at the playhead, so nothing waits:

* a tempo or transpose change starts a run at the playhead and switches to
  it at the same song time, a fraction of a second later;
* a seek starts a run at the target; the old playhead plays until it is ready;
* a loop gets its own run from A, so every restart plays the same rendered
  audio, with the loop points in song time.

Back at 100 % and no transpose the mixer plays the song itself again.
"""

from __future__ import annotations

import queue
import threading
import time

from stemtui.core.audio.shm import scratch_dir
from stemtui.core.tempo.stretch import check_semitones, check_tempo, is_identity
from stemtui.core.tempo.stretchworker import SharedSong, StretchRun

#: Song seconds a loop's run renders past the loop end (the wrap's crossfade reads them).
LOOP_PAD_S = 0.1
#: Seconds a replaced run stays alive (the audio thread may still be fading it out).
RETIRE_S = 3.0


class TempoControl:
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
        self._folder = None
        self._shared: SharedSong | None = None
        self._runs: list[StretchRun] = []
        self._retired: list[tuple[float, StretchRun]] = []
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

    def set(self, tempo: float, semitones: int) -> None:
        """Change tempo and transpose (validated: 0.5–1.5, −12…12)."""
        self.tempo = check_tempo(tempo)
        self.semitones = check_semitones(semitones)
        self._q.put(("set", self.tempo, self.semitones))

    def seek(self, frame: int) -> None:
        """Seek at a stretched tempo: render from ``frame``, then jump there."""
        with self._lock:
            self._seeks += 1
        self._q.put(("seek", int(frame)))

    def loop_changed(self) -> None:
        """The loop moved, or was turned on or off."""
        self._q.put(("loop",))

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
                # Wake up periodically only while retired runs wait to be
                # deleted: an idle thread should cost the audio thread nothing.
                growing = not self.mixer.song.complete.is_set()
                cmd = self._q.get(timeout=0.5 if growing else 1.0 if self._retired else None)
            except queue.Empty:
                self._extend()
                self._clean()
                continue
            if cmd is None:
                return
            try:
                self._handle(cmd)
            finally:
                if cmd[0] == "seek":
                    with self._lock:
                        self._seeks -= 1
            self._clean()

    def _handle(self, cmd: tuple) -> None:
        m = self.mixer
        kind = cmd[0]
        if kind == "set":
            _, tempo, semis = cmd
            if (tempo, semis) != (self.tempo, self.semitones):
                return  # a newer change is queued behind this one
            now = m.pending_seek if m.pending_seek is not None else m.position
            if is_identity(tempo, semis):
                m._loop_src = None
                m.switch_to(m._song_src, now, at=now)
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
            self._retire_others(keep={run, m._loop_src})
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
        if self.identity or not isinstance(cur, StretchRun) or cur is m._loop_src or not cur.done:
            return
        sr = m.sample_rate
        if cur.end >= m.frames or self._song_end() < cur.end + sr:
            return
        if (cur.frames - m._pos) / sr > 5.0 or any(r.start >= cur.end - 10 * sr for r in self._runs if r is not cur):
            return
        now = m.position
        run = self._new_run(now, self.tempo, self.semitones)
        m.switch_to(run, 0, at=now)
        self._retire_others(keep={run, m._loop_src})

    def _song_end(self) -> int:
        song = self.mixer.song
        return song.frames if song.complete.is_set() else song.available

    def _ensure_shared(self) -> SharedSong:
        if self._shared is None:
            song = self.mixer.song
            path = getattr(song, "shared_path", None)
            if not song.complete.is_set() and not hasattr(song.data, "filename"):
                # A cached song still decoding (a second or so): runs are cut at
                # what exists when they start, so wait for all of it. (A song
                # still being separated is the exception: tempo covers what
                # is separated so far.)
                song.complete.wait(timeout=120)
            self._folder = scratch_dir()
            self._shared = SharedSong(song.data, self._folder, path)
        return self._shared

    def _new_run(self, start: int, tempo: float, semis: int, end: int | None = None) -> StretchRun:
        shared = self._ensure_shared()
        song_end = self._song_end()
        end = song_end if end is None else min(end, song_end)
        start = min(max(0, int(start)), max(0, end - 1))
        run = StretchRun(shared, start, end, self.mixer.sample_rate, tempo, semis, self._folder)
        self._runs.append(run)
        return run

    def _refresh_loop(self, tempo: float, semis: int) -> None:
        m = self.mixer
        la, lb, on = m.loop
        old = m._loop_src
        if not on or lb <= la:
            m._loop_src = None
        else:
            end = lb + int(LOOP_PAD_S * m.sample_rate)
            if old is not None and old.start == la and old.end >= min(end, self._song_end()) \
                    and old.tempo == tempo and old.semitones == semis:
                return
            m._loop_src = self._new_run(la, tempo, semis, end=end)
        if old is not None and old is not m._loop_src:
            self._retire(old)

    def _retire(self, run: StretchRun) -> None:
        if run in self._runs:
            self._runs.remove(run)
            run.cancel()
            self._retired.append((time.monotonic(), run))

    def _retire_all(self, keep: StretchRun | None = None) -> None:
        self._retire_others({keep})

    def _retire_others(self, keep: set) -> None:
        for run in list(self._runs):
            if run not in keep:
                self._retire(run)

    def _clean(self) -> None:
        """Delete retired runs that the audio thread can no longer be reading."""
        m = self.mixer
        live = {id(m.current_source), id(m._tail_src), id(m._switch[1]), id(m._loop_src)}
        now = time.monotonic()
        keep = []
        for t, run in self._retired:
            if now - t > RETIRE_S and id(run) not in live:
                run.close()
            else:
                keep.append((t, run))
        self._retired = keep
