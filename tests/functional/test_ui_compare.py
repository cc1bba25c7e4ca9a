"""The comparison view, driven through Pilot, with CompareResults built here (the view's input).

The view is checked for what it draws (contours of both parts, cents and
ms per note, the summary's words, the worst notes) and for what it does:
``enter`` on a note's row loops that note in the player, ``esc`` closes.
"""

from __future__ import annotations

import asyncio

import pytest

from stemtui.core.analysis.comparison import CompareResult, NoteResult
from stemtui.ui.compare_draw import (
    BOTH,
    REF,
    TAKE,
    pitch_lines,
    summary,
    summary_text,
    timing_line,
)
from stemtui.ui.screens.compare_screen import CompareScreen
from stemtui.ui.take_actions import NOTE_MARGIN_S
from tests.functional.test_ui_support import make_app, open_demo, settle, wait_for

SIZE = (100, 30)
HOP = 0.01

#: (start, end, midi, cents, onset ms): in tune, sharp and late, flat and early, in tune.
NOTES = [
    (1.0, 1.5, 60.0, 4.0, 8.0),
    (1.5, 2.0, 62.0, 48.0, 45.0),
    (2.0, 2.6, 64.0, -35.0, -30.0),
    (2.6, 3.2, 65.0, 1.0, 0.0),
]


def make_result(offset_ms: float = 40.0, notes=NOTES, start: float = 1.0, end: float = 3.2) -> CompareResult:
    """Contours that follow the notes: the reference on pitch, the take off by each note's cents."""
    n = round((end - start) / HOP)
    ref: list[float | None] = []
    take: list[float | None] = []
    for i in range(n):
        t = start + i * HOP
        note = next((x for x in notes if x[0] <= t < x[1]), None)
        if note is None or t - note[0] < 0.03:  # a breath between notes
            ref.append(None)
            take.append(None)
            continue
        ref.append(note[2])
        take.append(note[2] + note[3] / 100.0)
    results = tuple(NoteResult(*x) for x in notes)
    order = sorted(range(len(results)), key=lambda i: -abs(results[i].cents))
    return CompareResult(
        take_id="1",
        reference="vocals",
        offset_ms=offset_ms,
        median_abs_cents=19.5,
        in_tune_pct=50.0,
        notes=results,
        worst=tuple(order[:3]),
        hop_s=HOP,
        start_s=start,
        ref_contour=tuple(ref),
        take_contour=tuple(take),
    )


async def shown(pilot, player, result) -> CompareScreen:
    """Open the view from the player, as the compare key does, and wait until it has drawn its rows."""
    app = pilot.app
    player.takes.show_comparison(result)

    def ready():
        screen = app.screen
        return isinstance(screen, CompareScreen) and screen.is_mounted and screen.ready

    await wait_for(pilot, ready, what="the comparison view")
    await pilot.pause(0.05)
    return app.screen


def run(app, scenario, size=SIZE):
    async def main():
        async with app.run_test(size=size, notifications=True) as pilot:
            await scenario(pilot)

    asyncio.run(main())


def test_summary_words_say_drag_rush_or_on_time():
    assert summary(make_result(40.0)) == "you drag by 40 ms"
    assert summary(make_result(-25.0)) == "you rush by 25 ms"
    assert summary(make_result(4.0)) == "on time (+4 ms)"
    text = summary_text(make_result(40.0)).plain
    assert "median 20 cents off" in text and "50% within ±25 cents" in text
    # The worst three, worst first, each with its time, note and cents.
    worst = text.split("worst: ", 1)[1]
    assert worst.index("0:01.5 D4 +48 c") < worst.index("0:02.0 E4 -35 c") < worst.index("0:01.0 C4 +4 c")
    assert "F4" not in worst


def test_pitch_lane_draws_both_contours_and_the_cents_of_each_note():
    r = make_result()
    lines = pitch_lines(r, 85, 8)
    assert len(lines) == 9  # 8 rows of contours, then the note edges with cents
    styles = {span.style for line in lines[:8] for span in line.spans}
    assert REF in styles and TAKE in styles  # the sharp and flat notes part the two lines
    assert BOTH in styles  # the in-tune notes run together
    dots = "".join(line.plain[5:] for line in lines[:8])
    assert any(0x2800 < ord(c) <= 0x28FF for c in dots)
    cents = lines[8].plain
    assert [w for w in cents.replace("▏", " ").split() if w != "cents"] == ["+4", "+48", "-35", "+1"]

    # Higher notes draw higher: the F4 note (last) sits above the C4 one (first).
    def top_row(col_range):
        for row, line in enumerate(lines[:8]):
            if any(line.plain[5 + c] != chr(0x2800) for c in col_range):
                return row
        return None

    assert top_row(range(68, 78)) < top_row(range(2, 12))
    timing = timing_line(r, 85).plain
    assert [w for w in timing.replace("▏", " ").split() if w != "ms"] == ["+8", "+45", "-30", "+0"]


def test_compare_view_lists_notes_enter_loops_one_esc_closes(demo_store, null_engine):
    app = make_app(demo_store, null_engine, autoplay=False)
    result = make_result()

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        view = await shown(pilot, player, result)
        table = view.query_one("#notes")
        assert table.row_count == 4
        assert [str(c) for c in table.get_row_at(1)] == ["2", "0:01.5–0:02.0", "D4", "+48 c", "+45 ms", "worst 1"]
        assert "you drag by 40 ms" in str(view.query_one("#compare-summary").render())
        assert view.pitch.selected == 0
        await pilot.press("down", "down")
        assert view.pitch.selected == 2 and view.timing.selected == 2
        # esc closes and leaves the player as it was.
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is player, what="the player")
        assert not m.loop[2] and not m.playing
        # enter on a note: back in the player, looping that note from its start.
        await shown(pilot, player, result)
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: app.screen is player, what="the player")
        await settle(pilot, player)
        sr = m.sample_rate
        start, end, enabled = m.loop
        assert enabled
        assert start == pytest.approx((2.0 - NOTE_MARGIN_S) * sr, abs=2)
        assert end == pytest.approx((2.6 + NOTE_MARGIN_S) * sr, abs=2)
        assert m.playing
        assert start <= m.position < end

    run(app, scenario)


def test_compare_view_with_no_notes_says_so(demo_store, null_engine):
    app = make_app(demo_store, null_engine, autoplay=False)
    empty = make_result(notes=[])

    async def scenario(pilot):
        player = await open_demo(pilot)
        await shown(pilot, player, empty)
        assert app.screen.query_one("#notes").row_count == 0
        assert "overlaps no note" in str(app.screen.query_one("#compare-summary").render())
        await pilot.press("enter")  # nothing to pick: the view stays
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is player, what="the player")

    run(app, scenario)


def test_a_label_that_does_not_fit_its_place_is_left_out_never_cut():
    notes = [(1.0, 1.08, 60.0, 31.0, 40.0), (1.08, 2.0, 62.0, -12.0, -8.0), (2.0, 3.0, 64.0, 5.0, 2.0)]
    r = make_result(notes=notes, end=3.0)
    cents = pitch_lines(r, 45, 4)[-1].plain
    words = [w for w in cents.replace("▏", " ").split() if w != "cents"]
    assert words == ["-12", "+5"]  # the first note is one cell wide: "+31" would run into the next edge
    timing = [w for w in timing_line(r, 45).plain.replace("▏", " ").split() if w != "ms"]
    assert timing == ["-8", "+2"]
