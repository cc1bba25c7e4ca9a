"""Every `stemtui ...` line in README.md's shell blocks runs, headless, and succeeds.

The README's lines are run as written, in order, against a temp cache with
the demo installed, in a temp working folder with ``HOME`` there too, and
with the PulseAudio harness as the sound server. Only these changes are made
(each is needed for a test, none changes what the line shows):

* ``[--json]`` (an optional flag) runs both without and with it;
* ``play`` gets ``--device null`` when it names no device, and ``--duration 4``
  when it has none (``--duration 8`` for a count-in): the song would end by
  itself, only later;
* separation runs ``-n demucs_unittest`` (demucs's random-weight test model):
  trained weights cannot be downloaded offline;
* after ``stemtui rm demo`` the demo is reinstalled (the next lines use it).

The files the lines name are made first: ``song.mp3``, ``a.mp3``, ``b.flac``,
``c.m4a`` and ``track.stem.mp4`` (synthesized tones), ``song.lrc``, and ``~/stems/mysong/``
with ``drums.wav``, ``bass.flac`` and ``vocals.mp3``.

Not run: ``stemtui``, ``stemtui SONG`` and ``stemtui song.mp3``, which open
the interactive TUI (the Pilot tests cover them), and ``make run``. The
``python -m stemtui.bench ...`` commands are not in shell blocks (they are
named in the benchmark prose) and take minutes each: they are not run here.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.unit.test_audio_io import encode_aac, sine

README = Path(__file__).resolve().parents[2] / "README.md"
TUI = {"stemtui", "stemtui SONG", "stemtui song.mp3"}


def readme_examples() -> list[str]:
    """The `stemtui ...` lines of README.md's ```sh blocks, comments stripped."""
    lines, inside = [], False
    for raw in README.read_text().splitlines():
        if raw.startswith("```"):
            inside = raw.strip() in ("```sh", "```bash", "```shell") if not inside else False
            continue
        line = raw.split(" #", 1)[0].strip()
        if inside and (line == "stemtui" or line.startswith("stemtui ")):
            lines.append(line)
    return lines


def as_run(line: str) -> list[list[str]]:
    """The argv lists one README line runs as (see the module docstring)."""
    words = shlex.split(line)[1:]
    variants = [words]
    if "[--json]" in words:
        base = [w for w in words if w != "[--json]"]
        variants = [base, [*base, "--json"]]
    out = []
    for w in variants:
        w = list(w)
        if w and w[0] == "play":
            if "--device" not in w:
                w += ["--device", "null"]
            if "--duration" not in w:
                w += ["--duration", "8" if "--count-in" in w else "4"]
        if w and (w[0] == "separate" or (w[0] == "play" and w[1].endswith(".mp3"))):
            if "-n" in w:
                i = w.index("-n")
                del w[i : i + 2]
            w += ["-n", "demucs_unittest"]
        out.append(w)
    return out


def make_inputs(home: Path, cwd: Path) -> None:
    tone = sine(440, seconds=4.0, amp=0.3)
    for name in ("song.mp3", "a.mp3", "b.flac"):
        sf.write(cwd / name, tone, 44100)
    encode_aac(cwd / "c.m4a", [tone])
    (cwd / "song.lrc").write_text("[00:00.50]first line\n[00:02.00]second line\n")
    encode_aac(cwd / "track.stem.mp4", [sine(f, seconds=2.0, amp=0.2) for f in (1000, 200, 100, 600, 880)], cover=True)
    folder = home / "stems" / "mysong"
    folder.mkdir(parents=True)
    for name, f in (("drums.wav", 200), ("bass.flac", 100), ("vocals.mp3", 880)):
        sf.write(folder / name, sine(f, seconds=3.0, amp=0.3), 44100)


def test_the_readme_has_the_examples_this_test_expects():
    lines = readme_examples()
    assert "stemtui play demo --tempo 0.8 --transpose -2 --count-in 4 --loop 0:08-0:16" in lines, lines
    assert len([ln for ln in lines if ln not in TUI]) >= 15, lines


@pytest.mark.audio
def test_every_readme_example_runs_as_written(pulse, tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    cwd.mkdir()
    make_inputs(home, cwd)
    env = {**pulse.env, "HOME": str(home), "STEMTUI_CACHE_DIR": str(tmp_path / "cache")}

    def stemtui(argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "stemtui", *argv],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    assert stemtui(["demo"]).returncode == 0
    failures = []
    ran = 0
    for line in readme_examples():
        if line in TUI:
            continue
        for argv in as_run(line):
            r = stemtui(argv)
            ran += 1
            if r.returncode != 0 or "Traceback" in r.stderr + r.stdout:
                failures.append(f"{line!r} as {shlex.join(argv)}: exit {r.returncode}\n{r.stderr[-800:]}")
        if re.fullmatch(r"stemtui rm demo", line):
            assert stemtui(["demo"]).returncode == 0
    assert ran >= 15
    assert not failures, "\n\n".join(failures)
    # What the named exports wrote is there.
    assert (cwd / "karaoke.wav").is_file() and (cwd / "drums.flac").is_file()
    assert list(cwd.glob("Demo - Night Drive (no vocals, 80%, click).wav")), sorted(p.name for p in cwd.iterdir())
    assert np.abs(sf.read(cwd / "karaoke.wav", dtype="float32")[0]).max() > 0.01
