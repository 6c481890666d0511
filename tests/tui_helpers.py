"""Driving `kb tui` in tests: wait for its workers, read the screen as text, compare SVGs."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

from rich.console import Console

SNAPSHOTS = Path(__file__).parent / "snapshots"

# A real traceback, as a user's terminal shows it (cross-entropy given float labels).
CROSS_ENTROPY_TB = """\
Traceback (most recent call last):
  File "/home/me/proj/train.py", line 88, in <module>
    main()
  File "/home/me/proj/train.py", line 71, in main
    loss = criterion(out, y)
           ^^^^^^^^^^^^^^^^^
  File "/home/me/.venv/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1775, in _wrapped_call_impl
    return self._call_impl(*args, **kwargs)
  File "/home/me/.venv/lib/python3.11/site-packages/torch/nn/modules/loss.py", line 1310, in forward
    return F.cross_entropy(
RuntimeError: expected scalar type Long but found Float
"""  # noqa: E501


async def settle(pilot, rounds: int = 3) -> None:
    """Until no worker runs and the messages they posted are handled."""
    app = pilot.app
    quiet = 0
    for _ in range(400):
        await pilot.pause(0.02)
        busy = [w for w in app.workers if not w.is_finished and w.group != "proof"]
        if busy:
            quiet = 0
            await asyncio.wait([asyncio.ensure_future(w.wait()) for w in busy], timeout=5)
        else:
            quiet += 1
            if quiet >= rounds:
                # One more frame, so what is on screen is what the state says.
                app.screen.refresh()
                await pilot.pause(0.05)
                return
    raise AssertionError("the app did not settle")


async def until(pilot, condition, timeout: float = 20.0) -> None:
    """Poll until condition() holds (screens mount in their own time on a busy machine)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {condition.__name__}")
        await pilot.pause(0.02)
    await settle(pilot)


async def ready(pilot) -> None:
    """The first frame is up, the catalogue loaded, the first search done."""
    app = pilot.app
    for _ in range(600):
        await pilot.pause(0.01)
        if app.search_count:
            break
    await settle(pilot)


def screen_text(app) -> str:
    """What the terminal shows now, as plain text."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        record=True,
        legacy_windows=False,
        color_system=None,
        force_terminal=True,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def check_snapshot(app, name: str, tmp_path: Path) -> None:
    """Compare the screen with tests/snapshots/NAME.svg (KB_UPDATE_SNAPSHOTS=1 rewrites it).

    pytest-textual-snapshot would do this, but it pins syrupy 4.8, which needs pytest < 9.
    """
    svg = app.export_screenshot(title=name)
    target = SNAPSHOTS / f"{name}.svg"
    if os.environ.get("KB_UPDATE_SNAPSHOTS") or not target.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        target.write_text(svg, encoding="utf-8")
        if not os.environ.get("KB_UPDATE_SNAPSHOTS"):
            raise AssertionError(f"new snapshot {target}: look at it, then rerun")
        return
    expected = target.read_text(encoding="utf-8")
    if svg != expected:
        actual = tmp_path / f"{name}.svg"
        actual.write_text(svg, encoding="utf-8")
        (tmp_path / f"{name}.txt").write_text(screen_text(app), encoding="utf-8")
        raise AssertionError(
            f"{name}: the screen differs from {target}; now: {actual} (text: {name}.txt). "
            "If the change is intended: KB_UPDATE_SNAPSHOTS=1 pytest tests/test_tui_snapshots.py"
        )
