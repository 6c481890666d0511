"""Entries -> the SQLite index that search reads (derived data: always rebuildable).

The index is one file. A build writes a new file beside the old one and renames it
over, so a reader sees the old index or the new one, never half of either. Whether the
index is current is decided from the entry files' names, sizes and mtimes alone, which
costs one `stat` per file and no parsing; parsing (markdown-it, YAML) and sqlite-utils
are imported only when a build is actually needed.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable

from kb import paths

SCHEMA = "kb-index-4"
# FTS columns, in the order bm25() weights are given in search.py.
FTS_COLUMNS = ("title", "errors_text", "symptom", "body", "zh")


class IndexError_(Exception):
    """The index cannot be built (no catalogue, unwritable location)."""


def catalogue_state(files: Iterable[str]) -> str:
    """A fingerprint of the catalogue's files; changes whenever any file does."""
    parts = []
    for path in files:
        try:
            st = os.stat(path)
        except OSError:
            continue
        parts.append(f"{os.path.basename(path)}\t{st.st_size}\t{st.st_mtime_ns}")
    return "\n".join(parts)


def read_meta(db: str | os.PathLike) -> dict[str, str] | None:
    """The index's metadata, or None if the file is missing, corrupt or not ours."""
    if not os.path.isfile(db):
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = conn.execute("select key, value from meta").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    meta = dict(rows)
    return meta if meta.get("schema") == SCHEMA else None


def is_current(db: str | os.PathLike, folder: str | os.PathLike) -> bool:
    meta = read_meta(db)
    if meta is None:
        return False
    folder = os.fspath(folder)
    return meta.get("folder") == folder and meta.get("state") == catalogue_state(
        paths.entry_files(folder)
    )


def entry_row(entry) -> dict:
    """One entries-table row; lists are stored as JSON text."""
    import hashlib
    import json

    from kb.textnorm import cjk_grams

    body = "\n\n".join(
        [entry.cause, entry.explanation, entry.diagnose, " ".join(entry.tags), entry.id]
    )
    errors_text = "\n".join((entry.exception or "",) + entry.errors + entry.older_errors)
    zh = f"{entry.zh_title}\n{entry.zh_summary}"
    return {
        "id": entry.id,
        "title": entry.title,
        "kind": entry.kind,
        "area": entry.area,
        "exception": entry.exception,
        "errors": json.dumps(list(entry.errors), ensure_ascii=False),
        "older_errors": json.dumps(list(entry.older_errors), ensure_ascii=False),
        "tags": json.dumps(list(entry.tags)),
        "devices": json.dumps(list(entry.devices)),
        "torch": entry.torch,
        "fixed_in": entry.fixed_in,
        "zh_title": entry.zh_title,
        "zh_summary": entry.zh_summary,
        "links": json.dumps(list(entry.links)),
        "see_also": json.dumps(list(entry.see_also)),
        "symptom": entry.symptom,
        "cause": entry.cause,
        "explanation": entry.explanation,
        "diagnose": entry.diagnose,
        "repro": entry.repro,
        "fix": entry.fix,
        "check_code": entry.check,
        "fix_text": entry.sections.get("Fix", ""),
        "see_also_text": entry.sections.get("See also", ""),
        "path": entry.path,
        "sha": hashlib.sha1(open(entry.path, "rb").read()).hexdigest(),
        "errors_text": errors_text,
        "body": body,
        "zh": f"{zh}\n{cjk_grams(zh)}",
    }


def build_index(
    db: str | os.PathLike | None = None, folder: str | os.PathLike | None = None
) -> tuple[int, list]:
    """Build the index from the catalogue; return (entries indexed, problems skipped).

    Entries that break the format are left out and returned as problems, so one bad
    file never takes search down; `kb index` and `kb lint` report them.
    """
    import tempfile
    from pathlib import Path

    import sqlite_utils

    from kb.entries import EntryError, entry_from_document, read_document
    from kb.lint import lint_catalogue, lint_document
    from kb.templates import literal_parts, prefix

    folder = os.path.realpath(folder or paths.entries_dir())
    db = Path(db or paths.db_path(folder))
    files = paths.entry_files(folder)
    if not os.path.isdir(folder):
        raise IndexError_(f"no catalogue folder at {folder}")
    state = catalogue_state(files)
    problems = []
    docs = []
    for path in files:
        try:
            doc = read_document(Path(path))
        except EntryError as exc:
            problems.extend(exc.problems)
            continue
        found = lint_document(doc)
        if found:
            problems.extend(found)
        else:
            docs.append(doc)
    seen: set[str] = set()
    unique = []
    for doc in docs:
        if doc.meta["id"] not in seen:
            seen.add(doc.meta["id"])
            unique.append(doc)
    problems.extend(p for p in lint_catalogue(docs) if p.code == "KB017")
    entries = [entry_from_document(d) for d in unique]

    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".kb-index-", suffix=".db", dir=db.parent)
    except OSError as exc:
        raise IndexError_(f"cannot write the index at {db}: {exc.strerror}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        conn = sqlite3.connect(tmp)
        try:
            base = sqlite_utils.Database(conn)
            base["entries"].insert_all((entry_row(e) for e in entries), pk="id")
            base["templates"].insert_all(
                (
                    {
                        "entry_id": e.id,
                        "template": t,
                        "current": int(t in e.errors),
                        "exception": e.exception,
                        "prefix": prefix(t).lower(),
                        # Fixed chunks, \x1f-separated: a cheap `in` test before any regex.
                        "literals": "\x1f".join(
                            p.strip().lower() for p in literal_parts(t) if p.strip()
                        ),
                    }
                    for e in entries
                    for t in e.errors + e.older_errors
                ),
                columns={
                    "entry_id": str,
                    "template": str,
                    "current": int,
                    "exception": str,
                    "prefix": str,
                    "literals": str,
                },
            )
            base["entries"].enable_fts(
                list(FTS_COLUMNS), fts_version="FTS5", tokenize="porter unicode61"
            )
            base["meta"].insert_all(
                [
                    {"key": "schema", "value": SCHEMA},
                    {"key": "folder", "value": folder},
                    {"key": "state", "value": state},
                    {"key": "count", "value": str(len(entries))},
                ],
                pk="key",
            )
            conn.commit()
        finally:
            conn.close()
        os.replace(tmp, db)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(entries), sorted(problems)


def ensure_index(
    db: str | os.PathLike | None = None, folder: str | os.PathLike | None = None
) -> tuple[str, list]:
    """Return a current index path, rebuilding it if missing, stale, corrupt or foreign."""
    folder = os.path.realpath(folder or paths.entries_dir())
    db = os.fspath(db or paths.db_path(folder))
    if is_current(db, folder):
        return db, []
    _, problems = build_index(db, folder)
    return db, problems
