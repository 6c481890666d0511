"""`kb show`: an entry, readable in a terminal, with highlighted code (rich)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text


def verified_line(verified: dict) -> str:
    """`verified on torch 2.13.0: cpu (2026-11-23)`, from the last verification record."""
    if not verified:
        return "not verified on this machine yet (run `kb verify` or `pytest entries/`)"
    parts = []
    for device, rec in sorted(verified.items()):
        name = rec.get("device_name", device)
        label = device if name == device else f"{device} ({name})"
        status = "" if rec.get("outcome") == "passed" else " FAILED"
        parts.append(f"{label}{status} on torch {rec.get('torch')}, {rec.get('date')}")
    return "verified: " + "; ".join(parts)


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
    head.append("\n" + verified_line(entry.get("verified") or {}), style="green")
    console.print(Panel(head, expand=True))
    # The fenced code in Fix keeps its `python fix` info string; rich highlights it as python.
    console.print(Markdown(entry_markdown(entry), code_theme="monokai"))
