"""What the TUI shows, as plain strings: match labels, entry Markdown, the empty states.

No textual here, so the wording can be tested (and reused) without a terminal.
"""

from __future__ import annotations

import re

# How sure a match is, in the words a reader needs (kb.search.Hit.match).
MATCH_LABELS = {
    "exact": "exact message",
    "partial": "partial message",
    "related": "related words",
}

EMPTY_HELP = """\
## Paste an error, or describe what you see

Paste a whole traceback (it can be hundreds of lines: kb finds the exception line in it),
type an error message, or a few words such as `grad is None` or `loss is nan`.

For example: `RuntimeError: element 0 of tensors does not require grad and does not
have a grad_fn`

Keys: **↓** to the results, **Enter** opens an entry, **ctrl+p** jumps to an entry by id
or title, **F1** lists every key.
"""

NO_MATCH = """\
## No entry matches

Nothing in the catalogue shares words with this text. Try the exception line alone
(`SomeError: message`), fewer words, or describe the symptom (`grad is None`).
"""


def match_label(match: str) -> str:
    return MATCH_LABELS.get(match, match)


def unexplained_note(raised: list[tuple[str, str]]) -> str:
    """Markdown for a paste whose message no entry explains: what kb read, and what next."""
    lines = ["## No entry explains this message yet", ""]
    if raised:
        lines += ["kb read this from the paste:", ""]
        lines += [f"    {kind}: {message}" for kind, message in raised[:3]]
        lines.append("")
    lines += [
        "The entries listed share only some words with it (**related words**); they may not "
        "be your failure. If one is, its see-also section names the look-alikes.",
        "",
        "To add an entry: `kb new my-failure` (see CONTRIBUTING.md).",
    ]
    return "\n".join(lines)


def _code(text: str) -> str:
    """Indented code block: Markdown shows its content verbatim, whatever it holds."""
    return "\n".join("    " + line for line in text.splitlines() or [""])


def _meta(entry: dict) -> str:
    parts = [f"`{entry['id']}`", entry["kind"]]
    if entry.get("area"):
        parts.append(entry["area"])
    if entry.get("tags"):
        parts.append("tags: " + ", ".join(entry["tags"]))
    parts.append(f"torch {entry['torch']}")
    return " · ".join(parts)


def entry_links(entry: dict) -> dict[str, str]:
    """Where a click on a look-alike's id goes (Textual actions)."""
    return {i: f"app.open_entry({i!r})" for i in entry.get("see_also") or []}


def verified_text(entry: dict) -> str:
    """Where the proof ran, one list item per line (Markdown would join bare lines)."""
    from kb.render import verified_line

    lines = verified_line(entry.get("verified") or {}, entry.get("id", "")).splitlines()
    return "\n".join(f"- {_escape_inline(line)}" for line in lines)


def _look_alikes(entry: dict) -> list[str]:
    ids = entry.get("see_also") or []
    if not ids:
        return []
    keyed = [f"**{n}** `{i}`" for n, i in enumerate(ids[:9], 1)]
    return ["**Look-alikes** (press the number, or click): " + " · ".join(keyed), ""]


def preview_markdown(entry: dict, zh: bool = False) -> str:
    """The selected entry in the side pane: what it is, why, and the fix first."""
    out = [f"**{_escape_heading(entry['title'])}**", "", _meta(entry), ""]
    if zh and entry["zh"]["title"]:
        out += [f"**{_escape_inline(entry['zh']['title'])}**", "", entry["zh"]["summary"], ""]
    out += [verified_text(entry), ""]
    if entry["errors"]:
        out += ["**Message:**", ""]
        out += [_code(f"{entry['exception']}: {e}") for e in entry["errors"][:2]]
        out.append("")
    for title, key in (("Symptom", "symptom"), ("Cause", "cause")):
        if entry.get(key):
            out += [f"## {title}", "", entry[key], ""]
    if entry["kind"] == "environment" and entry.get("diagnose"):
        # An environment entry: whether the user's machine has the condition comes first.
        out += ["## Diagnose (run it where it fails)", "", entry["diagnose"], ""]
    out += ["## Fix", "", entry["fix_text"] or f"```python\n{entry['fix']}```", ""]
    if entry.get("explanation"):
        out += ["## Explanation", "", entry["explanation"], ""]
    if entry.get("see_also_text"):
        out += ["## Look-alikes", "", entry["see_also_text"], ""]
    return "\n".join(out)


def full_markdown(entry: dict, zh: bool = False) -> str:
    """The whole entry, as `kb show` prints it, look-alikes first."""
    from kb.render import entry_markdown

    out = [f"**{_escape_heading(entry['title'])}**", "", _meta(entry), ""]
    if zh and entry["zh"]["title"]:
        out += [f"**{_escape_inline(entry['zh']['title'])}**", "", entry["zh"]["summary"], ""]
    out += [verified_text(entry), ""]
    out += _look_alikes(entry)
    out.append(entry_markdown(entry))
    return "\n".join(out)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def _escape_inline(text: str) -> str:
    # Titles are plain text that may hold brackets and underscores (`__init__`, `[1, 3]`).
    return _MD_SPECIAL.sub(r"\\\1", text)


def _escape_heading(text: str) -> str:
    return _escape_inline(text.replace("\n", " "))
