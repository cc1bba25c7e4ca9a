"""``python -m stemtui.bench soak`` runs end to end: keys pressed, a separation run, figures reported.

The figures themselves (underruns, gaps, RSS) are the benchmark's business,
never asserted here: the test machine is noisy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.audio,
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in ("pulseaudio", "pactl", "pacat")),
        reason="needs pulseaudio and pulseaudio-utils",
    ),
]

MINUTES = 0.3


def test_soak_reports_keys_separations_and_figures():
    r = subprocess.run(
        [sys.executable, "-m", "stemtui.bench", "soak", "--minutes", str(MINUTES), "--json"],
        capture_output=True,
        text=True,
        timeout=MINUTES * 60 + 240,  # catches a hang only
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for field in (
        "underruns",
        "steady_max_gap_ms",
        "steady_max_gap_periods",
        "steady_gap_source",
        "period_ms",
        "rss_mb",
        "errors",
        "targets",
        "pass",
        "keys",
        "separations",
    ):
        assert field in out, field
    assert out["device"].startswith("pulse"), out["device"]  # the real sink, not the null stream
    assert out["callbacks"] > 0
    # The keys were really pressed, at 10 a second, each a mixer call.
    assert out["keys"] >= 10 * MINUTES * 60 * 0.8, out["key_counts"]
    assert {"mute", "solo", "volume", "seek", "tempo"} <= set(out["key_counts"]), out["key_counts"]
    assert out["tempo_changes"], "no tempo change in the run"
    # A separation really ran beside the playback.
    assert out["separations"]["started"] >= 1
    assert out["separations"]["progress_events"] >= 1, out["separations"]
    assert isinstance(out["errors"], list) and all(isinstance(e, str) for e in out["errors"])
    rss = out["rss_mb"]
    assert rss["start"] > 0 and rss["end"] > 0 and rss["peak"] >= rss["end"]
    assert isinstance(out["underruns"], int)
    # The bare reference stream played beside the player, on the same sink.
    ref = out["reference"]
    assert "error" not in ref, ref
    assert ref["callbacks"] >= 0.8 * MINUTES * 60 * out["sample_rate"] / 512, ref
    assert ref["steady_max_gap_ms"] > 0 and isinstance(ref["underruns"], int)
    # The collector's runs while it played (young collections always happen).
    assert sum(out["gc"]["runs"]) >= 1 and len(out["gc"]["max_ms"]) == 3, out["gc"]
