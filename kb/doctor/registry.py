"""The rules: each a stable code, the entry that proves it, its documentation and a check.

A rule is a function from `FileFacts` to the nodes it flags (with a message), registered
with `@rule`. Codes are never reused: a dropped rule leaves a gap, so `# noqa: KBD007`
in someone's code never comes to mean something else.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kb.doctor.facts import FileFacts

Check = Callable[[FileFacts], Iterable[tuple[ast.AST, str]]]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str  # kebab-case, as ruff names its rules
    entry: str  # the catalogue entry that explains it and proves it
    summary: str  # one line: what it flags
    why: str  # why it is wrong, in autograd's / nn.Module's terms
    example: str  # code the rule flags
    fix: str  # the same code, fixed (the rule stays quiet)
    check: Check
    # Words the source must contain for the rule to have anything to find: a file without
    # any of them is skipped without asking the rule (most files, in a large tree).
    needs: tuple[str, ...] = ()


RULES: dict[str, Rule] = {}


def rule(
    code: str,
    name: str,
    entry: str,
    summary: str,
    why: str,
    example: str,
    fix: str,
    needs: tuple[str, ...] = (),
) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        if code in RULES:
            raise ValueError(f"rule code {code} registered twice")
        RULES[code] = Rule(
            code,
            name,
            entry,
            summary,
            _dedent(why),
            _dedent(example),
            _dedent(fix),
            check,
            needs,
        )
        return check

    return register


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).strip("\n")


def all_rules() -> dict[str, Rule]:
    """Every registered rule, by code, in code order."""
    import kb.doctor.rules  # noqa: F401  (registers the rules)

    return dict(sorted(RULES.items()))
