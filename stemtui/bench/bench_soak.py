"""Soak test: ``python -m stemtui.bench soak [--minutes 10] [--json]``.

A practice session, compressed: the real app core plays the demo song on the
ALSA ``pulse`` device of a private PulseAudio server (a null sink), while

* a thread presses 10 keys a second, calling exactly the mixer methods the
  player's key handlers call: mute, solo, volume, seek, loop edits (set,
  nudge, toggle, clear), and a tempo change every 30 s (0.85, 1.15, 1.0 …);
  the song restarts when it ends, as the play key does;
* a real :class:`~stemtui.core.separation.job.SeparationJob` separates a
  synthesized song with demucs's offline ``demucs_unittest`` model, niced as
  the player's separations are, and starts again whenever it finishes.

It reports the underruns (target 0), the steady-state largest gap between
two callbacks (target ≤ 2 block periods; ``Engine.steady_max_gap_ms`` where the
engine has it, else the bench's own figure over the callbacks after the
first 3 s, and the JSON says which), the player process's RSS and its
growth (target ≤ 50 MB), and every error: the engine's faults, tempo
errors, exceptions in the key thread or the separation loop, and what
PortAudio/ALSA wrote on stderr (one line each, counted).

RSS "at start" is read after warm-up (the first minute, or half a shorter
run: the song loaded, the first tempo change made, a separation done);
"at end" once the keys have stopped and the tempo is back at 1.0× for 5 s,
the state it started in, so start and end compare like with like (the
figure as played is reported too). ``parts`` split RSS into anonymous
memory, mapped files and shared memory, and ``deleted``: mappings of files
already deleted, memory held for nothing. A ``timeline`` samples RSS every
15 s.

The private server's main thread, which receives the player's audio from
the socket, runs at real-time priority as its sink thread does (where
allowed; ``--server-normal-priority`` leaves it, the JSON's
``server_realtime_threads`` says how many were promoted): left at normal
priority on a shared machine it made the steady gap a figure of the other
load (see ``Pulse._promote``).

This module is the parent: it starts the sound server and runs the soak
(:mod:`stemtui.bench.soak_player`) in a child process with the server's
environment (PortAudio finds the ``pulse`` device only if the server is
reachable when it initialises), so the RSS is the player's own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

SR = 44100
SINK = "stemtui_soak"
TARGET_GAP_PERIODS = 2.0
TARGET_RSS_GROWTH_MB = 50.0


# -- the sound server (parent) ----------------------------------------------------------
class Pulse:
    """A throw-away PulseAudio daemon with one null sink, our own child process."""

    def __init__(self, keepalive: bool = True, server_rt: bool = True) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="stemtui-soak-"))
        self.keepalive = keepalive
        self.server_rt = server_rt
        #: Threads of the daemon given SCHED_FIFO by :meth:`_promote` (0: none, e.g. no privilege).
        self.promoted = 0
        self.procs: list[subprocess.Popen] = []
        run = self.tmp / "run"
        (run / "pulse").mkdir(parents=True)
        os.chmod(run, 0o700)
        os.chmod(run / "pulse", 0o700)
        (self.tmp / "home").mkdir(mode=0o700)
        (self.tmp / "client.conf").write_text("autospawn = no\n")
        self.socket = run / "pulse" / "native"
        common = {
            "XDG_RUNTIME_DIR": str(run),
            "PULSE_RUNTIME_PATH": str(run / "pulse"),
            "PULSE_STATE_PATH": str(self.tmp / "home"),
            "PULSE_COOKIE": str(self.tmp / "cookie"),
            "PULSE_CLIENTCONFIG": str(self.tmp / "client.conf"),
        }
        base = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
        self.daemon_env = {**base, **common, "HOME": str(self.tmp / "home")}
        self.env = {**base, **common, "PULSE_SERVER": f"unix:{self.socket}", "PULSE_SINK": SINK}

    def start(self) -> Pulse:
        cmd = [
            "pulseaudio",
            "--daemonize=no",
            "-n",
            "--exit-idle-time=-1",
            "--disallow-exit=yes",
            "--realtime=yes",
            "--high-priority=yes",
            "--disable-shm=yes",
            f"--log-target=file:{self.tmp / 'pulse.log'}",
            f"--load=module-null-sink sink_name={SINK} rate={SR} channels=2 format=float32le",
            f"--load=module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
        ]
        self._spawn(cmd, self.daemon_env)
        deadline = time.monotonic() + 15
        while True:
            if self.procs[0].poll() is not None:
                raise RuntimeError(f"pulseaudio exited with status {self.procs[0].returncode}")
            r = subprocess.run(["pactl", "list", "short", "sinks"], env=self.env, capture_output=True, text=True)
            if r.returncode == 0 and SINK in r.stdout:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("pulseaudio did not become ready within 15 s")
            time.sleep(0.1)
        if self.server_rt:
            self.promoted = self._promote(self.procs[0].pid)
        if self.keepalive:  # a 20 ms stream of zeros keeps the sink's clock fine-grained, as in the tests
            zero = f"--raw --format=float32le --rate={SR} --channels=2 --latency-msec=20 /dev/zero"
            self._spawn(["pacat", "--playback", "-d", SINK, *zero.split()], self.env)
        return self

    @staticmethod
    def _promote(pid: int) -> int:
        """Give the daemon's normal threads SCHED_FIFO (where allowed); how many got it.

        ``--realtime=yes`` makes only the sink's I/O thread real-time; the
        main thread, which receives the player's audio from the socket (no
        shared memory here), stays at normal priority. On this shared 2-core
        VM it was then late often enough to cost the player several periods
        between callbacks, even a bare sounddevice stream with an empty
        callback (4.2–10.3 periods against 1.5–3.2 with it promoted, 20-s
        runs at load 7–8): a figure of the machine's load, not of stemtui.
        """
        done = 0
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return 0
        for tid in tids:
            try:
                if os.sched_getscheduler(int(tid)) == os.SCHED_OTHER:
                    os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(10))
                    done += 1
            except (AttributeError, OSError, ValueError):
                continue
        return done

    def _spawn(self, cmd: list[str], env: dict) -> None:
        self.procs.append(
            subprocess.Popen(
                cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        shutil.rmtree(self.tmp, ignore_errors=True)


# -- the parent: server, child, report ---------------------------------------------------
def _start_reference(pulse: Pulse) -> subprocess.Popen:
    """The bare reference stream (:mod:`stemtui.bench.soak_reference`), playing until its stdin closes."""
    return subprocess.Popen(
        [sys.executable, "-m", "stemtui.bench.soak_reference"],
        env=pulse.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def _reference_figures(ref: subprocess.Popen | None) -> dict | None:
    """Stop the reference stream; its figures (``None``: not run; ``error``: it failed)."""
    if ref is None:
        return None
    try:
        out, _ = ref.communicate(input="", timeout=30)
        return json.loads(out.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError):
        ref.kill()
        ref.wait(5)
        return {"error": f"the reference stream failed (status {ref.returncode})"}


def _judge(r: dict) -> None:
    gap = r["steady_max_gap_periods"]
    r["targets"] = {
        "underruns": 0,
        "steady_max_gap_periods": TARGET_GAP_PERIODS,
        "rss_growth_mb": TARGET_RSS_GROWTH_MB,
        "errors": 0,
    }
    r["pass"] = {
        "underruns": r["underruns"] == 0,
        "steady_max_gap": gap is not None and gap <= TARGET_GAP_PERIODS,
        "rss_growth": r["rss_mb"]["growth"] <= TARGET_RSS_GROWTH_MB,
        "errors": not r["errors"],
    }
    r["ok"] = all(r["pass"].values())


def _stderr_errors(path: Path) -> list[str]:
    """What PortAudio, ALSA or anything else wrote on the child's stderr, counted."""
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return []
    return [f"stderr: {ln}" + (f" (x{n})" if n > 1 else "") for ln, n in Counter(lines).items()]


