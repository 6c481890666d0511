"""The screens opened from the main one: an entry full screen, the proof run, the filters,
the help. Imported after the first frame."""

from __future__ import annotations

import time

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Label, ProgressBar, Select, Static

from kb.tui.view import entry_links, full_markdown
from kb.tui.widgets import Preview


class EntryScreen(Screen):
    """One entry, whole: symptom, cause, explanation, repro, fix, check, look-alikes."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("c", "app.copy_fix", "Copy fix"),
        Binding("i", "app.copy_id", "Copy id"),
        Binding("r", "app.prove", "Run proof"),
        Binding("z", "app.toggle_zh", "中文"),
        Binding("q", "app.pop_screen", "Back", show=False),
        *(Binding(str(n), f"see_also({n})", show=False) for n in range(1, 10)),
    ]

    def __init__(self, entry_id: str) -> None:
        super().__init__()
        self.entry_id = entry_id

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="entry-scroll"):
            yield Preview(f"Opening {self.entry_id}…", id="entry")
        yield Static(classes="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#entry-scroll").focus()
        self.refresh_entry()

    @work(exclusive=True, group="entry")
    async def refresh_entry(self) -> None:
        entry = await self.app.entry(self.entry_id)
        view = self.query_one("#entry", Preview)
        if entry is None:
            view.show(f"## No entry `{self.entry_id}`")
            return
        self.entry = entry
        self.sub_title = entry["id"]
        view.show(full_markdown(entry, zh=self.app.zh), self.app.code_theme(), entry_links(entry))

    def action_see_also(self, number: int) -> None:
        entry = getattr(self, "entry", None)
        if entry and 0 < number <= len(entry["see_also"]):
            self.app.open_entry(entry["see_also"][number - 1])


class ProofScreen(ModalScreen):
    """Runs the entry's repro and fix on this machine; outcomes appear as they arrive."""

    BINDINGS = [
        Binding("escape", "close", "Cancel / close"),
        Binding("x", "cancel", "Cancel run"),
    ]

    def __init__(self, entry_id: str, devices: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.entry_id = entry_id
        self.devices = devices
        self.proof = None
        self.cancel_requested = False
        self.running = False
        self.started = time.monotonic()
        self.outcomes: list = []

    def compose(self) -> ComposeResult:
        with Vertical(id="proof-box"):
            yield Label(Content(f"Proof of {self.entry_id}"), id="proof-title")
            yield Static(Content("Starting a Python with torch (a few seconds)…"), id="proof-state")
            yield ProgressBar(total=None, show_eta=False, id="proof-progress")
            yield VerticalScroll(id="proof-log")
            yield Static(Content("x cancels the run · Escape cancels and closes"), id="proof-keys")

    def on_mount(self) -> None:
        self.running = True
        self.set_interval(0.5, self._tick)
        self._run()

    def _widgets_gone(self) -> bool:
        """Closed, or closing: a dismissed screen can still be attached while its widgets
        are already removed, and a run's last messages (or a tick) can arrive then."""
        return not self.is_attached or not self.query("#proof-state")

    def _tick(self) -> None:
        if self.running and not self._widgets_gone():
            done = len(self.outcomes)
            where = f"{done} of {self._total()} phases judged" if done else "starting"
            self.query_one("#proof-state", Static).update(
                Content(f"Running… {where} · {time.monotonic() - self.started:.0f} s")
            )

    def _total(self) -> int:
        if self.proof is not None:
            return self.proof.planned
        from kb.prove import DEVICES, PHASES

        return len(self.devices or DEVICES) * len(PHASES)

    @work(thread=True, exclusive=True, group="proof")
    def _run(self) -> None:
        from kb.prove import DEVICES, ProofError, proof_for

        try:
            proof = proof_for(self.entry_id, self.devices or DEVICES)
        except ProofError as exc:
            self.app.call_from_thread(self._finish, str(exc))
            return
        # Published before the flag is read: a cancel from the UI thread sees one or the other.
        self.proof = proof
        if self.cancel_requested:
            proof.cancel()
        for outcome in proof:
            self.app.call_from_thread(self._add, outcome)
        self.app.call_from_thread(self._finish, None)

    def _add(self, outcome) -> None:
        if self._widgets_gone():  # closed while the run was ending
            return
        self.outcomes.append(outcome)
        bar = self.query_one("#proof-progress", ProgressBar)
        bar.update(total=self._total(), progress=len(self.outcomes))
        style = {"passed": "$success", "skipped": "$text-muted"}.get(outcome.status, "$error")
        mark = {"passed": "✓", "skipped": "–"}.get(outcome.status, "✗")
        line = outcome.line()
        if len(line) > 240:  # a long message; the entry shows it whole
            line = line[:239] + "…"
        parts: list = [(f"{mark} ", style), (line, style)]
        for detail in outcome.details[:6]:
            parts.append(("\n    " + detail, "$text-muted"))
        log = self.query_one("#proof-log", VerticalScroll)
        log.mount(Static(Content.assemble(*parts), classes="outcome"))
        log.scroll_end(animate=False)

    def _finish(self, error: str | None) -> None:
        self.running = False
        if self._widgets_gone():
            return
        elapsed = time.monotonic() - self.started
        state = self.query_one("#proof-state", Static)
        bar = self.query_one("#proof-progress", ProgressBar)
        bar.update(total=self._total(), progress=len(self.outcomes))
        if error:
            text, style = f"Could not run the proof: {error}", "$error"
        elif self.cancel_requested or (self.proof is not None and self.proof.cancelled):
            text, style = f"Cancelled after {elapsed:.1f} s.", "$warning"
        elif self.proof is not None and self.proof.ok:
            text, style = f"Proven here: {self._proven()} · {elapsed:.1f} s", "$success"
        elif self.proof is not None and not [o for o in self.outcomes if o.status != "skipped"]:
            text, style = f"Nothing could run here (see why above) · {elapsed:.1f} s", "$warning"
        else:
            text, style = f"The proof FAILED here (see above) · {elapsed:.1f} s", "$error"
        state.update(Content.assemble((text, f"bold {style}")))
        self.query_one("#proof-keys", Static).update(Content("Escape closes"))
        self.app.set_status(text)

    def _proven(self) -> str:
        phases = {o.phase for o in self.outcomes if o.status == "passed"}
        if "diagnose" in phases or "messages" in phases:
            found = "its messages are in this torch's own files" if "messages" in phases else ""
            ran = "the diagnosis runs" if "diagnose" in phases else ""
            return " and ".join(part for part in (found, ran) if part)
        if any(p.startswith("bandaid") for p in phases):
            return "repro fails, fix heals, band-aids rejected"
        return "repro fails and fix heals"

    def action_cancel(self) -> None:
        self.cancel_requested = True
        if self.running and self.proof is not None:
            self.proof.cancel()
        # Else the entry is still being looked up; the run is cancelled as it starts.

    def action_close(self) -> None:
        self.action_cancel()
        self.dismiss()


class FilterScreen(ModalScreen[dict]):
    """Kind, area and tag; the results keep only entries that have all that are set."""

    BINDINGS = [Binding("escape", "done", "Done")]

    def __init__(self, catalogue: list[dict], filters: dict) -> None:
        super().__init__()
        self.catalogue = catalogue
        self.filters = filters

    def compose(self) -> ComposeResult:
        kinds = sorted({r["kind"] for r in self.catalogue})
        areas = sorted({r["area"] for r in self.catalogue if r.get("area")})
        tags = sorted({t for r in self.catalogue for t in r["tags"]})
        with Vertical(id="filter-box"):
            yield Label(Content("Filter the results"), id="filter-title")
            for name, values in (("kind", kinds), ("area", areas), ("tag", tags)):
                yield Select(
                    [(Content(v), v) for v in values],
                    prompt=f"any {name}",
                    value=self.filters.get(name) or Select.NULL,
                    id=f"filter-{name}",
                )
            with Horizontal(id="filter-buttons"):
                yield Button("Done", id="filter-done", variant="primary")
                yield Button("Clear", id="filter-clear")

    @on(Select.Changed)
    def _changed(self, event: Select.Changed) -> None:
        name = (event.select.id or "").removeprefix("filter-")
        self.filters[name] = None if event.value == Select.NULL else str(event.value)

    @on(Button.Pressed, "#filter-clear")
    def _clear(self) -> None:
        for select in self.query(Select):
            select.clear()
        self.filters = {"kind": None, "tag": None, "area": None}

    @on(Button.Pressed, "#filter-done")
    def action_done(self) -> None:
        self.dismiss(self.filters)


HELP = [
    ("Query box", ""),
    ("type or paste", "search as you type; a whole traceback is fine"),
    ("↓ on the last line, Tab", "go to the results"),
    ("Escape", "clear the query"),
    ("Results", ""),
    ("↑ ↓, mouse", "pick an entry and preview it"),
    ("Enter, click", "open the entry full screen"),
    ("c / F2", "copy the fix code"),
    ("i / F3", "copy the entry id"),
    ("r / F5", "run the entry's proof (repro and fix) here"),
    ("f / F6", "filter by kind, area and tag"),
    ("z / F7", "titles and summaries in Chinese (中文)"),
    ("/ or ctrl+l", "back to the query box"),
    ("Entry screen", ""),
    ("1-9, click a link", "open a look-alike entry"),
    ("Escape, q", "back"),
    ("Proof run", ""),
    ("x", "cancel the run"),
    ("Escape", "cancel and close"),
    ("Anywhere", ""),
    ("ctrl+p", "jump to an entry by id or title (command palette)"),
    ("F8", "light or dark theme"),
    ("F1, ?", "this help"),
    ("ctrl+q", "quit"),
]


class HelpScreen(ModalScreen):
    """Every key."""

    BINDINGS = [
        Binding("escape,f1,q,question_mark", "app.pop_screen", "Close"),
    ]

    def compose(self) -> ComposeResult:
        parts: list = []
        for key, what in HELP:
            if not what:
                parts.append((f"\n{key}\n", "bold $accent"))
            else:
                parts.append((f"  {key:<24}", "bold"))
                parts.append(f"{what}\n")
        with VerticalScroll(id="help-box"):
            yield Static(Content.assemble(*parts).rstrip(), id="help-text")
            yield Static(Content("↑ ↓ scroll · Escape closes this help"), id="help-close")

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()
