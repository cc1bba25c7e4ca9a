"""The soak's garbage-collector figures (stemtui.bench.gcpauses): real collections, counted per generation."""

from __future__ import annotations

import gc

from stemtui.bench.gcpauses import GcPauses


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_gc_pauses_counts_collections_per_generation():
    pauses = GcPauses().install()
    try:
        nodes = [Node() for _ in range(20_000)]
        del nodes
        gc.collect()
        gc.collect(0)
    finally:
        pauses.close()
    f = pauses.figures()
    assert f["runs"][2] >= 1 and f["runs"][0] >= 1 and f["max_ms"][2] > 0.0 and f["total_ms"] > 0.0
    gc.collect()
    assert pauses.figures()["runs"][2] == f["runs"][2]  # closed: no longer counting
