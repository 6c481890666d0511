"""Entry files -> validated `Entry` objects.

`load_entry` parses a file and holds it to the lint rules: an entry that breaks any of
them is refused with every problem named as `path:line`, so nothing downstream (index,
harness, TUI) ever sees a half-valid entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from kb.lint import Problem, lint_catalogue, lint_document
from kb.model import BANDAID_ROLE, BLOCK_ROLES, DIAGNOSE_ROLE, BandAid, CodeBlock, Entry
from kb.parse import Document, ParseError, parse_document
from kb.wording import older_exceptions, older_items


class EntryError(Exception):
    """An entry file that does not follow the format; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def read_document(path: Path) -> Document:
    """Parse one file, turning unreadable input into an EntryError that names the file."""
    try:
        data = Path(path).read_bytes()
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EntryError(
            [Problem(str(path), 1, "KB002", f"not UTF-8 text ({exc.reason})")]
        ) from None
    except OSError as exc:
        raise EntryError([Problem(str(path), 1, "KB001", f"cannot read: {exc.strerror}")]) from None
    try:
        doc = parse_document(text, str(path))
    except ParseError as exc:
        raise EntryError([Problem(str(path), exc.line, exc.code, exc.message)]) from None
    doc.sha = hashlib.sha1(data).hexdigest()
    return doc


def entry_from_document(doc: Document) -> Entry:
    """Build an Entry from a document that passed `lint_document`."""
    meta = doc.meta
    blocks: dict[str, CodeBlock] = {}
    bandaids: list[BandAid] = []
    for fence in doc.fences:
        words = fence.info.split()
        if len(words) >= 2 and words[0] == "python" and words[1] in (*BLOCK_ROLES, DIAGNOSE_ROLE):
            blocks.setdefault(words[1], CodeBlock(words[1], fence.code, fence.line))
        elif words[:2] == ["python", BANDAID_ROLE]:
            block = CodeBlock(BANDAID_ROLE, fence.code, fence.line)
            bandaids.append(BandAid(" ".join(fence.lead.split()), block))
    zh = meta.get("zh") or {}
    timeout = meta.get("timeout")
    return Entry(
        id=meta["id"],
        title=meta["title"].strip(),
        kind=meta["kind"],
        errors=tuple(meta.get("errors") or ()),
        older_errors=tuple(text for text, _ in older_items(meta.get("older_errors"))),
        older_ranges=tuple(spec for _, spec in older_items(meta.get("older_errors"))),
        older_exceptions=tuple(older_exceptions(meta.get("older_errors"))),
        exception=meta.get("exception"),
        tags=tuple(meta["tags"]),
        devices=tuple(meta["devices"]),
        torch=meta["torch"].strip(),
        fixed_in=str(meta["fixed_in"]) if meta.get("fixed_in") is not None else None,
        zh_title=zh.get("title", "").strip(),
        zh_summary=zh.get("summary", "").strip(),
        links=tuple(meta.get("links") or ()),
        see_also=tuple(meta.get("see_also") or ()),
        timeout=float(timeout) if timeout is not None else None,
        requires=tuple(meta.get("requires") or ()),
        area=meta.get("area"),
        without_cuda=bool(meta.get("without_cuda", False)),
        needs=tuple(meta.get("needs") or ()),
        cause_errors=tuple(meta.get("cause_errors") or ()),
        snippets=tuple(meta.get("snippets") or ()),
        doctor=tuple(meta.get("doctor") or ()),
        found_in=tuple(meta.get("found_in") or ()),
        has_condition=dict(meta.get("has_condition") or {}),
        sections={s.title: s.text for s in doc.sections},
        section_lines={s.title: s.line for s in doc.sections},
        blocks=blocks,
        bandaids=tuple(bandaids),
        path=doc.path,
        sha=doc.sha,
    )


def load_entry(path: Path) -> Entry:
    """Read, check and build one entry; raise EntryError listing every problem."""
    doc = read_document(path)
    problems = lint_document(doc)
    if problems:
        raise EntryError(problems)
    return entry_from_document(doc)


def load_catalogue(paths: Iterable[Path]) -> list[Entry]:
    """Load every entry, or raise one EntryError with all problems of all files."""
    problems: list[Problem] = []
    docs: list[Document] = []
    for path in paths:
        try:
            doc = read_document(path)
        except EntryError as exc:
            problems.extend(exc.problems)
            continue
        found = lint_document(doc)
        problems.extend(found)
        if not found:
            docs.append(doc)
    problems.extend(lint_catalogue(docs))
    if problems:
        raise EntryError(sorted(problems))
    return [entry_from_document(d) for d in docs]
