"""Message templates: the `errors` strings of an entry, with `{...}` marking variable parts.

`mat1 and mat2 shapes cannot be multiplied ({n}x{k} and {in}x{out})` matches the
message torch prints for any shapes. `{{` and `}}` stand for literal braces. The same
matcher serves the test harness (does torch still print this?) and search (is the
pasted message this one?), so the two can never disagree.

A template is matched without regular expressions: its fixed parts must appear in
order, each variable part standing for at least one character, with any run of
whitespace equal to one space on both sides. That is exactly what a `(.+?)` pattern
would test, and it keeps `re` off the `kb search` cold-start path. Stdlib only.
"""

from __future__ import annotations

from kb.lazyre import Pattern

_ANSI = Pattern(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CACHE_SIZE = 4096


class TemplateError(ValueError):
    """A template with an unbalanced brace."""


def strip_ansi(text: str) -> str:
    """Remove terminal colour and cursor codes (coloured tracebacks, torch's bold text)."""
    return _ANSI.sub("", text) if "\x1b" in text else text


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
    while True:
        opening, closing = template.find("{", pos), template.find("}", pos)
        at = min(opening, closing) if opening >= 0 and closing >= 0 else max(opening, closing)
        if at < 0:
            out.append(template[pos:])
            return out
        out.append(template[pos:at])
        if template.startswith("{{", at):
            out.append("{")
            pos = at + 2
        elif template.startswith("}}", at):
            out.append("}")
            pos = at + 2
        elif at == opening and closing >= 0 and template.find("{", at + 1, closing) < 0:
            out.append(None)
            pos = closing + 1
        else:
            token = template[at]
            raise TemplateError(f"unbalanced '{token}' at column {at + 1} (write {token * 2})")


def check_template(template: str) -> None:
    """Raise TemplateError for an unbalanced brace."""
    _split(template)


def _squash(text: str) -> str:
    """Whitespace runs as one space, keeping a space at either end if there was one."""
    core = " ".join(text.split())
    if not core:
        return " " if text else ""
    return (" " if text[0].isspace() else "") + core + (" " if text[-1].isspace() else "")


_compiled: dict[str, tuple[str, ...]] = {}


def compile_template(template: str) -> tuple[str, ...]:
    """The template's fixed parts, whitespace squashed; a variable part stands between
    each two. Raises TemplateError for an unbalanced brace."""
    parts = _compiled.get(template)
    if parts is None:
        if len(_compiled) >= _CACHE_SIZE:
            _compiled.clear()
        parts = tuple(_squash(p) for p in literal_parts(strip_ansi(template).strip()))
        _compiled[template] = parts
    return parts


def _fits(parts: tuple[str, ...], text: str, whole: bool) -> bool:
    """Do the parts occur in `text` in order, with at least one character between
    neighbours (and, if `whole`, the first at the start and the last at the end)?
    Placing each part as early as it can go finds a fit whenever one exists."""
    first = parts[0]
    if len(parts) == 1:
        return text == first if whole else first in text
    if whole:
        if not text.startswith(first):
            return False
        pos = len(first)
    else:
        pos = text.find(first)
        if pos < 0:
            return False
        pos += len(first)
    for part in parts[1:-1]:
        at = text.find(part, pos + 1)
        if at < 0:
            return False
        pos = at + len(part)
    last = parts[-1]
    if whole:
        return len(text) - len(last) > pos and text.endswith(last)
    return text.find(last, pos + 1) >= 0


def fullmatch(template: str, text: str) -> bool:
    """Is this one line of text the template's message, variable parts aside?"""
    return _fits(compile_template(template), _squash(text.strip()), whole=True)


def occurs_in(template: str, text: str) -> bool:
    """Does the template's message occur somewhere in the text (inside prose, say)?"""
    return _fits(compile_template(template), _squash(text), whole=False)


def matches(template: str, message: str) -> bool:
    """Does the first line of `message` match the template exactly (variable parts aside)?"""
    return fullmatch(template, first_line(message))


def prefix(template: str) -> str:
    """The literal text before the first variable part: what a search can look up."""
    head = _split(template)
    out = ""
    for piece in head:
        if piece is None:
            break
        out += piece
    return strip_ansi(out).strip()


# What varies between two runs of the same failure, most specific first: each becomes a
# `{...}` part when a pasted message is turned into a template (`kb new --from-paste`).
_VARIABLE_PARTS = (
    ("size", r"\d+(?:\.\d+)?\s?(?:[KMGT]i?B|bytes)\b"),
    ("shape", r"torch\.Size\(\[[\d,\s]*\]\)"),
    ("shape", r"\[\s*-?\d+(?:\s*(?:,|x)\s*-?\d+)*\s*,?\s*\]"),
    ("shape", r"(?<![\w.])\d+(?:x\d+)+(?![\w.])"),
    ("tensor_type", r"torch\.(?:cuda\.)?[A-Z][a-z]*Tensor"),
    ("dtype", r"torch\.(?:u?int\d+|float\d+|bfloat16|complex\d+|bool|half|double|long)\b"),
    ("device", r"\b(?:cuda|mps|xpu):\d+\b"),
    ("address", r"\b0x[0-9a-fA-F]+\b"),
    # Not inside an address (`https://...`): those are fixed text.
    ("path", r"(?<![:/\w])(?:[A-Za-z]:)?(?:[\\/][\w.\-]+){2,}"),
    # A quoted name (not the apostrophe of "can't"), unless something inside it is
    # marked already.
    ("name", "(?:(?<=^')|(?<=\\W'))[^'\\s\ue000-\uf8ff][^'\ue000-\uf8ff]*(?='(?:\\W|$))"),
    ("name", '(?:(?<=^")|(?<=\\W"))[^"\\s\ue000-\uf8ff][^"\ue000-\uf8ff]*(?="(?:\\W|$))'),
    # A number, also at the end of a sentence ("process 0."), not inside a name.
    ("n", r"(?<![\w.])-?\d+(?:\.\d+)?(?:e-?\d+)?(?!\w|\.\w)"),
)


def template_from_message(message: str) -> str:
    """A template for a pasted message: its shapes, sizes, numbers, quoted names, paths,
    devices and addresses marked as `{...}` parts, literal braces doubled. The result
    always matches the message it came from; where marking would break that, the
    message is kept literal."""
    import re

    text = first_line(message)
    # Each part is first replaced by one private-use character, so later patterns cannot
    # see (or match inside) what earlier ones replaced.
    names: list[str] = []

    def mark(kind: str) -> object:
        def replace(match: re.Match[str]) -> str:
            names.append(kind)
            return chr(0xE000 + len(names) - 1)  # a private-use character: no pattern sees it

        return replace

    for kind, pattern in _VARIABLE_PARTS:
        text = re.sub(pattern, mark(kind), text)
    text = text.replace("{", "{{").replace("}", "}}")
    seen: dict[str, int] = {}

    def name(match: re.Match[str]) -> str:
        kind = names[ord(match.group(0)) - 0xE000]
        seen[kind] = seen.get(kind, 0) + 1
        return "{" + kind + (str(seen[kind]) if seen[kind] > 1 else "") + "}"

    template = re.sub("[\ue000-\uf8ff]", name, text)
    # Two parts side by side would be one part to the matcher: keep the first.
    template = re.sub(r"(\{[a-z_]+\d*\})(?:\{[a-z_]+\d*\})+", r"\1", template)
    if fullmatch(template, first_line(message)):
        return template
    return first_line(message).replace("{", "{{").replace("}", "}}")