def _print_table(r: dict) -> None:
    ok = {True: "ok", False: "FAIL"}
    p = r["pass"]
    print(f"soak on {r['machine']}, {r['duration_s']} s on {r['device']} (load {r['load']})")
    print(f"  sound server        {r['server_realtime_threads']} thread(s) promoted to SCHED_FIFO")
    print(f"  keys pressed        {r['keys']} ({r['keys_per_s']}/s), tempo changes {r['tempo_changes']}")
    sep = r["separations"]
    print(
        f"  separations         {sep['started']} started, {sep['finished']} finished, {sep['progress_events']} progress"
    )
    print(f"  underruns           {r['underruns']:<10} target 0            {ok[p['underruns']]}")
    print(
        f"  steady max gap      {r['steady_max_gap_ms']} ms = {r['steady_max_gap_periods']} periods"
        f"  target <= {TARGET_GAP_PERIODS:g} periods of {r['period_ms']} ms  {ok[p['steady_max_gap']]}"
    )
    print(
        f"                      ({r['steady_gap_source']}; start-up {r['startup_s']} s, max gap {r['max_gap_ms']} ms)"
    )
    ref = r.get("reference")
    if ref and "error" not in ref:
        print(
            f"  reference stream    {ref['steady_max_gap_ms']} ms = {ref['steady_max_gap_periods']} periods, "
            f"{ref['underruns']} underruns (a bare stream beside the player: the platform's own figure)"
        )
    elif ref:
        print(f"  reference stream    {ref['error']}")
    m = r["rss_mb"]
    print(
        f"  RSS                 {m['start']} (at {m['start_at_s']} s) -> {m['end']} MB (+{m['growth']}), "
        f"peak {m['peak']} MB"
        f"  target growth <= {TARGET_RSS_GROWTH_MB:g} MB  {ok[p['rss_growth']]}"
    )
    print(f"                      (as played, before going back to 1.0x: {m['end_as_played']} MB)")
    a, b = m["parts_start"], m["parts_end"]
    print("                      (" + ", ".join(f"{k} {a.get(k)} -> {b[k]}" for k in b) + " MB)")
    g = r["gc"]
    print(
        f"  garbage collector   runs {g['runs']}, longest {g['max_ms']} ms per generation (0, 1, 2), "
        f"{g['total_ms']} ms in all"
    )
    w = r["render_workers"]
    print(f"  render workers      {w['started']} started, {w['given_back']} given back after a run for the next")
    print(f"  errors              {len(r['errors'])}{'':9}target 0            {ok[p['errors']]}")
    for line in r["errors"]:
        print(f"    {line}")


