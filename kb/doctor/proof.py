"""An entry as the proof of a rule: the rule must flag the repro block and spare the fix.

Used by the pytest plugin for every entry whose front matter says `doctor: [KBDnnn]`.
"""

from __future__ import annotations

from kb.doctor.engine import check_text, select_rules
from kb.model import Entry


def prove(entry: Entry, code: str) -> list[str]:
    """Problems (one line each, `path:line: ...`); empty when the entry proves the rule."""
    try:
        rules = select_rules([code])
    except ValueError as exc:
        return [f"{entry.path}:{entry.line}: {exc}"]
    rules = [r for r in rules if r.code == code]
    if not rules:
        return [f"{entry.path}:{entry.line}: no rule {code} (kb doctor --rules lists them)"]
    problems: list[str] = []
    for role, want in (("repro", True), ("fix", False)):
        block = entry.blocks[role]
        found = [f for f in check_text(block.code, role, rules) if f.code == code]
        if want and not found:
            problems.append(
                f"{entry.path}:{block.line}: {code} does not flag the repro block: the rule "
                "misses the mistake this entry shows"
            )
        for f in found if not want else ():
            problems.append(
                f"{entry.path}:{block.line + f.line - 1}: {code} flags the fix block "
                f"(line {f.line}, col {f.col}): {f.message}"
            )
    return problems
