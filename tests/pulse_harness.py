"""A private PulseAudio server with a recordable null sink, for audio tests.

Typical use (the ``pulse`` fixture in conftest.py does the start/stop)::

    with pulse.record() as rec:
        subprocess.run([...player...], env=pulse.env, check=True)
    audio = rec.data                       # (frames, 2) float32
    assert best_correlation(audio, reference) > 0.9

How the pieces connect:

* ``PulseServer.start()`` runs ``pulseaudio`` in the foreground as our own
  child process (so we always know its pid and reap it; a ``--daemonize=yes``
  daemon is re-parented, and on a machine whose pid 1 does not reap orphans it
  lingers as a zombie after ``kill``), with a fresh 0700 XDG_RUNTIME_DIR, a
  private HOME and state dir, no default.pa (``-n``), a null sink called
  ``sink_name`` and the native protocol on ``<runtime>/pulse/native`` with
  anonymous auth.
* ``PulseServer.env`` is ``os.environ`` plus what a client needs to reach the
  server: ``PULSE_SERVER`` (sufficient by itself), ``XDG_RUNTIME_DIR`` and
  ``PULSE_RUNTIME_PATH``, a private ``PULSE_COOKIE`` (libpulse otherwise writes
  ``~/.config/pulse/cookie``), ``PULSE_CLIENTCONFIG`` with ``autospawn = no``,
  and ``PULSE_SINK``/``PULSE_SOURCE``.
* PortAudio (sounddevice) reaches the server through the ALSA ``pulse`` PCM
  from libasound2-plugins; that device (and ``default``, which then routes to
  pulse too) is listed only if the server is reachable *when PortAudio
  initialises*, i.e. when ``sounddevice`` is imported.  So play from a
  subprocess started with ``env=pulse.env``: setting ``os.environ`` in a
  process that has already imported sounddevice does nothing.
* ``record()`` runs ``parec`` on ``<sink>.monitor`` writing raw float32le.
  A bare null sink renders in blocks of up to 2 s, and a new recorder gets
  nothing until the sink's next wake-up: up to 2 s of audio is lost at the
  start of every recording, and while nothing plays nothing is recorded at
  all (the recording is not a wall-clock timeline).  Hence the *keepalive*
  (default on): the server keeps a 20 ms-latency ``pacat`` stream of zeros
  playing into the sink, warms the sink up once in ``start()`` (about 2 s),
  and ``Recording.start()`` returns only once audio is flowing (~20 ms).  With
  it, a recording is continuous wall-clock audio from ``start()`` on.  Zeros
  add nothing to the float32 mix.  ``sink_inputs()`` hides the keepalive.
* Even so, compare with :func:`best_correlation` / :func:`best_lag`, which
  align by cross-correlation, never by a fixed offset: when the player's
  first samples land in the sink depends on the player.
* The path is sample-exact (float32 sink, 100 % volume), except at the edges
  of a PortAudio stream through the ALSA ``pulse`` device: its first ~100-180
  frames arrive as zeros and its last ~35 ms are lost when it stops.  Leave
  those out of exact comparisons (or pad what you play with silence).
* The daemon and recorders get PR_SET_PDEATHSIG, so they die with the test
  process; the signal fires when the *thread* that started them exits, so
  start a server from a long-lived thread (the main one, as fixtures do).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = [
    "PulseError",
    "PulseServer",
    "Recording",
    "best_correlation",
    "best_lag",
    "dominant_frequency",
    "pid_alive",
    "to_mono",
]

DEFAULT_RATE = 44100


class PulseError(RuntimeError):
    """The PulseAudio server or a recorder could not be started."""


# --------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """True while ``pid`` is a running (non-zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "pid (comm) S ..." - comm may contain spaces/parens, so split at the last ')'.
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """preexec_fn: SIGTERM the child if the test process dies (Linux only)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # no libc.so.6 or no prctl: not Linux
        pass


def _terminate(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


# --------------------------------------------------------------------------
# server
# --------------------------------------------------------------------------


class PulseServer:
    """A throw-away PulseAudio daemon with one null sink.

    ``PulseServer(sink_name="stemtui_test", rate=44100, channels=2)``;
    ``keepalive``: see the module docstring (keep it on unless testing the
    harness itself).  ``start()`` / ``stop()`` or use it as a context manager.
    Attributes once started: ``pid``, ``env``, ``sink_name``, ``monitor``
    (``"<sink_name>.monitor"``), ``rate``, ``channels``, ``socket_path``,
    ``tmpdir``.
    """

    def __init__(
        self,
        sink_name: str = "stemtui_test",
        rate: int = DEFAULT_RATE,
        channels: int = 2,
        start_timeout: float = 10.0,
        keepalive: bool = True,
    ):
        self.keepalive = keepalive
        self.sink_name = sink_name
        self.rate = rate
        self.channels = channels
        self.start_timeout = start_timeout
        self.tmpdir: Path | None = None
        self.socket_path: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._env: dict[str, str] | None = None
        self._log_path: Path | None = None
        self._keepalive: subprocess.Popen | None = None
        self._keepalive_index: str | None = None

    # -- properties ---------------------------------------------------------
    @property
    def monitor(self) -> str:
        return f"{self.sink_name}.monitor"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def env(self) -> dict[str, str]:
        """A full environment (a copy) for subprocesses that use this server."""
        if self._env is None:
            raise PulseError("PulseServer not started")
        return dict(self._env)

    def log(self) -> str:
        """The daemon's log so far (for failure messages)."""
        try:
            return self._log_path.read_text(errors="replace") if self._log_path else ""
        except OSError:
            return ""

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> PulseServer:
        if self._proc is not None:
            raise PulseError("PulseServer already started")
        exe = shutil.which("pulseaudio")
        if exe is None:
            raise PulseError("pulseaudio not found (apt-get install pulseaudio)")
        for tool in ("pactl", "parec"):
            if shutil.which(tool) is None:
                raise PulseError(f"{tool} not found (apt-get install pulseaudio-utils)")

        tmp = Path(tempfile.mkdtemp(prefix="stemtui-pulse-"))
        self.tmpdir = tmp
        runtime = tmp / "run"
        runtime.mkdir(mode=0o700)
        os.chmod(runtime, 0o700)  # mkdir's mode is subject to umask
        pulse_rt = runtime / "pulse"
        pulse_rt.mkdir(mode=0o700)
        home = tmp / "home"
        home.mkdir(mode=0o700)
        state = tmp / "state"
        state.mkdir(mode=0o700)
        self.socket_path = pulse_rt / "native"
        self._log_path = tmp / "pulse.log"
        client_conf = tmp / "client.conf"
        client_conf.write_text("autospawn = no\n")

        common = {
            "XDG_RUNTIME_DIR": str(runtime),
            "PULSE_RUNTIME_PATH": str(pulse_rt),
            "PULSE_STATE_PATH": str(state),
            "PULSE_COOKIE": str(tmp / "cookie"),
            "PULSE_CLIENTCONFIG": str(client_conf),
        }
        daemon_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PULSE_") and k not in ("DISPLAY", "WAYLAND_DISPLAY")
        }
        daemon_env.update(common)
        daemon_env["HOME"] = str(home)  # ~/.config/pulse of the daemon stays private

        client_env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
        client_env.update(common)
        client_env.update(
            {
                "PULSE_SERVER": f"unix:{self.socket_path}",
                "PULSE_SINK": self.sink_name,
                "PULSE_SOURCE": self.monitor,
            }
        )
        self._env = client_env

        cmd = [
            exe,
            "--daemonize=no",  # our own child: known pid, reaped by us
            "-n",  # no default.pa
            "--exit-idle-time=-1",  # never exit when idle
            "--disallow-exit=yes",  # clients can't stop it
            # Real-time scheduling where allowed (root: CI), so a machine busy with a
            # separation on every core does not delay the sound server itself.
            "--realtime=yes",
            "--high-priority=yes",
            "--use-pid-file=yes",  # pid file in our runtime dir only
            "--disable-shm=yes",  # no /dev/shm or memfd (small in containers; noisy memfd bug)
            f"--log-target=file:{self._log_path}",
            (
                f"--load=module-null-sink sink_name={self.sink_name} rate={self.rate}"
                f" channels={self.channels} format=float32le"
            ),
            f"--load=module-native-protocol-unix auth-anonymous=1 socket={self.socket_path}",
        ]
        with open(tmp / "pulse.stdout", "wb") as out:
            self._proc = subprocess.Popen(
                cmd,
                env=daemon_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        try:
            self._wait_ready()
            if self.keepalive:
                self._start_keepalive()
        except PulseError as e:
            text = self._early_output()
            self.stop()
            raise PulseError(f"{e}\n{text}".strip()) from None
        except BaseException:
            self.stop()
            raise
        return self

    def _early_output(self) -> str:
        parts = []
        for p in (self.tmpdir / "pulse.stdout" if self.tmpdir else None, self._log_path):
            try:
                if p is not None:
                    parts.append(p.read_text(errors="replace"))
            except OSError:
                pass
        return "\n".join(s for s in parts if s).strip()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last = ""
        while True:
            if self._proc.poll() is not None:
                raise PulseError(f"pulseaudio exited with status {self._proc.returncode}")
            if self.socket_path.exists():
                try:
                    r = subprocess.run(
                        ["pactl", "list", "short", "sinks"], env=self._env, capture_output=True, text=True, timeout=5
                    )
                except subprocess.TimeoutExpired:
                    last = "pactl timed out"
                else:
                    if r.returncode == 0 and any(
                        line.split("\t")[1:2] == [self.sink_name] for line in r.stdout.splitlines()
                    ):
                        return
                    last = (r.stdout + r.stderr).strip()
            if time.monotonic() > deadline:
                raise PulseError(f"pulseaudio not ready after {self.start_timeout} s ({last})")
            time.sleep(0.05)

    def _start_keepalive(self) -> None:
        before = {ln.split("\t")[0] for ln in self.pactl("list", "short", "sink-inputs").splitlines()}
        self._keepalive = subprocess.Popen(
            [
                "pacat",
                "--playback",
                "-d",
                self.sink_name,
                "--raw",
                "--format=float32le",
                f"--rate={self.rate}",
                f"--channels={self.channels}",
                "--latency-msec=20",
                "--client-name=stemtui-test-keepalive",
                "/dev/zero",
            ],
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._keepalive.poll() is not None:
                raise PulseError(f"keepalive pacat exited with {self._keepalive.returncode}")
            new = {ln.split("\t")[0] for ln in self.pactl("list", "short", "sink-inputs").splitlines()} - before
            if new:
                self._keepalive_index = new.pop()
                break
            if time.monotonic() > deadline:
                raise PulseError("keepalive stream did not appear")
            time.sleep(0.02)
        # Warm-up: the first recorder waits for the sink's pending (up to 2 s)
        # wake-up; pay that once here, not in every test.
        warm = Recording(self, self.tmpdir / "warmup.f32")
        warm.start(timeout=self.start_timeout)
        warm.stop()
        os.unlink(warm.path)

    def stop(self) -> None:
        """Kill the daemon (SIGTERM, then SIGKILL), reap it, remove the tmp dir."""
        ka, self._keepalive = self._keepalive, None
        if ka is not None:
            _terminate(ka)
        self._keepalive_index = None
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate(proc)
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        self._env = None

    def __enter__(self) -> PulseServer:
        return self.start() if self._proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers ------------------------------------------------------------
    def pactl(self, *args: str, check: bool = True) -> str:
        """Run ``pactl ARGS`` against this server; returns stdout."""
        r = subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, timeout=10)
        if check and r.returncode != 0:
            raise PulseError(f"pactl {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def sink_module(self) -> str | None:
        """The index of the module that made the null sink, or ``None`` once unloaded."""
        for ln in self.pactl("list", "short", "modules").splitlines():
            parts = ln.split("\t")
            if len(parts) > 2 and parts[1] == "module-null-sink" and f"sink_name={self.sink_name}" in parts[2]:
                return parts[0]
        return None

    def unload_sink(self) -> None:
        """Remove the null sink under whatever plays into it (a headset that drops).

        Its keepalive and recorders end with it; :meth:`load_sink` brings it back.
        """
        index = self.sink_module()
        if index is None:
            raise PulseError(f"no sink {self.sink_name} to unload")
        self.pactl("unload-module", index)
        ka, self._keepalive = self._keepalive, None
        if ka is not None:
            _terminate(ka)
        self._keepalive_index = None

    def load_sink(self) -> None:
        """Create the null sink again (same name and format), and its keepalive."""
        self.pactl(
            "load-module",
            "module-null-sink",
            f"sink_name={self.sink_name}",
            f"rate={self.rate}",
            f"channels={self.channels}",
            "format=float32le",
        )
        if self.keepalive:
            self._start_keepalive()

    def sink_inputs(self) -> list[str]:
        """Lines of ``pactl list short sink-inputs`` (streams playing now),
        without the keepalive stream."""
        return [
            ln
            for ln in self.pactl("list", "short", "sink-inputs").splitlines()
            if ln.strip() and ln.split("\t")[0] != self._keepalive_index
        ]

    def record(
        self,
        seconds: float | None = None,
        path: str | os.PathLike | None = None,
    ) -> Recording:
        """Start recording the sink's monitor; returns a started :class:`Recording`.

        Use as ``with pulse.record() as rec: ...`` then ``rec.data``, or
        ``rec = pulse.record(); ...; audio = rec.stop()``.  With ``seconds``,
        ``stop()`` first waits until that much time has passed since the start
        and trims the result to ``seconds * rate`` frames.
        """
        if not self.running:
            raise PulseError("PulseServer not running")
        if path is None:
            fd, path = tempfile.mkstemp(prefix="rec-", suffix=".f32", dir=self.tmpdir)
            os.close(fd)
        rec = Recording(self, Path(path), seconds)
        rec.start()
        return rec


# --------------------------------------------------------------------------
# recording
# --------------------------------------------------------------------------


class Recording:
    """A ``parec`` process recording a sink monitor to a raw float32 file.

    ``data`` (after ``stop()``): numpy float32 array, shape (frames, channels).
    """

    def __init__(self, server: PulseServer, path: Path, seconds: float | None = None):
        self.server = server
        self.path = path
        self.seconds = seconds
        self.rate = server.rate
        self.channels = server.channels
        self.data: np.ndarray | None = None
        self.started_at: float | None = None
        self._proc: subprocess.Popen | None = None

    def start(self, timeout: float = 5.0) -> None:
        """Start parec; return once its stream exists on the server and, with
        the server's keepalive on, once audio is actually arriving."""
        before = set(self.server.pactl("list", "short", "source-outputs").splitlines())
        with open(self.path, "wb") as out:
            self._proc = subprocess.Popen(
                [
                    "parec",
                    "-d",
                    self.server.monitor,
                    "--raw",
                    "--format=float32le",
                    f"--rate={self.rate}",
                    f"--channels={self.channels}",
                    "--latency-msec=20",
                ],
                env=self.server.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.PIPE,
                preexec_fn=_die_with_parent,
            )
        # Wait until parec's stream exists on the server and (keepalive) data
        # is flowing, so that whatever plays after start() returns is captured.
        deadline = time.monotonic() + timeout
        connected = False
        while True:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace")
                raise PulseError(f"parec exited with {self._proc.returncode}: {err.strip()}")
            if not connected:
                now = set(self.server.pactl("list", "short", "source-outputs").splitlines())
                connected = bool(now - before)
            if connected and (not self.server.keepalive or self.path.stat().st_size > 0):
                break
            if time.monotonic() > deadline:
                self._kill()
                raise PulseError("parec did not start recording" + ("" if connected else " (no source output)"))
            time.sleep(0.005 if connected else 0.02)
        self.started_at = time.monotonic()

    def _kill(self) -> None:
        if self._proc is not None:
            # SIGINT/SIGTERM make parec drain and exit cleanly.
            _terminate(self._proc)
            if self._proc.stderr:
                self._proc.stderr.close()

    def stop(self) -> np.ndarray:
        """Stop recording (idempotent) and return the audio as (frames, ch) float32."""
        if self.data is not None:
            return self.data
        if self.seconds is not None and self.started_at is not None:
            remaining = self.started_at + self.seconds - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)
        self._kill()
        raw = np.fromfile(self.path, dtype="<f4")
        frames = raw.size // self.channels
        data = raw[: frames * self.channels].reshape(frames, self.channels)
        if self.seconds is not None:
            data = data[: round(self.seconds * self.rate)]
        self.data = np.ascontiguousarray(data, dtype=np.float32)
        return self.data

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.stop()
        else:
            self._kill()


# --------------------------------------------------------------------------
# analysis
# --------------------------------------------------------------------------


def to_mono(x: np.ndarray) -> np.ndarray:
    """(frames,) or (frames, ch) -> (frames,) float64 channel mean."""
    x = np.asarray(x, dtype=np.float64)
    return x if x.ndim == 1 else x.mean(axis=1)


def _as_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return x[:, None]
    if x.ndim != 2:
        raise ValueError(f"expected (frames,) or (frames, channels), got shape {x.shape}")
    return x


def best_lag(
    recording: np.ndarray,
    reference: np.ndarray,
    *,
    min_overlap: int | None = None,
    max_lag: int | None = None,
) -> tuple[int, float]:
    """Align ``reference`` inside ``recording``: returns ``(lag, ncc)``.

    ``recording[lag + n] ~ reference[n]``; ``lag`` may be negative when the
    recording misses the start of the reference.  ``ncc`` is the normalized
    cross-correlation at that lag, computed over the overlapping part only
    (1.0 = identical up to a positive gain; silence outside the overlap does
    not lower it, silence *inside* it does).

    Both arrays are (frames,) or (frames, ch).  With the same channel count,
    the channels are correlated jointly (so a swapped L/R scores low); if
    either is mono or the counts differ, both are mixed to mono first.
    Lags whose overlap is shorter than ``min_overlap`` frames (default: a
    quarter of the shorter input) are ignored, as are ``|lag| > max_lag``.
    Uses FFTs, O((R+N) log(R+N)).
    """
    rec = _as_2d(recording)
    ref = _as_2d(reference)
    if rec.shape[1] != ref.shape[1] or rec.shape[1] == 1:
        rec = to_mono(rec)[:, None]
        ref = to_mono(ref)[:, None]
    R, N = rec.shape[0], ref.shape[0]
    if R == 0 or N == 0:
        return 0, 0.0
    if min_overlap is None:
        min_overlap = max(1, min(R, N) // 4)
    nfft = 1 << (R + N - 1).bit_length()
    spec = np.zeros(nfft // 2 + 1, dtype=np.complex128)
    for c in range(rec.shape[1]):
        spec += np.fft.rfft(rec[:, c], nfft) * np.conj(np.fft.rfft(ref[:, c], nfft))
    cc = np.fft.irfft(spec, nfft)
    lags = np.arange(-(N - 1), R)
    num = cc[lags % nfft]

    # Energies of the overlapping windows, via cumulative sums.
    cs_rec = np.concatenate(([0.0], np.cumsum((rec**2).sum(axis=1))))
    cs_ref = np.concatenate(([0.0], np.cumsum((ref**2).sum(axis=1))))
    lo = np.maximum(0, -lags)  # first reference frame in the overlap
    hi = np.minimum(N, R - lags)  # one past the last
    e_ref = cs_ref[hi] - cs_ref[lo]
    e_rec = cs_rec[hi + lags] - cs_rec[lo + lags]
    overlap = hi - lo
    tiny = 1e-12 * max(cs_rec[-1], cs_ref[-1], 1e-300)
    ok = (overlap >= min_overlap) & (e_ref > tiny) & (e_rec > tiny)
    if max_lag is not None:
        ok &= np.abs(lags) <= max_lag
    if not ok.any():
        return 0, 0.0
    score = np.full(lags.shape, -np.inf)
    score[ok] = num[ok] / np.sqrt(np.clip(e_ref[ok] * e_rec[ok], 1e-300, None))
    i = int(np.argmax(score))
    return int(lags[i]), float(min(score[i], 1.0))


def best_correlation(recording: np.ndarray, reference: np.ndarray, **kw) -> float:
    """Maximum normalized cross-correlation of ``reference`` within ``recording``.

    Robust to an unknown offset in either direction (see :func:`best_lag`,
    which also gives the lag, and takes the same keyword arguments).
    """
    return best_lag(recording, reference, **kw)[1]


def dominant_frequency(x: np.ndarray, sr: int = DEFAULT_RATE) -> float:
    """Frequency in Hz of the strongest spectral peak of ``x`` (mixed to mono).

    Hann window, DC removed, parabolic interpolation on the log magnitude, so
    the result is finer than one FFT bin (sr / len(x)).
    """
    m = to_mono(x)
    if m.size < 4:
        raise ValueError("signal too short")
    m = (m - m.mean()) * np.hanning(m.size)
    mag = np.abs(np.fft.rfft(m))
    mag[0] = 0.0
    k = int(np.argmax(mag))
    if 0 < k < mag.size - 1 and mag[k] > 0:
        a, b, c = np.log(mag[k - 1 : k + 2] + 1e-300)
        denom = a - 2 * b + c
        delta = 0.5 * (a - c) / denom if denom != 0 else 0.0
    else:
        delta = 0.0
    return float((k + delta) * sr / m.size)
