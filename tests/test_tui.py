"""`kb tui` as a user drives it (Textual's Pilot): paste, read, navigate, copy, filter, jump."""

from __future__ import annotations

import asyncio

import pytest
from conftest import entry_text
from textual import events
from tui_helpers import CROSS_ENTROPY_TB, ready, screen_text, settle, until

from kb.search import get_entry
from kb.tui.app import KbApp
from kb.tui.screens import EntryScreen, FilterScreen, HelpScreen
from kb.tui.widgets import Preview, QueryBox, ResultList


def run(coro):
    return asyncio.run(coro)


def on_screen(app, kind):
    def condition() -> bool:
        return isinstance(app.screen, kind)

    condition.__name__ = f"a {kind.__name__}"
    return condition


async def paste(pilot, text: str) -> None:
    pilot.app.post_message(events.Paste(text))
    await settle(pilot)


async def replace_query(pilot, text: str) -> None:
    box = pilot.app.query_one(QueryBox)
    box.focus()
    box.clear()
    await paste(pilot, text)


def test_pasted_traceback_puts_the_right_entry_first():
    async def go():
        app = KbApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            assert app.focused is app.query_one(QueryBox)
            await paste(pilot, CROSS_ENTROPY_TB)
            assert app.hits[0].id == "cross-entropy-target-dtype"
            assert app.hits[0].match == "exact"
            text = screen_text(app)
            assert "exact message" in text and "cross-entropy-target-dtype" in text
            # The preview shows the entry, its fix among the first sections.
            assert app.current_id == "cross-entropy-target-dtype"
            assert "Fix" in app.preview_source and "Class labels" in app.preview_source
            # The whole paste stays in the box, not only its first line.
            assert app.query_one(QueryBox).document.line_count >= 11

    run(go())


def test_typing_updates_the_results():
    async def go():
        app = KbApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press(*"CUDA out of memory")
            await settle(pilot)
            assert app.hits[0].id.startswith("cuda-")
            app.query_one(QueryBox).select_all()
            await pilot.press(*"implicitly created")
            await settle(pilot)
            assert app.hits[0].id == "backward-non-scalar"
            assert app.last_query == "implicitly created"

    run(go())


def test_navigate_open_and_back():
    async def go():
        app = KbApp("element 0 of tensors does not require grad and does not have a grad_fn")
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            assert len(app.hits) >= 3
            await pilot.press("tab")
            results = app.query_one(ResultList)
            assert app.focused is results
            await pilot.press("down")
            await settle(pilot)
            assert app.current_id == app.hits[1].id
            assert app.hits[1].title.split(":")[0] in app.preview_source
            await pilot.press("enter")
            await until(pilot, on_screen(app, EntryScreen))
            assert isinstance(app.screen, EntryScreen)
            assert app.screen.entry_id == app.hits[1].id
            assert "## Repro" in app.screen.query_one(Preview).source
            # A look-alike opens with a click on its id, or with its number; Escape walks
            # back one screen at a time.
            see_also = app.screen.entry["see_also"]
            first = app.screen
            lines = screen_text(app).splitlines()
            row = next(y for y, line in enumerate(lines) if see_also[0] in line)
            await pilot.click(offset=(lines[row].index(see_also[0]) + 2, row))
            await until(pilot, lambda: getattr(app.screen, "entry_id", "") == see_also[0])
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is first)
            await pilot.press("2")
            await until(pilot, lambda: getattr(app.screen, "entry_id", "") == see_also[1])
            await pilot.press("escape")
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, EntryScreen))
            assert app.focused is results
            # Down from the last line of the query box goes to the results too.
            app.query_one(QueryBox).focus()
            await pilot.press("down")
            assert app.focused is results

    run(go())


def test_click_opens_an_entry():
    async def go():
        app = KbApp("grad can be implicitly created only for scalar outputs")
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            # The second result's first line (inside the list's border).
            await pilot.click(ResultList, offset=(20, 3))
            await until(pilot, on_screen(app, EntryScreen))
            assert app.screen.entry_id == app.hits[1].id
            assert isinstance(app.screen, EntryScreen)

    run(go())


def test_copy_fix_and_id(monkeypatch):
    copied = []

    def fake_command(text: str) -> str:
        copied.append(text)
        return "wl-copy"

    monkeypatch.setattr("kb.clipboard.copy_with_command", fake_command)

    async def go():
        app = KbApp("grad can be implicitly created only for scalar outputs")
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            fix = get_entry("backward-non-scalar")[0]["fix"]
            await pilot.press("f2")
            await settle(pilot)
            assert app.clipboard == fix and copied == [fix]
            assert "Copied the fix (7 lines) via wl-copy + OSC 52" in screen_text(app)
            await pilot.press("tab", "i")
            await settle(pilot)
            assert app.clipboard == "backward-non-scalar"
            # In the entry screen, c copies that entry's fix.
            await pilot.press("enter")
            await until(pilot, on_screen(app, EntryScreen))
            await pilot.press("c")
            await settle(pilot)
            assert app.clipboard == fix

    run(go())


def test_filters_by_kind_and_tag():
    async def go():
        app = KbApp("gradient is None after backward")
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            assert {h.kind for h in app.hits} != {"silent"}
            await pilot.press("f6")
            await until(pilot, on_screen(app, FilterScreen))
            screen = app.screen
            screen.query_one("#filter-kind").value = "silent"
            await settle(pilot)
            await pilot.click("#filter-done")
            await settle(pilot)
            assert app.hits and {h.kind for h in app.hits} == {"silent"}
            # No query: browse the catalogue by tag.
            app.filters = {"kind": None, "tag": "autograd", "area": None}
            app.query_one(QueryBox).clear()
            await settle(pilot)
            results = app.query_one(ResultList)
            ids = [results.get_option_at_index(i).id for i in range(results.option_count)]
            rows = {r["id"]: r for r in app.catalogue}
            assert len(ids) > 5 and all("autograd" in rows[i]["tags"] for i in ids)

    run(go())


