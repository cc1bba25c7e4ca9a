"""Startup benchmark: ``python -m stemtui.bench startup [--json] [--runs N]``.

Two figures, each the median of N runs (default 5) in fresh processes:

* ``help``: ``stemtui --help`` from exec to exit (target ≤ 0.2 s). It must
  not import numpy, textual or torch.
* ``first_paint``: ``stemtui`` from exec to the library's first paint in a
  100×30 pseudo-terminal (target ≤ 0.8 s), on a cache that already holds
  the demo song (one warm-up run installs it). The app writes the time of
  its first paint to the file named by ``STEMTUI_BENCH_FIRST_PAINT`` and
  exits; the figure is that time minus the time just before the exec.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

from stemtui.settings import BENCH_ENV, CACHE_ENV, DEVICE_ENV, LOG_ENV

TARGETS = {"help": 0.2, "first_paint": 0.8}


def stemtui_command() -> list[str]:
    """The console script next to this interpreter, or ``python -m stemtui``."""
    script = Path(sys.executable).with_name("stemtui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "stemtui"]


def time_help(cmd: list[str]) -> float:
    """Seconds for ``stemtui --help`` to run to completion."""
    t0 = time.perf_counter()
    subprocess.run([*cmd, "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def time_first_paint(cmd: list[str], env: dict[str, str], timeout: float = 30.0) -> float:
    """Seconds from exec to the library's first paint, in a pseudo-terminal."""
    with tempfile.TemporaryDirectory(prefix="stemtui-paint-") as tmp:
        stamp = Path(tmp) / "painted"
        run_env = {**env, BENCH_ENV: str(stamp)}
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))

        def drain() -> None:
            try:
                while os.read(master, 65536):
                    pass
            except OSError:
                pass

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        t0 = time.time()
        proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=run_env, start_new_session=True)
        os.close(slave)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError("the app did not paint in time") from None
        finally:
            os.close(master)
            reader.join(timeout=2)
        if not stamp.exists():
            raise RuntimeError(f"the app exited ({proc.returncode}) without painting")
        return float(stamp.read_text()) - t0


def main(argv: list[str]) -> int:
    """Run both measurements and print a table or, with ``--json``, one object."""
    parser = argparse.ArgumentParser(prog="python -m stemtui.bench startup", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    args = parser.parse_args(argv)
    cmd = stemtui_command()
    with tempfile.TemporaryDirectory(prefix="stemtui-bench-") as tmp:
        env = {
            **os.environ,
            CACHE_ENV: str(Path(tmp) / "cache"),
            LOG_ENV: str(Path(tmp) / "log"),
            DEVICE_ENV: "null",
            "TERM": os.environ.get("TERM", "xterm-256color") or "xterm-256color",
        }
        time_help(cmd)  # warm the page cache
        help_s = [time_help(cmd) for _ in range(args.runs)]
        from stemtui.core.library.catalog import ensure_demo
        from stemtui.core.library.store import Store

        ensure_demo(Store(env[CACHE_ENV]))
        time_first_paint(cmd, env)  # warm-up: bytecode and page cache
        paint_s = [time_first_paint(cmd, env) for _ in range(args.runs)]
    result = {
        "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)),
        "runs": args.runs,
        "help_s": round(statistics.median(help_s), 4),
        "first_paint_s": round(statistics.median(paint_s), 4),
        "help_samples_s": [round(x, 4) for x in help_s],
        "first_paint_samples_s": [round(x, 4) for x in paint_s],
        "targets_s": TARGETS,
    }
    result["ok"] = result["help_s"] <= TARGETS["help"] and result["first_paint_s"] <= TARGETS["first_paint"]
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"stemtui --help        median {result['help_s']:.3f} s  (target ≤ {TARGETS['help']} s)")
        print(f"library first paint   median {result['first_paint_s']:.3f} s  (target ≤ {TARGETS['first_paint']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
