#!/usr/bin/env python3
"""Regenerate screenshots/*.svg and *.png from the real app.

    .venv/bin/python scripts/screenshots.py            # all shots
    .venv/bin/python scripts/screenshots.py --no-png   # SVG only

The app runs headless (Textual's Pilot) on a throw-away store holding the
demo song, with the engine's device-free null stream, so no sound card is
needed and nothing touches your library. The separation screen is fed a
fixed progress report (no model runs), so its shot never churns. SVGs come from Textual's
``export_screenshot``; PNGs from resvg (``pip install resvg-py``), or
``rsvg-convert`` (Debian: librsvg2-bin) where resvg is not installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stemtui.core.audio.engine import Engine  # noqa: E402 -- after the sys.path line
from stemtui.core.audio.song import Song, SongMeta  # noqa: E402 -- after the sys.path line
from stemtui.core.library.catalog import ensure_demo  # noqa: E402 -- after the sys.path line
from stemtui.core.library.store import MANIFEST, Store  # noqa: E402 -- after the sys.path line
from stemtui.core.separation.splitter import Progress, SeparationOptions  # noqa: E402 -- after the sys.path line
from stemtui.settings import Settings  # noqa: E402 -- after the sys.path line
from stemtui.ui.app import StemtuiApp  # noqa: E402 -- after the sys.path line
from stemtui.ui.screens.separation_screen import SeparationScreen  # noqa: E402 -- after the sys.path line
from stemtui.ui.seprun import SeparationRun  # noqa: E402 -- after the sys.path line

OUT = ROOT / "screenshots"
FIXED_DATE = "2025-06-01T18:30:00+00:00"


def _set_created(entry_path: Path, created: str) -> None:
    manifest = entry_path / MANIFEST
    data = json.loads(manifest.read_text())
    data["created"] = created
    manifest.write_text(json.dumps(data, indent=2))


def _tones(folder: Path, names: tuple[str, ...], seconds: float) -> Path:
    """A folder of quiet tone stems: real files for a real import."""
    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True)
    sr = 44100
    t = np.arange(int(seconds * sr)) / sr
    for i, name in enumerate(names):
        tone = (0.2 * np.sin(2 * np.pi * 110.0 * (i + 2) * t)).astype(np.float32)
        sf.write(str(folder / f"{name}.flac"), np.stack([tone, tone], axis=1), sr)
    return folder


def demo_store(root: Path, extra: bool = False) -> Store:
    """A store with the demo song (dated, so shots don't churn).

    With ``extra``, also two imported folders of stems and a damaged entry,
    so the library shows what a used one looks like.
    """
    store = Store(root)
    entry = ensure_demo(store)
    _set_created(entry.path, FIXED_DATE)
    if extra:
        from stemtui.core.library.catalog import import_path

        src = root.parent / "stems-src"
        a, _ = import_path(store, _tones(src / "Rehearsal 12-03", ("vocals", "guitar", "bass", "drums"), 9.0))
        b, _ = import_path(store, _tones(src / "Blue Bossa (play-along)", ("piano", "bass", "drums"), 7.0))
        _set_created(a.path, "2025-05-30T19:05:00+00:00")
        _set_created(b.path, "2025-05-28T10:40:00+00:00")
        broken = store.songs_dir / "c0ffee00d15c0000"
        shutil.copytree(b.path, broken)
        (broken / "piano.flac").unlink()
        data = json.loads((broken / MANIFEST).read_text())
        data.update(title="Autumn Leaves (old take)", created="2025-04-14T21:00:00+00:00")
        (broken / MANIFEST).write_text(json.dumps(data, indent=2))
    return store


def demo_map(store: Store):
    """The demo's song map, found for real (analyze_stems in this process: the shots never wait on a job)."""
    from stemtui.core.analysis.songmap import analyze_stems
    from stemtui.core.library.catalog import demo_id

    song = store.open(store.get(demo_id()), block=True)
    return analyze_stems({n: song.data[i] for i, n in enumerate(song.names)}, song.sample_rate)


def cache_map(settings: Settings, song_map) -> None:
    """Put the demo's map in the map cache of ``settings`` (the player reads it at once)."""
    from stemtui.core.analysis.mapcache import SongMapCache
    from stemtui.core.library.catalog import demo_id

    SongMapCache(settings.data_dir).save(demo_id(), song_map)


def separation_in_progress() -> SeparationRun:
    """A separation frozen at 38 %, as the worker reports one (htdemucs on a CPU)."""
    import numpy as np

    run = SeparationRun(Path.home() / "Music" / "Autumn Leaves (live).flac", SeparationOptions(model="htdemucs"))
    run.title, run.artist, run.phase = "Autumn Leaves", "The Quartet", "separating"
    run.progress = Progress(0.38, 84.0, 221.0, 31.5, 52.0, "htdemucs", "cpu", "bf16", 70 * 44100)
    # Only the stem names and the rate of the progressive song show.
    names = ["drums", "bass", "other", "vocals"]
    run.song = Song(names, np.zeros((4, 1, 2), np.float32), 44100, SongMeta(run.title), available=0)
    return run


def compared_take(store: Store, settings: Settings):
    """The demo's vocals from 0:04 to 0:14, "sung" off pitch here and there and 40 ms late, compared for real.

    The take is the vocals stem resynthesized in 1.2-s pieces, each shifted by
    its own few cents (librosa), imported as a take and run through the real
    comparison job. Returns the :class:`CompareResult`.
    """
    import librosa
    import numpy as np
    import soundfile as sf

    from stemtui.core.analysis.comparejob import CompareJob
    from stemtui.core.library.catalog import demo_id

    entry = store.get(demo_id())
    song = store.open(entry, block=True)
    sr = song.sample_rate
    vocals = song.stem("vocals")[4 * sr : 14 * sr].mean(axis=1)
    piece = round(1.2 * sr)
    cents = (5, 35, -25, 0, 45, -10, 10, 30, 0)
    parts = [
        librosa.effects.pitch_shift(vocals[i : i + piece], sr=sr, n_steps=c / 100.0)
        for i, c in zip(range(0, len(vocals), piece), cents, strict=False)
    ]
    take = np.concatenate([np.zeros(round(0.04 * sr), np.float32), *parts])
    wav = Path(settings.data_dir).parent / "sung.wav"
    sf.write(str(wav), take, sr)
    t = settings.takes_store().import_file(entry.id, wav, 4.0, sr, entry.frames, name="verse")
    return CompareJob(entry.stem_path("vocals"), t.path, t.start_s, t.id, "vocals").run()


async def wait_for(pilot, predicate, timeout: float = 10.0) -> None:
    """Let the app run until ``predicate()`` holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("the app did not get there in time")
        await pilot.pause(0.02)


async def shoot(
    settings: Settings, store: Store, size: tuple[int, int], shots: dict[str, str], result=None
) -> list[Path]:
    """Run the app at ``size`` and save the shots named in ``shots`` (key -> file stem).

    ``result``: the comparison the ``compare`` shot shows.
    """
    saved: list[Path] = []
    app = StemtuiApp(
        settings, store=store, engine_factory=lambda: Engine(null=True), start_dir=ROOT, install_demo=False
    )

    def save(key: str) -> None:
        if key in shots:
            path = OUT / f"{shots[key]}.svg"
            path.write_text(app.export_screenshot(title=f"stemtui — {key}"))
            saved.append(path)

    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.2)
        save("library")
        if "separation" in shots:
            await app.push_screen(SeparationScreen(separation_in_progress()))
            await pilot.pause(0.2)
            save("separation")
            app.pop_screen()
            await pilot.pause(0.1)
        await pilot.press("home", "enter")  # the demo: the top row, newest first
        await wait_for(pilot, lambda: getattr(app.screen, "mixer", None) is not None)
        player = app.screen
        await pilot.press(":")
        await pilot.pause(0.1)
        for _ in range(40):
            await pilot.press("backspace")
        await pilot.press(*"0:07.200-0:16.800", "enter")
        await pilot.press("1", "down", "down", "minus", "minus", "minus")
        # Practice at 85 % with the click: the demo's grid is known (100 BPM),
        # so the shot does not wait for the beat estimate.
        from stemtui.core.analysis.beats import BeatGrid

        player.mixer.metronome.set_grid(BeatGrid(100.0, 0.0, 4, "drums"))
        await pilot.press("comma", "comma", "comma", "k", "c")
        await wait_for(pilot, lambda: player.mixer.current_source.tempo == 0.85, timeout=15)
        await pilot.press("home")
        # Let it play a little so the meters and the playhead show life.
        await wait_for(pilot, lambda: player.playhead() / player.mixer.sample_rate > 11.3, timeout=15)
        await wait_for(pilot, lambda: player.song_map.map is not None)  # the lane shows the cached map
        save("player")
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        save("help")
        if result is not None and "compare" in shots:
            await pilot.press("escape", "space")
            player.takes.show_comparison(result)
            await wait_for(pilot, lambda: getattr(app.screen, "ready", False))
            await pilot.press("down", "down", "down", "down")  # the sharpest note, shaded in the lanes
            await pilot.pause(0.2)
            save("compare")
    return saved


FONT_DIRS = [d for d in ("/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts")) if Path(d).is_dir()]


def to_png(svg: Path) -> Path | None:
    """Render an SVG to PNG next to it; ``None`` if no converter is installed.

    resvg (``pip install resvg-py``: a self-contained wheel) honours the
    ``textLength`` of each run, so box-drawing borders line up; it is tried
    first. ``rsvg-convert`` (Debian's librsvg2-bin) is the fallback: it
    ignores ``textLength``, so right-hand borders can drift by a cell.
    """
    png = svg.with_suffix(".png")
    text = svg.read_text()
    # Textual names Fira Code (a web font, unreachable offline) and Arial for
    # the window title: give both a generic family to fall back on.
    text = text.replace("font-family: arial;", "font-family: arial, sans-serif;")
    try:
        import resvg_py
    except ImportError:
        resvg_py = None
    if resvg_py is not None:
        data = resvg_py.svg_to_bytes(
            svg_string=text,
            zoom=2,
            font_dirs=FONT_DIRS,
            monospace_family="DejaVu Sans Mono",
            sans_serif_family="DejaVu Sans",
        )
        png.write_bytes(bytes(data))
        return png
    if shutil.which("rsvg-convert"):
        # rsvg drops the leading no-break spaces of text runs unless told to keep them.
        text = text.replace("<svg ", '<svg xml:space="preserve" ', 1)
        subprocess.run(["rsvg-convert", "--zoom", "2", "-o", str(png)], input=text.encode(), check=True)
        return png
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-png", action="store_true", help="write SVGs only")
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stemtui-shots-") as tmp:
        # A throw-away HOME, so the library shows the stems where they live
        # on Linux (~/.cache/stemtui/...) without touching the real cache.
        os.environ["HOME"] = tmp
        store = demo_store(Path(tmp) / ".cache" / "stemtui", extra=True)
        shots = {"library": "library", "separation": "separation", "player": "player", "help": "help"}
        shots["compare"] = "compare"
        # A fresh practice-state folder per size: each shot starts from defaults.
        settings = Settings.under(tmp, cache_dir=store.root, data_dir=Path(tmp) / "data-wide")
        # The comparison's take lives in its own data folder: the player shots show no take.
        result = compared_take(store, settings.replace(data_dir=Path(tmp) / "data-takes"))
        song_map = demo_map(store)
        cache_map(settings, song_map)
        saved = asyncio.run(shoot(settings, store, (120, 34), shots, result))
        shots = {"library": "library-80x24", "separation": "separation-80x24", "player": "player-80x24"}
        settings = settings.replace(data_dir=Path(tmp) / "data-80x24")
        cache_map(settings, song_map)
        saved += asyncio.run(shoot(settings, store, (80, 24), shots))
    for svg in saved:
        print(svg.relative_to(ROOT))
        if not args.no_png:
            png = to_png(svg)
            if png is None:
                print("  no PNG: pip install resvg-py (or apt-get install librsvg2-bin)", file=sys.stderr)
            else:
                print(png.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