def test_command_palette_jumps_to_an_entry():
    async def go():
        app = KbApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("ctrl+p")
            await settle(pilot)
            await pilot.press(*"backward-non-scalar")
            await asyncio.sleep(0.3)
            await settle(pilot)
            await pilot.press("enter")
            await until(pilot, on_screen(app, EntryScreen))
            assert isinstance(app.screen, EntryScreen)
            assert app.screen.entry_id == "backward-non-scalar"

    run(go())


def test_help_lists_the_keys():
    async def go():
        app = KbApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("f1")
            await until(pilot, on_screen(app, HelpScreen))
            assert isinstance(app.screen, HelpScreen)
            assert "copy the fix code" in screen_text(app)
            await pilot.press("end")  # the rest is a scroll away at 24 lines
            await settle(pilot)
            assert "jump to an entry by id or title" in screen_text(app)
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, HelpScreen))

    run(go())


INJECTION = "[bold]loud[/] [link=https://example.com]x[/link] [torch.FloatTensor [1, 3]] [/]"


def test_markup_in_pastes_and_entries_is_shown_literally(tmp_path, monkeypatch):
    folder = tmp_path / "entries"
    folder.mkdir()
    text = entry_text("markup-title").replace(
        'title: "backward() on a non-scalar: grad can be implicitly created only for scalar '
        'outputs"',
        f'title: "Shape {INJECTION} in the title"',
    )
    text = text.replace("`backward()` raises.", f"`backward()` raises {INJECTION} here.")
    (folder / "markup-title.md").write_text(text, encoding="utf-8")
    monkeypatch.setenv("KB_ENTRIES", str(folder))
    monkeypatch.setenv("KB_DB", str(tmp_path / "index.db"))

    async def go():
        app = KbApp()
        async with app.run_test(size=(160, 40)) as pilot:
            await ready(pilot)
            query = f"\x1b[31mRuntimeError\x1b[0m: grad can be implicitly created {INJECTION}"
            await paste(pilot, query)
            assert app.hits and app.hits[0].id == "markup-title"
            shown = screen_text(app)
            assert "[bold]loud[/]" in shown
            assert "[link=https://example.com]x[/link]" in shown
            assert "[torch.FloatTensor [1, 3]]" in shown
            # ESC is shown as a visible mark, never sent to the terminal.
            assert "␛[31mRuntimeError␛[0m" in shown and "\x1b" not in shown
            # Related only (the message is not the documented one whole): nothing is
            # selected for the user, who picks the entry.
            await pilot.press("tab", "down", "enter")
            await until(pilot, on_screen(app, EntryScreen))
            shown = screen_text(app)
            assert "[bold]loud[/]" in shown and "[torch.FloatTensor [1, 3]]" in shown

    run(go())


def test_empty_catalogue(tmp_path, monkeypatch):
    (tmp_path / "entries").mkdir()
    monkeypatch.setenv("KB_ENTRIES", str(tmp_path / "entries"))
    monkeypatch.setenv("KB_BUNDLED", "0")  # only the empty folder, not kb's own catalogue
    monkeypatch.setenv("KB_DB", str(tmp_path / "index.db"))

    async def go():
        app = KbApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            assert "Paste an error" in screen_text(app)
            await paste(pilot, CROSS_ENTROPY_TB)
            assert app.hits == []
            assert "No entry matches" in screen_text(app)
            await pilot.press("f2")
            await settle(pilot)
            assert "Nothing to copy" in app.last_status

    run(go())


def test_no_match_and_unexplained_message():
    async def go():
        app = KbApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await paste(pilot, "qqzzxx wibblewobble")
            assert app.hits == [] and "No entry matches" in screen_text(app)
            await replace_query(
                pilot, "RuntimeError: the flux capacitor overheated while folding tensors"
            )
            assert app.hits and app.hits[0].match == "related"
            text = screen_text(app)
            assert "No entry explains this message yet" in text
            assert "the flux capacitor overheated" in app.preview_source
            assert "related words" in text
            # Nothing is presented as the answer: no entry is selected.
            assert app.current_id is None

    run(go())


def test_a_one_megabyte_paste():
    noise = "".join(
        f"step {i}: loss=0.{i % 97:02d} lr=1e-3 [rank0] tokens/s=1234\n" for i in range(20000)
    )
    assert len(noise) > 1_000_000

    async def go():
        app = KbApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await paste(pilot, noise + CROSS_ENTROPY_TB)
            assert app.hits[0].id == "cross-entropy-target-dtype"
            # The box keeps the paste's last lines and says how much it holds.
            box = app.query_one(QueryBox)
            assert box.text.endswith(CROSS_ENTROPY_TB) and box.document.line_count <= 301
            assert "1.0 MB pasted" in screen_text(app)
            # The keyboard still works: the box takes a key after the paste.
            await pilot.press("end", "x")
            await settle(pilot)
            assert app.query_one(QueryBox).text.endswith("x")

    run(go())


@pytest.mark.parametrize("command", [["tui"], ["tui", "some text"]])
def test_tui_without_a_terminal_says_so(command, tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "kb", *command],
        input=b"RuntimeError: x\n",
        capture_output=True,
        start_new_session=True,  # no controlling terminal, as in CI or a cron job
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.decode().startswith("kb: kb tui needs a terminal")
    assert b"Traceback" not in done.stderr
