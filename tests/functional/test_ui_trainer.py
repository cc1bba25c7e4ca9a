"""The speed trainer key through Pilot: ``T``, a typed plan, the status line, ``T`` again.

The real app, the real engine's null stream and real tempo workers on the demo song.
"""

from __future__ import annotations

from stemtui.ui.trainer_actions import TrainerInputScreen
from tests.functional.test_ui_player import run
from tests.functional.test_ui_practice import type_loop
from tests.functional.test_ui_support import make_app, open_demo, wait_for


def test_trainer_starts_with_a_typed_plan_and_shows_the_pass(demo_store, null_engine):
    app = make_app(demo_store, null_engine)

    async def scenario(pilot):
        player = await open_demo(pilot)
        m = player.mixer
        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainerInputScreen), what="the trainer prompt")
        await pilot.press("enter")  # no loop yet: a notification, the prompt stays
        assert isinstance(app.screen, TrainerInputScreen)
        assert app.messages[-1][0] == "error" and "set a loop first" in app.messages[-1][1]
        app.screen.query_one("#trainer-input").value = "70:5"
        await pilot.press("enter")
        assert isinstance(app.screen, TrainerInputScreen)
        assert "expected START:STEP:EVERY" in app.messages[-1][1]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is player, what="the player")
        await type_loop(pilot, player, "0:04-0:08")
        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainerInputScreen), what="the trainer prompt")
        assert app.screen.query_one("#trainer-input").value == "70:5:2:100"  # offered first
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is player, what="the player")
        await wait_for(
            pilot,
            lambda: player.status.trainer == "pass 1/14 · 70 %" and m.current_source.tempo == 0.7,
            timeout=20,
            what="pass 1 at 70 %",
        )
        assert "70%" in player.status.practice  # the practice part follows the trainer's tempo
        assert "pass 1/14 · 70 %" in player.status.render().plain
        await pilot.press("T")  # stops it; the tempo stays
        await wait_for(pilot, lambda: player.status.trainer == "", what="the trainer to stop")
        assert m.trainer is None and round(m.tempo, 2) == 0.7

    run(app, scenario)
