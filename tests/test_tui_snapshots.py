"""The main screens at 80x24 against stored SVG screenshots (tests/snapshots/), so a layout
regression shows up in CI. A tiny catalogue keeps them independent of the real entries.

After an intended change: KB_UPDATE_SNAPSHOTS=1 pytest tests/test_tui_snapshots.py, then
look at the new SVGs (a browser shows them) before committing them.
"""

from __future__ import annotations

import asyncio

import pytest
from tui_helpers import check_snapshot, ready, settle, until

from kb.tui.app import KbApp
from kb.tui.screens import EntryScreen, HelpScreen
from kb.tui.widgets import QueryBox

MESSAGE = "RuntimeError: grad can be implicitly created only for scalar outputs"


async def steady(pilot) -> None:
    # A blinking cursor would make two screenshots of the same screen differ.
    for box in pilot.app.query(QueryBox):
        box.cursor_blink = False
    await settle(pilot)
    # Without blinking, Textual shows the cursor where the box had focus when cursor_blink
    # changed, which races with the app moving focus: the snapshots compare layout, so the
    # cursor is left out of them.
    for box in pilot.app.query(QueryBox):
        box._pause_blink(visible=False)
    await settle(pilot)


@pytest.mark.parametrize(
    "name, query, keys, screen",
    # The no-entry screen is left to tests/test_tui.py's text checks: its snapshot raced
    # with the search worker (the cursor drawn or not) and failed one run in three.
    [
        ("empty", "", (), None),
        ("results", MESSAGE, (), None),
        ("entry", MESSAGE, ("tab", "enter"), EntryScreen),
        ("help", "", ("f1",), HelpScreen),
    ],
)
def test_screen_at_80x24(catalogue, tmp_path, name, query, keys, screen):
    async def go():
        app = KbApp(query)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await steady(pilot)
            if keys:
                await pilot.press(*keys)
            if screen is not None:
                await until(pilot, lambda: isinstance(app.screen, screen))
            await steady(pilot)
            check_snapshot(app, name, tmp_path)

    asyncio.run(go())
