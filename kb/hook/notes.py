"""The note the crash hook and the Jupyter extension add: the best entry for a failure.

Only an exact or partial message match makes a note (search's `Hit.match`); a related
hit is a guess, and a guess printed under a crash reads as a diagnosis. The search path
is kb search's own: no torch, no textual. Nothing here may raise into a crashing
program, so callers wrap `note_for_*` in their own guard as well.
"""

from __future__ import annotations

SURE = ("exact", "partial")


class Note:
    """What to tell the user: the entry, how sure, the one-line fix."""

    __slots__ = ("id", "title", "kind", "match", "why", "fix", "fix_code")

    def __init__(
        self, id: str, title: str, kind: str, match: str, why: str, fix: str, fix_code: str
    ) -> None:
        self.id, self.title, self.kind, self.match, self.why = id, title, kind, match, why
        self.fix, self.fix_code = fix, fix_code

    @property
    def sureness(self) -> str:
        if self.match == "exact":
            return "exact match: the documented message"
        return "partial match: most of the documented message"

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def text(self) -> str:
        lines = [
            f"kb: a known {'warning' if self.kind == 'warning' else 'failure'} "
            f"({self.sureness}): {self.title}",
        ]
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        lines.append(f"  more: kb show {self.id}")
        return "\n".join(lines)

    def html(self) -> str:
        from html import escape

        code = (
            f"<pre style='margin:4px 0 0 0'>{escape(self.fix_code)}</pre>" if self.fix_code else ""
        )
        fix = f"<div><b>fix:</b> {escape(self.fix)}</div>" if self.fix else ""
        return (
            "<details class='kb-note' style='border-left:3px solid #d9822b;padding:2px 8px;"
            "margin-top:4px'>"
            f"<summary><b>kb</b>: {escape(self.title)} "
            f"<span style='opacity:.7'>({escape(self.sureness)})</span></summary>"
            f"{fix}{code}<div style='opacity:.7'>more: <code>kb show {escape(self.id)}</code>"
            "</div></details>"
        )


def one_line_fix(fix_text: str, repro: str, fix_code: str) -> str:
    """The Fix section's opening sentence, or else the first line the fix changed."""
    prose = []
    in_fence = False
    for line in fix_text.splitlines():
        if line.lstrip().startswith("```"):
            if in_fence or prose:
                break
            in_fence = True
            continue
        if in_fence:
            continue
        if line.strip():
            prose.append(line.strip())
        elif prose:
            break
    if prose:
        sentence = " ".join(prose)
        end = sentence.find(". ")
        sentence = sentence[: end + 1] if end != -1 else sentence
        return sentence.rstrip(":")
    before = {line.strip() for line in repro.splitlines()}
    for line in fix_code.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("import ", "from ")) and stripped not in before:
            return stripped
    return ""


def best_note(text: str, kind: str | None = None) -> Note | None:
    """The note for a traceback or message text, or None without a sure match."""
    from kb.search import get_entry, search

    hits, _ = search(text, limit=1)
    if not hits or hits[0].match not in SURE:
        return None
    hit = hits[0]
    if kind is not None and hit.kind != kind:
        return None
    entry, _ = get_entry(hit.id)
    if entry is None:
        return None
    fix = one_line_fix(entry["fix_text"], entry["repro"], entry["fix"])
    return Note(hit.id, hit.title, hit.kind, hit.match, hit.why, fix, entry["fix"])


def exception_text(exc_type: type, exc: BaseException, tb: object) -> str:
    """The traceback as Python prints it: what kb search reads best."""
    import traceback

    return "".join(traceback.format_exception(exc_type, exc, tb))


def note_for_exception(exc_type: type, exc: BaseException, tb: object) -> Note | None:
    if not issubclass(exc_type, Exception):
        return None  # KeyboardInterrupt, SystemExit: the user's own doing
    return best_note(exception_text(exc_type, exc, tb))


def note_for_warning(message: object, category: type) -> Note | None:
    return best_note(f"{category.__name__}: {message}", kind="warning")
