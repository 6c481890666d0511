"""`kb show`: an entry, readable in a terminal, with highlighted code (rich)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text


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
        out += [f"    {e}" for e in entry["older_errors"]]
        out.append("")
    for title, key in (
        ("Symptom", "symptom"),
        ("Cause", "cause"),
        ("Explanation", "explanation"),
        ("Diagnose", "diagnose"),
    ):
        if entry.get(key):
            out += [f"## {title}", "", entry[key], ""]
    out += ["## Repro", "", "```python", entry["repro"].rstrip(), "```", ""]
    out += ["## Fix", "", entry["fix_text"] or f"```python\n{entry['fix']}```", ""]
    if entry.get("check"):
        out += ["## Check", "", "```python", entry["check"].rstrip(), "```", ""]
    if entry.get("see_also_text"):
        out += ["## See also", "", entry["see_also_text"], ""]
    if entry.get("links"):
        out += ["## Reports", ""] + [f"- {u}" for u in entry["links"]] + [""]
    return "\n".join(out)


def render_entry(entry: dict, console: Console | None = None) -> None:
    console = console or Console(file=sys.stdout, soft_wrap=False)
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
    console.print(Panel(head, expand=True))
    # The fenced code in Fix keeps its `python fix` info string; rich highlights it as python.
    console.print(Markdown(entry_markdown(entry), code_theme="monokai"))