def main(argv: list[str]) -> int:
    """Run the soak benchmark; see the module docstring."""
    ap = argparse.ArgumentParser(prog="python -m stemtui.bench soak")
    ap.add_argument("--json", action="store_true", help="one JSON object")
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to play (fractions allowed)")
    ap.add_argument("--keys-per-s", type=float, default=10.0)
    ap.add_argument("--tempo-every", type=float, default=30.0, help="seconds between tempo changes")
    ap.add_argument("--no-keepalive", action="store_true", help="no 20 ms stream of zeros beside the player")
    ap.add_argument(
        "--server-normal-priority", action="store_true", help="leave the sound server's main thread at normal priority"
    )
    ap.add_argument(
        "--no-reference", action="store_true", help="no bare reference stream beside the player (soak_reference)"
    )
    ap.add_argument("--blocksize", type=int, default=0, help="frames per callback (default: the engine's)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not args.minutes > 0 or not args.keys_per_s > 0 or not args.tempo_every > 0 or args.blocksize < 0:
        ap.error("--minutes, --keys-per-s and --tempo-every must be > 0, --blocksize >= 0")
    seconds = args.minutes * 60.0
    if args.child:  # inside the server's environment: play, print the figures
        from stemtui.bench.soak_player import soak

        figures = soak(seconds, args.keys_per_s, args.tempo_every, "pulse", args.blocksize)
        print(json.dumps(figures))
        return 0
    missing = [t for t in ("pulseaudio", "pactl", "pacat") if shutil.which(t) is None]
    if missing:
        print(
            f"soak: {', '.join(missing)} not installed (apt-get install pulseaudio pulseaudio-utils)", file=sys.stderr
        )
        return 2
    load0 = os.getloadavg()
    pulse = Pulse(keepalive=not args.no_keepalive, server_rt=not args.server_normal_priority)
    ref = None
    try:
        pulse.start()
        ref = None if args.no_reference else _start_reference(pulse)
        err = pulse.tmp / "child.stderr"
        cmd = [sys.executable, "-m", "stemtui.bench", "soak", "--child", f"--minutes={args.minutes}"]
        cmd += [f"--keys-per-s={args.keys_per_s}", f"--tempo-every={args.tempo_every}"]
        cmd += [f"--blocksize={args.blocksize}"] if args.blocksize else []
        with open(err, "w") as errf:
            proc = subprocess.run(
                cmd, env={**pulse.env, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.PIPE, stderr=errf, text=True,
                timeout=seconds + 300,
            )  # fmt: skip
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = (err.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
            print(f"soak: the player process failed (status {proc.returncode}): {tail}", file=sys.stderr)
            return 1
        result = {"bench": "soak", "minutes": args.minutes, **json.loads(lines[-1])}
        result["errors"] += _stderr_errors(err)
        result["reference"] = _reference_figures(ref)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 1
    finally:
        if ref is not None and ref.poll() is None:
            ref.kill()
            ref.wait(5)
        pulse.stop()
    load1 = os.getloadavg()
    result["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    result["load"] = f"1-min load {load0[0]:.2f} before, {load1[0]:.2f} after"
    result["keepalive"] = not args.no_keepalive
    result["server_realtime_threads"] = pulse.promoted
    _judge(result)
    if args.json:
        print(json.dumps(result))
    else:
        _print_table(result)
    return 0
