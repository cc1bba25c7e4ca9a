"""``python -m stemtui.bench NAME [--json]``: the project's benchmarks.

Benchmarks are scripts, never timed assertions in tests: the machines are
noisy, so figures are compared side by side within one run.
"""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "mixer": "stemtui.bench.bench_mixer",
    "cache": "stemtui.bench.bench_cache",
    "latency": "stemtui.bench.bench_latency",
    "separation": "stemtui.bench.bench_separation",
    "startup": "stemtui.bench.bench_startup",
    "tempo": "stemtui.bench.bench_tempo",
    "soak": "stemtui.bench.bench_soak",
    "takes": "stemtui.bench.bench_takes",
    "compare": "stemtui.bench.bench_compare",
    "analysis": "stemtui.bench.bench_analysis",
    "trainer": "stemtui.bench.bench_trainer",
}


def main(argv: list[str]) -> int:
    """Dispatch to one benchmark module's ``main(argv)``."""
    if not argv or argv[0] not in BENCHES or argv[0] in ("-h", "--help"):
        print(f"usage: python -m stemtui.bench {{{','.join(BENCHES)}}} [--json] [options]", file=sys.stderr)
        return 2
    try:
        mod = importlib.import_module(BENCHES[argv[0]])
    except ModuleNotFoundError:
        print(f"benchmark {argv[0]!r} is not written yet", file=sys.stderr)
        return 2
    return mod.main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
