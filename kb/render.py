"""`kb show`: an entry, readable in a terminal, with highlighted code (rich)."""

from __future__ import annotations

import sys

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import CodeBlock, Markdown
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # `kb show ID | head`: rich would exit with status 1; kb's command line ends
        # quietly with 0 on a closed pipe, as for its other commands.
        self.quiet = True
        raise BrokenPipeError


class _Code(CodeBlock):
    """A fenced code block, never wrapped: a wrapped line would start again in column 1
    and be broken Python once copied. A line wider than the terminal is cut, and ends in
    `…` so the cut shows (`kb lint` keeps entries' code within 79 columns, which fits
    80 with the one-column margin)."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.lexer_name != "python":  # a message or output: wrapped, all of it shown
            yield from super().__rich_console__(console, options)
            return
        room = max(options.max_width - 1, 2)
        lines = [
            line if len(line) <= room else line[: room - 1] + "…"
            for line in str(self.text).rstrip().split("\n")
        ]
        yield Syntax("\n".join(lines), self.lexer_name, theme=self.theme, padding=(1, 0, 1, 1))


class _Markdown(Markdown):
    elements = {**Markdown.elements, "fence": _Code}


def verified_line(verified: dict, entry_id: str = "") -> str:
    """Where the entry's proof ran and how it went, from the verification records."""
    from kb.proof import verification_lines

    return "\n".join(verification_lines(verified, entry_id))


def entry_markdown(entry: dict) -> str:
    """The entry's sections as one Markdown document."""
    out = []
    if entry["errors"]:
        out.append("**Message** (torch today):\n")
        out += [f"    {entry['exception']}: {e}" for e in entry["errors"]]
        out.append("")
    if entry["older_errors"]:
        out.append("**Older wordings:**\n")
        ranges = entry.get("older_ranges") or [""] * len(entry["older_errors"])
        out += [
            f"    {e}" + (f"    (torch {spec})" if spec else "")
            for e, spec in zip(entry["older_errors"], ranges, strict=False)
        ]
        out.append("")
    for title, key in (
        ("Symptom", "symptom"),
        ("Cause", "cause"),
        ("Explanation", "explanation"),
        ("Diagnose", "diagnose"),
    ):
        if entry.get(key):
            out += [f"## {title}", "", entry[key], ""]
    if entry["repro"]:  # an environment entry has none: its diagnose block says
        out += ["## Repro", "", "```python", entry["repro"].rstrip(), "```", ""]
    out += ["## Fix", "", entry["fix_text"] or f"```python\n{entry['fix']}```", ""]
    out += bandaids_markdown(entry.get("bandaids") or [])
    if entry.get("check"):
        out += ["## Check", "", "```python", entry["check"].rstrip(), "```", ""]
    if entry.get("see_also_text"):
        out += ["## See also", "", entry["see_also_text"], ""]
    if entry.get("links"):
        out += ["## Reports", ""] + [f"- {u}" for u in entry["links"]] + [""]
    return "\n".join(out)


def bandaids_markdown(bandaids: list[dict]) -> list[str]:
    """Tempting wrong fixes, each with why the check rejects it: "Why not just ..."."""
    if not bandaids:
        return []
    out = ["## Why not just ...", ""]
    for b in bandaids:
        out += [b["label"], "", "```python", b["code"].rstrip(), "```", ""]
    return out


def render_entry(entry: dict, console: Console | None = None) -> None:
    console = console or _Console(file=sys.stdout, soft_wrap=False)
    head = Text()
    head.append(entry["title"], style="bold")
    head.append(f"\n{entry['zh']['title']}\n", style="cyan")
    head.append(entry["zh"]["summary"] + "\n", style="dim")
    head.append(
        f"{entry['id']}  ·  {entry['kind']}  ·  tags: {', '.join(entry['tags'])}  ·  "
        f"devices: {', '.join(entry['devices'])}  ·  torch {entry['torch']}"
        + (f"  ·  fixed in {entry['fixed_in']}" if entry.get("fixed_in") else "")
    )
    verified = entry.get("verified") or {}
    style = {"proven": "green", "failed": "bold red", "stale": "yellow"}.get(
        verified.get("status"), "dim"
    )
    head.append("\n" + verified_line(verified, entry["id"]), style=style)
    if entry.get("folder"):
        head.append(f"\nfrom {entry['folder']}", style="dim")
        if entry.get("overrides"):
            head.append(f" (overrides {entry['overrides']})", style="dim")
    console.print(Panel(head, expand=True))
    # The fenced code in Fix keeps its `python fix` info string; rich highlights it as python.
    console.print(_Markdown(entry_markdown(entry), code_theme="monokai"))
