"""Markdown text -> a `Document`: front matter, level-2 sections and fenced blocks, with lines.

This layer only reads structure; it judges nothing (that is `lint.py`) and builds no
`Entry` (that is `entries.py`). Every piece keeps its 1-based line number in the
file, so any problem found later can be reported as `path:line`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from markdown_it import MarkdownIt

_FENCE = re.compile(r"^---\s*$")
# One parser for every file; inline parsing is off because only block structure
# (headings, fences) matters here, and it is most of markdown-it's time.
_MD = (
    MarkdownIt("commonmark")
    .disable(["inline", "text_join"], ignoreInvalid=True)
    # Block rules for constructs an entry's structure never depends on; a fence or a
    # heading inside a list or quote is not an entry section anyway.
    .disable(["table", "blockquote", "hr", "list", "reference", "html_block", "lheading"])
)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:")
# Characters a terminal may act on rather than print (escape sequences, bells, carriage
# returns that overwrite a line); tab and newline are text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class ParseError(Exception):
    """The file cannot be read as an entry at all (no front matter, broken YAML)."""

    def __init__(self, line: int, code: str, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.code = code
        self.message = message


@dataclass
class Section:
    title: str
    line: int  # line of the `## ` heading
    text: str  # Markdown between this heading and the next level-2 heading


@dataclass
class Fence:
    info: str  # the info string, e.g. "python repro"
    code: str
    line: int  # first line of code, after the opening fence
    section: str | None  # title of the level-2 section it sits in
    lead: str = ""  # the paragraph directly before the fence (a band-aid's label), if any


@dataclass
class Paragraph:
    text: str
    line: int
    section: str | None
    leads_fence: bool  # the next block is a fence: the paragraph introduces it


@dataclass
class Document:
    path: str
    meta: dict
    meta_lines: dict[str, int]  # front-matter key -> line
    sections: list[Section] = field(default_factory=list)
    fences: list[Fence] = field(default_factory=list)
    headings_other: list[tuple[int, str]] = field(default_factory=list)  # (line, "# x")
    paragraphs: list[Paragraph] = field(default_factory=list)
    body_line: int = 1
    controls: list[tuple[int, str]] = field(default_factory=list)  # (line, char) to report
    sha: str = ""  # of the file's bytes: what a verification record was made against


def split_front_matter(text: str) -> tuple[str, str, int]:
    """Return (yaml source, body, line where the body starts)."""
    lines = text.split("\n")
    if not lines or not _FENCE.match(lines[0]):
        raise ParseError(1, "KB001", "missing front matter: the file must start with a '---' line")
    for i in range(1, len(lines)):
        if _FENCE.match(lines[i]):
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1 :]), i + 2
    raise ParseError(1, "KB001", "front matter is not closed: add a '---' line after it")


def _refuse_aliases(source: str) -> None:
    """Refuse YAML anchors and aliases: an entry never needs them, and nested aliases
    expand exponentially when loaded (a few lines can take minutes). Read as parser
    events, which never expand anything, and only when the text could hold one."""
    if "&" not in source and "*" not in source:
        return
    try:
        for event in yaml.parse(source, Loader=_YAML_LOADER):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = 2 + event.start_mark.line if event.start_mark else 2
                raise ParseError(
                    line,
                    "KB002",
                    "front matter uses a YAML anchor or alias (& or *): write "
                    "the value out instead",
                )
    except yaml.YAMLError:
        return  # reported, with its line, when the front matter is loaded


def parse_document(text: str, path: str = "<entry>") -> Document:
    """Parse an entry's Markdown source into its parts."""
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n")
    source, body, body_line = split_front_matter(text)
    _refuse_aliases(source)
    try:
        meta = yaml.load(source, Loader=_YAML_LOADER) if source.strip() else {}
    except yaml.YAMLError as exc:
        # The construct's start (an unclosed '[') is where a reader must look, when known.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        # Clamped to the front matter: "end of stream" errors point past its last line.
        last = 1 + len(source.split("\n"))
        line = min(2 + mark.line, last) if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParseError(line, "KB002", f"front matter is not valid YAML: {problem}") from None
    if not isinstance(meta, dict):
        raise ParseError(2, "KB002", "front matter must be a YAML mapping of keys to values")
    meta_lines: dict[str, int] = {}
    for offset, line in enumerate(source.split("\n")):
        m = _KEY.match(line)
        if m and m.group(1) not in meta_lines:
            meta_lines[m.group(1)] = 2 + offset

    doc = Document(path=path, meta=meta, meta_lines=meta_lines, body_line=body_line)
    for match in _CONTROL.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        if not doc.controls or doc.controls[-1][0] != line:
            doc.controls.append((line, match.group()))
    body_lines = body.split("\n")
    tokens = _MD.parse(body)
    heads: list[tuple[int, str]] = []  # (0-based body line, title) of level-2 headings
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.map is not None:
            title = tokens[i + 1].content.strip()
            if tok.tag == "h2":
                heads.append((tok.map[0], title))
            else:
                doc.headings_other.append((body_line + tok.map[0], f"{tok.markup} {title}"))
    for n, (start, title) in enumerate(heads):
        end = heads[n + 1][0] if n + 1 < len(heads) else len(body_lines)
        text_ = "\n".join(body_lines[start + 1 : end]).strip("\n")
        doc.sections.append(Section(title=title, line=body_line + start, text=text_))

    def owner_of(start_line: int) -> str | None:
        owner = None
        for start, title in heads:
            if start <= start_line:
                owner = title
        return owner

    # Top-level blocks in order: a paragraph directly followed by a fence is its lead.
    previous: Paragraph | None = None
    for i, tok in enumerate(tokens):
        if tok.level != 0 or tok.map is None or tok.type.endswith("_close"):
            continue
        if tok.type == "paragraph_open":
            text = tokens[i + 1].content.strip()
            previous = Paragraph(text, body_line + tok.map[0], owner_of(tok.map[0]), False)
            doc.paragraphs.append(previous)
            continue
        lead = ""
        if tok.type == "fence" and previous is not None:
            previous.leads_fence = True
            lead = previous.text
        previous = None
        if tok.type == "fence":
            doc.fences.append(
                Fence(
                    info=tok.info.strip(),
                    code=tok.content,
                    line=body_line + tok.map[0] + 1,
                    section=owner_of(tok.map[0]),
                    lead=lead,
                )
            )
    return doc
