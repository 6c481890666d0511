"""`kb tui`: paste a traceback, read the entry that explains it, copy the fix, run the proof.

A thin front end: searching is kb.search.search(), reading an entry kb.search.get_entry(),
running the proof kb.prove.Proof. What the first frame needs (the query box, the results
list, the footer) is imported here; the Markdown preview, the search library and the other
screens are imported after the first frame.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from concurrent.futures import ThreadPoolExecutor

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Footer, Static
from textual.widgets.option_list import Option

from kb.catalogue import entries_phrase
from kb.tui.widgets import Preview, QueryBox, ResultList, hit_prompt, row_prompt

# A big paste is searched after it settles; typed words at once (each search replaces
# the one before, so fast typing never queues searches up).
BIG_QUERY = 20_000
BIG_QUERY_DELAY = 0.15
# Queries up to this long (typed words, one message) search on the event loop; longer
# ones (a pasted traceback) in the search thread.
INLINE_QUERY = 400
PREVIEW_DELAY = 0.3
SEARCH_LIMIT = 8
FILTERED_LIMIT = 200


def _entry_commands():
    # The palette's provider, imported when the palette first opens.
    from kb.tui.commands import EntryCommands

    return EntryCommands


class KbApp(App):
    """The kb field guide in a terminal."""

    # Absolute: Textual resolves a relative path against the file of the running subclass.
    CSS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kb.tcss")
    TITLE = "kb"
    COMMANDS = App.COMMANDS | {_entry_commands}
    # Side by side on a wide terminal, stacked on a narrow one.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    # Priority: the query box has its own uses for some function keys (F6, F7 select).
    BINDINGS = [
        Binding("f1", "help", "Help", priority=True),
        Binding("f2", "copy_fix", "Copy fix", priority=True),
        Binding("f3", "copy_id", "Copy id", show=False, priority=True),
        Binding("f5", "prove", "Run proof", priority=True),
        Binding("f6", "filters", "Filter", show=False, priority=True),
        Binding("f7", "toggle_zh", "中文", show=False, priority=True),
        Binding("f8", "toggle_dark", "Light/dark", show=False, priority=True),
        Binding("ctrl+l", "focus_query", "Query", show=False),
    ]

    zh: reactive[bool] = reactive(False)

    def __init__(self, query: str = "", db: str | None = None) -> None:
        super().__init__()
        self.initial_query = query
        self.db = db
        # One search thread: kb.search keeps one index connection per thread, so every
        # search after the first reuses it.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-search")
        self.entries: dict[str, dict] = {}  # id -> entry (kb show --json shape), read lazily
        self.catalogue: list[dict] = []  # kb list --json rows, for filters and the palette
        self.rows_by_id: dict[str, dict] = {}
        self.filters: dict[str, str | None] = {"kind": None, "tag": None, "area": None}
        self.hits: list = []
        self.current_id: str | None = None
        self.last_query = ""
        self.search_count = 0
        self.searched_inline: str | None = None  # searched on the event loop, not yet Changed
        self.catalogue_read = False
        self.searched_at = 0.0
        self.last_status = ""
        self.preview = None  # the preview's Static, mounted after the first frame
        self.preview_source = ""  # the Markdown it shows
        self.previewed: tuple | None = None  # what the preview shows: (entry id, zh)
        self.shown_rows: tuple | None = None  # what the results list shows

    # -- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        box = QueryBox(self.initial_query, id="query")
        box.on_edit = self._edited
        box.border_title = "Paste a traceback, type a message or describe the symptom"
        yield box
        with Horizontal(id="main", classes="-empty"):
            yield ResultList(id="results")
            with VerticalScroll(id="preview-pane"):
                yield Static(Content("Loading…"), id="placeholder")
        yield Static(id="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(QueryBox).focus()
        self.call_after_refresh(self._after_first_frame)

    @work(group="startup")
    async def _after_first_frame(self) -> None:
        # Rich's Markdown in one widget: re-rendered on every highlight change, it costs a
        # fraction of Textual's Markdown widget, which mounts a widget per block.
        self.preview = Preview(id="preview")
        pane = self.query_one("#preview-pane")
        await pane.query("#placeholder").remove()
        await pane.mount(self.preview)
        loop = asyncio.get_running_loop()
        # Warm the index (and the imports of search) before the first keystroke needs them.
        try:
            self.catalogue = await loop.run_in_executor(self.executor, self._load_catalogue)
        except Exception as exc:  # noqa: BLE001 - a broken catalogue is reported, not fatal
            self.set_status(f"kb: cannot read the catalogue: {type(exc).__name__}: {exc}")
        self.catalogue_read = True
        # Everything built so far (Textual, the catalogue) lives as long as the app: kept
        # out of the collector, a full collection no longer walks it in mid-keystroke
        # (one took 40-50 ms).
        gc.freeze()
        self.search_now()

    def _load_catalogue(self) -> list[dict]:
        from kb.search import list_entries

        rows, problems = list_entries(db=self.db)
        if problems:
            self.call_from_thread(
                self.set_status, f"{len(problems)} entry file(s) skipped: run `kb lint`"
            )
        return rows

    # -- searching ---------------------------------------------------------------------

    def _edited(self) -> None:
        if not self.catalogue_read:
            return  # the first search runs once the index is open
        text = self.query_one(QueryBox).search_text()
        if len(text) <= INLINE_QUERY:
            self.search_now(text)

    @on(QueryBox.Changed, "#query")
    def _query_changed(self) -> None:
        text = self.query_one(QueryBox).search_text()
        if text != self.searched_inline:
            self.search_now(text)

    def search_now(self, text: str | None = None) -> None:
        if text is None:
            text = self.query_one(QueryBox).search_text()
        self.searched_inline = None
        if len(text) > INLINE_QUERY:
            self._search(text)
            return
        self.searched_inline = text
        # A typed query searches in a few milliseconds: done here, its results are drawn
        # in the same frame as the keystroke, instead of a thread hop and a frame later.
        self.workers.cancel_group(self, "search")
        try:
            result = self._run_search(text, self._limit())
        except Exception as exc:  # noqa: BLE001 - one line in the status, never a crash
            self.set_status(f"kb: search failed: {type(exc).__name__}: {exc}")
            return
        self._show_results(text, *result)

    def _limit(self) -> int:
        return FILTERED_LIMIT if any(self.filters.values()) else SEARCH_LIMIT

    @work(exclusive=True, group="search")
    async def _search(self, text: str) -> None:
        if len(text) > BIG_QUERY:
            await asyncio.sleep(BIG_QUERY_DELAY)
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                self.executor, self._run_search, text, self._limit()
            )
        except Exception as exc:  # noqa: BLE001 - one line in the status, never a crash
            self.set_status(f"kb: search failed: {type(exc).__name__}: {exc}")
            return
        self._show_results(text, *result)

    def _run_search(self, text: str, limit: int) -> tuple[list, list[tuple[str, str]]]:
        from kb.search import search
        from kb.tb import read_paste

        if not text.strip():
            return [], []
        hits, _ = search(text, limit=limit, db=self.db)
        raised = [(r.type, r.message) for r in read_paste(text).raised]
        return hits, raised

    def _passes(self, entry_id: str) -> bool:
        if not any(self.filters.values()):
            return True
        row = self._row(entry_id)
        if row is None:
            return False
        kind, tag, area = self.filters["kind"], self.filters["tag"], self.filters["area"]
        return (
            (not kind or row["kind"] == kind)
            and (not tag or tag in row["tags"])
            and (not area or row.get("area") == area)
        )

    def _row(self, entry_id: str) -> dict | None:
        if len(self.rows_by_id) != len(self.catalogue):
            self.rows_by_id = {row["id"]: row for row in self.catalogue}
        return self.rows_by_id.get(entry_id)

    def _show_results(self, text: str, hits: list, raised: list[tuple[str, str]]) -> None:
        from kb.tui.view import EMPTY_HELP, NO_MATCH, match_label, unexplained_note

        self.search_count += 1
        self.searched_at = time.perf_counter()
        self.last_query = text
        results = self.query_one(ResultList)
        filtered = any(self.filters.values())
        hits = [h for h in hits if self._passes(h.id)][: SEARCH_LIMIT if not filtered else None]
        self.hits = hits
        summary = self._summary
        self.query_one("#main").set_class(not text.strip() and not filtered, "-empty")
        if not text.strip():
            if filtered:
                rows = [r for r in self.catalogue if self._passes(r["id"])]
                results.set_rows([Option(row_prompt(r, self.zh), id=r["id"]) for r in rows])
                self.shown_rows = None
                summary(f"{entries_phrase(len(rows))} · {self._filter_text()}")
                if not rows:
                    self._show_markdown("## No entry has these filters\n\nPress F6 to change them.")
                return
            results.set_rows([])
            self.shown_rows = None
            summary(f"{len(self.catalogue)} entries in the catalogue")
            self._show_markdown(EMPTY_HELP)
            self.current_id = None
            return
        best = hits[0] if hits else None
        unexplained = bool(raised) and best is not None and best.match == "related"
        # Typing on often leaves the results as they were: keep the list (and what is
        # highlighted in it) rather than rebuilding it.
        shown = (tuple((h.id, h.match, h.why) for h in hits), unexplained, self.zh)
        if shown != self.shown_rows:
            options = [Option(hit_prompt(h, self._zh_title(h.id)), id=h.id) for h in hits]
            results.set_rows(options, highlight=not unexplained)
        self.shown_rows = shown
        if best is None:
            self.current_id = None
            self._show_markdown(NO_MATCH)
            extra = f" with {self._filter_text()}" if filtered else ""
            summary(f"No entry matches{extra}")
            return
        if unexplained:
            # An exception no template explains: say so before any confident-looking title.
            summary("No entry explains this message yet · related entries")
            self._show_markdown(unexplained_note(raised))
            self.current_id = None
        else:
            read = f" · kb read {raised[0][0]}" if raised else ""
            extra = f" · {self._filter_text()}" if filtered else ""
            sure = match_label(best.match)
            summary(f"{entries_phrase(len(hits))} · best: {sure}{read}{extra}")

    def _summary(self, text: str) -> None:
        # Border titles are markup; the summary quotes what kb read from the paste.
        self.query_one(ResultList).border_title = Content(text)

    def _filter_text(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.filters.items() if v) or "no filter"

    def _zh_title(self, entry_id: str) -> str:
        if not self.zh:
            return ""
        row = self._row(entry_id)
        return row["zh"]["title"] if row else ""

    # -- preview -------------------------------------------------------------------------

    @on(ResultList.OptionHighlighted, "#results")
    def _highlighted(self, event: ResultList.OptionHighlighted) -> None:
        if event.option.id:
            self.current_id = event.option.id
            self._load_preview(event.option.id)

    @on(ResultList.OptionSelected, "#results")
    def _selected(self, event: ResultList.OptionSelected) -> None:
        if event.option.id:
            self.open_entry(event.option.id)

    @work(exclusive=True, group="preview")
    async def _load_preview(self, entry_id: str) -> None:
        from kb.tui.view import entry_links, preview_markdown

        if self.previewed == (entry_id, self.zh):
            return
        # Rendering Markdown costs more than a search: while keys come fast, only the
        # entry the user stops at is rendered.
        await asyncio.sleep(PREVIEW_DELAY)
        entry = await self.entry(entry_id)
        if entry is None or entry_id != self.current_id:
            return
        text = preview_markdown(entry, zh=self.zh)
        self._show_markdown(text, (entry_id, self.zh), entry_links(entry))

    def code_theme(self) -> str:
        return "monokai" if self.current_theme.dark else "default"

    def _show_markdown(self, text: str, what: tuple | None = None, links=None) -> None:
        self.previewed = what
        if self.preview is not None and text != self.preview_source:
            self.preview_source = text
            self.preview.show(text, self.code_theme(), links)
            self.query_one("#preview-pane").scroll_home(animate=False)

    async def entry(self, entry_id: str) -> dict | None:
        """One entry (the `kb show --json` shape), read in the search thread, then kept."""
        if entry_id not in self.entries:
            from kb.search import get_entry

            loop = asyncio.get_running_loop()
            entry, _ = await loop.run_in_executor(
                self.executor, lambda: get_entry(entry_id, db=self.db)
            )
            if entry is None:
                return None
            self.entries[entry_id] = entry
        return self.entries[entry_id]

    def action_open_entry(self, entry_id: str) -> None:
        self.open_entry(entry_id)

    def open_entry(self, entry_id: str) -> None:
        from kb.tui.screens import EntryScreen

        self.push_screen(EntryScreen(entry_id))

    # -- actions -------------------------------------------------------------------------

    def set_status(self, text: str) -> None:
        self.last_status = text
        status = self.query_one("#status", Static)
        status.update(Content(text))
        status.display = bool(text)
        for screen in self.screen_stack:
            for status in screen.query(".status"):
                status.update(Content(text))

    def action_focus_query(self) -> None:
        self.screen.query_one(QueryBox).focus() if self.screen is self.screen_stack[0] else None

    @on(QueryBox.Leave)
    def _leave_query(self) -> None:
        results = self.query_one(ResultList)
        if results.option_count:
            results.focus()

    def selected_id(self) -> str | None:
        screen_id = getattr(self.screen, "entry_id", None)
        return screen_id or self.current_id

    async def action_copy_fix(self) -> None:
        entry_id = self.selected_id()
        if not entry_id:
            self.set_status("Nothing to copy: no entry is selected.")
            return
        entry = await self.entry(entry_id)
        if entry is None:
            return
        if not entry["fix"].strip():
            # Environment entries may fix with steps (install, rebuild) rather than code.
            self.set_status("Nothing copied: this entry's fix is steps to follow, not code.")
            return
        lines = len(entry["fix"].splitlines())
        await self.copy(entry["fix"], f"the fix ({lines} lines)")

    async def action_copy_id(self) -> None:
        entry_id = self.selected_id()
        if not entry_id:
            self.set_status("Nothing to copy: no entry is selected.")
            return
        await self.copy(entry_id, f"the id {entry_id}")

    async def copy(self, text: str, what: str) -> None:
        """OSC 52 to the terminal, and the platform's clipboard command where there is one."""
        from kb.clipboard import copy_with_command

        self.copy_to_clipboard(text)
        loop = asyncio.get_running_loop()
        command = await loop.run_in_executor(None, copy_with_command, text)
        # Which way it went: OSC 52 reaches the terminal (not every terminal takes it), a
        # command reaches the desktop's clipboard.
        how = f"{command} + OSC 52" if command else "OSC 52 only (no clipboard command)"
        self.set_status(f"Copied {what} via {how}")

    def action_prove(self) -> None:
        from kb.tui.screens import ProofScreen

        entry_id = self.selected_id()
        if not entry_id:
            self.set_status("No entry selected: pick one to run its proof.")
            return
        self.push_screen(ProofScreen(entry_id))

    def action_filters(self) -> None:
        from kb.tui.screens import FilterScreen

        def apply(filters: dict | None) -> None:
            if filters is not None:
                self.filters = filters
                self.search_now()

        self.push_screen(FilterScreen(self.catalogue, dict(self.filters)), apply)

    def action_toggle_zh(self) -> None:
        self.zh = not self.zh
        self.set_status("Summaries in Chinese (中文)." if self.zh else "Summaries in English.")
        self.search_now()
        if self.current_id:
            self._load_preview(self.current_id)
        refresh = getattr(self.screen, "refresh_entry", None)
        if refresh:
            refresh()

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def action_help(self) -> None:
        from kb.tui.screens import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def on_unmount(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
