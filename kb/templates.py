"""Message templates: the `errors` strings of an entry, with `{...}` marking variable parts.

`mat1 and mat2 shapes cannot be multiplied ({n}x{k} and {in}x{out})` matches the
message torch prints for any shapes. `{{` and `}}` stand for literal braces. The same
compiled pattern serves the test harness (does torch still print this?) and search
(is the pasted message this one?), so the two can never disagree.

Stdlib only: this module sits on the `kb search` path.
"""

from __future__ import annotations

import re
from functools import lru_cache

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_PART = re.compile(r"\{\{|\}\}|\{[^{}]*\}|[{}]")


class TemplateError(ValueError):
    """A template with an unbalanced brace."""


def strip_ansi(text: str) -> str:
    """Remove terminal colour and cursor codes (coloured tracebacks, torch's bold text)."""
    return _ANSI.sub("", text)


def first_line(message: str) -> str:
    """The first non-blank line of a message, without ANSI codes or surrounding space."""
    for line in strip_ansi(message).splitlines():
        if line.strip():
            return line.strip()
    return ""


def literal_parts(template: str) -> list[str]:
    """The fixed text of a template, split at its variable parts."""
    parts: list[str] = []
    current = ""
    for piece in _split(template):
        if piece is None:
            parts.append(current)
            current = ""
        else:
            current += piece
    parts.append(current)
    return parts


def _split(template: str) -> list[str | None]:
    """Literal chunks, with None where a variable part stands."""
    out: list[str | None] = []
    pos = 0
    for m in _PART.finditer(template):
        out.append(template[pos : m.start()])
        token = m.group(0)
        if token == "{{":
            out.append("{")
        elif token == "}}":
            out.append("}")
        elif token in ("{", "}"):
            raise TemplateError(
                f"unbalanced '{token}' at column {m.start() + 1} (write {token * 2})"
            )
        else:
            out.append(None)
        pos = m.end()
    out.append(template[pos:])
    return out


def check_template(template: str) -> None:
    """Raise TemplateError for an unbalanced brace (without compiling anything)."""
    _split(template)


@lru_cache(maxsize=4096)
def compile_template(template: str) -> re.Pattern[str]:
    """A pattern that matches a whole message line produced from this template."""
    pieces = []
    for piece in _split(strip_ansi(template).strip()):
        pieces.append("(.+?)" if piece is None else re.escape(piece))
    # Whitespace runs are one space to the harness and to a paste alike.
    pattern = "".join(pieces).replace(r"\ ", " ")
    pattern = re.sub(r" +", r"\\s+", pattern)
    return re.compile(pattern, re.DOTALL)


def matches(template: str, message: str) -> bool:
    """Does the first line of `message` match the template exactly (variable parts aside)?"""
    return compile_template(template).fullmatch(first_line(message)) is not None


def prefix(template: str) -> str:
    """The literal text before the first variable part: what a search can look up."""
    head = _split(template)
    out = ""
    for piece in head:
        if piece is None:
            break
        out += piece
    return strip_ansi(out).strip()
