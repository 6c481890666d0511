"""Entries -> the SQLite index that search reads (derived data: always rebuildable).

The index is one file. A build writes a new file beside the old one and renames it
over, so a reader sees the old index or the new one, never half of either. Whether the
index is current is decided from the entry files' names, sizes and mtimes alone, which
costs one `stat` per file and no parsing; parsing (markdown-it, YAML) and sqlite-utils
are imported only when a build is actually needed.
"""

from __future__ import annotations

import os
import sys

from kb import paths
from kb.db import sqlite3

SCHEMA = "kb-index-17"
# FTS columns, in the order bm25() weights are given in search.py.
FTS_COLUMNS = ("title", "errors_text", "symptom_text", "body", "zh")


# Every index kb writes says so in its SQLite header (PRAGMA application_id, a 4-byte
# big-endian integer at offset 68), so kb can tell its own files from anything else
# KB_DB might name, even a damaged one, by reading 100 bytes.
APPLICATION_ID = 0x6B626978  # "kbix"
# Builds write a temporary file beside the index; one left by a killed build is removed
# by a later build once it is this old (a build of 10,000 entries takes seconds).
TEMP_PREFIX = ".kb-index-"
STALE_TEMP_SECONDS = 600


class IndexError_(Exception):
    """The index cannot be built (no catalogue, a file that is not kb's)."""


class Unwritable(IndexError_):
    """The index cannot be written here (read-only folder or file, full disk)."""


class Notice(str):
    """A message about the index itself rather than about an entry: a front end shows it
    as a warning, among the problems it is returned with."""


def _folders(folder: str | os.PathLike | list | None) -> list[str]:
    """The catalogue folders to index, in precedence order (default: paths.catalogue_dirs)."""
    if folder is None:
        folders = paths.catalogue_dirs()
        if not folders:
            raise IndexError_("no catalogue folders: KB_BUNDLED=0 and none named in KB_ENTRIES")
        return folders
    if isinstance(folder, (list, tuple)):
        return [os.path.realpath(os.fspath(f)) for f in folder]
    return [os.path.realpath(os.fspath(folder))]


def _scan(folders: list[str]) -> dict[str, tuple[int, int]]:
    """Entry file path -> (size, mtime_ns), via scandir (paths come with the listing),
    one stat each; folders in order, each sorted by name."""
    found: dict[str, tuple[int, int]] = {}
    for folder in folders:
        seen = []
        try:
            with os.scandir(folder) as items:
                for item in items:
                    name = item.name
                    if name.endswith(".md") and name not in paths.NOT_ENTRIES:
                        try:
                            st = item.stat()
                        except OSError:
                            continue
                        seen.append((item.path, (st.st_size, st.st_mtime_ns)))
        except OSError:
            pass
        seen.sort()
        found.update(seen)
    return found


def is_kb_file(db: str | os.PathLike) -> bool:
    """May kb replace the file at `db`? Only if there is none, it is empty, or kb made it
    (its header carries kb's application id, or, for indexes made before it did, its
    metadata names a kb schema)."""
    try:
        with open(db, "rb") as fh:
            head = fh.read(100)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not head:
        return True
    if len(head) < 72 or head[:16] != b"SQLite format 3\x00":
        return False
    if int.from_bytes(head[68:72], "big") == APPLICATION_ID:
        return True
    try:
        conn = sqlite3.connect(f"file:{os.fspath(db)}?mode=ro", uri=True)
        try:
            row = conn.execute("select value from meta where key = 'schema'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return bool(row) and isinstance(row[0], str) and row[0].startswith("kb-index-")


def check_replaceable(db: str | os.PathLike) -> None:
    """Raise IndexError_ (one line, naming the file) unless kb may write its index at `db`."""
    if os.path.isdir(db):
        raise IndexError_(f"the index path {os.fspath(db)} is a folder; set KB_DB to a file")
    if not is_kb_file(db):
        raise IndexError_(
            f"{os.fspath(db)} is not a kb index, and kb only replaces files it made; "
            "set KB_DB to another file"
        )


def read_meta(db: str | os.PathLike) -> dict[str, str] | None:
    """The index's metadata, or None if the file is missing, corrupt or not ours."""
    if not os.path.isfile(db):
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        return _meta_of(conn)
    finally:
        conn.close()


def is_current(db: str | os.PathLike, folder: str | os.PathLike | list | None = None) -> bool:
    """Was the index built from these folders, and do their files still match?"""
    meta = read_meta(db)
    folders = _folders(folder)
    if meta is None or meta.get("folder") != "\n".join(folders):
        return False
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return _files_in(conn) == _scan(folders)
    finally:
        conn.close()


def _files_in(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """The entry files the index was made from: path -> (size, mtime_ns), as _scan."""
    rows = conn.execute("select path, size, mtime_ns from files")
    return {row[0]: (row[1], row[2]) for row in rows}


# Short columns first: SQLite reads a row's columns in order, through its overflow pages,
# so what ranking reads (titles, messages, symptoms) comes before the long texts.
ENTRY_COLUMNS = (
    "id", "title", "kind", "area", "exception", "errors", "older_errors", "older_ranges",
    "tags", "devices", "torch", "fixed_in", "zh_title", "zh_summary", "links", "see_also",
    "path", "overrides", "sha",
    "errors_text", "symptom_text", "zh", "symptom", "cause", "explanation", "diagnose",
    "repro", "fix", "check_code", "fix_text", "see_also_text", "bandaids", "body",
)  # fmt: skip


def entry_row(entry) -> dict:
    """One entries-table row; lists are stored as JSON text."""
    import json

    from kb.textnorm import cjk_grams

    body = "\n\n".join(
        [entry.cause, entry.explanation, entry.diagnose, " ".join(entry.tags), entry.id]
    )
    errors_text = "\n".join(
        (entry.exception or "",) + entry.errors + entry.older_errors + entry.cause_errors
    )
    zh = f"{entry.zh_title}\n{entry.zh_summary}"
    return {
        "id": entry.id,
        "title": entry.title,
        "kind": entry.kind,
        "area": entry.area,
        "exception": entry.exception,
        "errors": json.dumps(list(entry.errors), ensure_ascii=False),
        "older_errors": json.dumps(list(entry.older_errors), ensure_ascii=False),
        "older_ranges": json.dumps(list(entry.older_ranges)),
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
        "bandaids": json.dumps(
            [{"label": b.label, "code": b.block.code} for b in entry.bandaids],
            ensure_ascii=False,
        ),
        "path": entry.path,
        "overrides": "",  # the file of a later folder's entry with this id, if any
        "sha": entry.sha,
        "errors_text": errors_text,
        # Searched copies: Chinese text also as bigrams (see kb/textnorm.py).
        "symptom_text": f"{entry.symptom}\n{cjk_grams(entry.symptom)}",
        "body": f"{body}\n{cjk_grams(body)}",
        "zh": f"{zh}\n{cjk_grams(zh)}",
    }


def _load_one(path: str) -> tuple[object | None, list]:
    """Parse and lint one file: (document or None, its problems)."""
    from pathlib import Path

    from kb.entries import EntryError, read_document
    from kb.lint import lint_document

    try:
        doc = read_document(Path(path))
    except EntryError as exc:
        return None, exc.problems
    # Compiling every code block is `kb lint`'s job; the index only needs the structure.
    found = lint_document(doc, check_code=False)
    return (None, found) if found else (doc, [])


# Past this many files, parsing is spread over the machine's cores (a 10,000-entry
# catalogue parses in well under half the time on two).
PARALLEL_FROM = 400


class _Loader:
    """Parse and lint files, in order, each as (document or None, its problems); spread
    over the machine's cores for many files. Used as a context manager, and iterated
    while the results are written, so writing overlaps parsing."""

    def __init__(self, files: list[str]) -> None:
        self.files = files
        self.pool = None
        self.workers = min(os.cpu_count() or 1, 8)
        if len(files) >= PARALLEL_FROM and self.workers > 1:
            import multiprocessing

            # Spawning fresh interpreters would cost more than parallel parsing saves.
            if "fork" in multiprocessing.get_all_start_methods():
                try:
                    # Ctrl-C is the parent's to handle: workers printing their own
                    # KeyboardInterrupt tracebacks would bury its one line.
                    self.pool = multiprocessing.get_context("fork").Pool(
                        self.workers, initializer=_ignore_interrupts
                    )
                except (OSError, RuntimeError):
                    self.pool = None

    def __enter__(self) -> _Loader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def __iter__(self):
        if self.pool is None:
            return map(_load_one, self.files)
        chunk = max(1, len(self.files) // (self.workers * 8))
        return self.pool.imap(_load_one, self.files, chunksize=chunk)


def _ignore_interrupts() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _template_rows(entry) -> list[dict]:
    from kb.templates import literal_parts, prefix
    from kb.textnorm import fold

    # An older wording may have been raised as another class (`ModuleAttributeError`,
    # `RuntimeError` before a class of its own): the type a paste names is that one.
    pairs = zip(entry.older_errors, entry.older_exceptions, strict=False)
    raised = {text: cls for text, cls in pairs if cls}
    return [
        {
            "entry_id": entry.id,
            "template": t,
            "current": int(t in entry.errors),
            "exception": entry.exception if t in entry.errors else raised.get(t, entry.exception),
            "prefix": fold(prefix(t)),
            # Fixed chunks, \x1f-separated: a cheap `in` test before any regex is compiled.
            "literals": "\x1f".join(fold(p) for p in literal_parts(t) if p.strip()),
            # The fixed text alone, folded: what the template full-text index holds.
            "literal_text": fold(" ".join(literal_parts(t))),
        }
        for t in entry.errors + entry.older_errors + entry.cause_errors
    ]


TEMPLATE_COLUMNS = (
    "entry_id", "template", "current", "exception", "prefix", "literals", "literal_text",
)  # fmt: skip


def _insert(conn, table: str, columns: tuple[str, ...], rows) -> None:
    names = ", ".join(f"[{c}]" for c in columns)
    marks = ", ".join("?" * len(columns))
    conn.executemany(
        f"insert into [{table}] ({names}) values ({marks})",
        ([row[c] for c in columns] for row in rows),
    )


class _NeedsBuild(Exception):
    """An incremental update met an id that several files claim: a full build decides."""


def _write_entries(
    conn, results, files: list[str], scan: dict, existing: set[str] | None
) -> tuple[int, list]:
    """Insert the valid entries among `results` ((document or None, problems) per file,
    in precedence order) whose id is not taken, and record every file as `scan` saw it.
    `existing`: ids already indexed, or None for an update, which leaves any id a file
    shares with another to a full build. An id in two folders goes to the first (a team's
    entry overriding kb's); twice in one folder it is a KB017 problem. Returns (count,
    problems)."""
    from kb.entries import entry_from_document
    from kb.lint import Problem

    problems: list = []
    owner: dict[str, str] = {}
    overrides: dict[str, str] = {}
    idents: dict[str, str] = {}
    entries = []

    def fresh_entries():
        # Consumed by the insert below as results arrive: writing overlaps parsing.
        for doc, found in results:
            problems.extend(found)
            if doc is None:
                continue
            ident = doc.meta["id"]
            idents[doc.path] = ident
            if existing is None and (ident in owner or _taken(conn, ident)):
                raise _NeedsBuild
            if ident in owner:
                first = owner[ident]
                if os.path.dirname(first) != os.path.dirname(doc.path):
                    overrides.setdefault(ident, doc.path)
                    continue
                line = doc.meta_lines.get("id", 1)
                problems.append(
                    Problem(doc.path, line, "KB017", f"id '{ident}' is also used by {first}")
                )
                continue
            owner[ident] = doc.path
            entry = entry_from_document(doc)
            entries.append(entry)
            yield entry_row(entry)

    # Plain executemany: sqlite-utils' per-value conversions cost seconds at 10,000 rows,
    # and an incremental update should not have to import it at all.
    _insert(conn, "entries", ENTRY_COLUMNS, fresh_entries())
    _insert(conn, "templates", TEMPLATE_COLUMNS, (r for e in entries for r in _template_rows(e)))
    conn.executemany(
        "update entries set overrides = ? where id = ?",
        ((path, ident) for ident, path in overrides.items()),
    )
    by_path = {e.path: e.id for e in entries}
    conn.executemany(
        "insert or replace into files (path, size, mtime_ns, entry_id, ident)"
        " values (?, ?, ?, ?, ?)",
        (
            (path, *scan[path], by_path.get(path), idents.get(path))
            for path in files
            if path in scan
        ),
    )
    return len(entries), problems


def _taken(conn, ident: str) -> bool:
    return conn.execute("select 1 from entries where id = ?", (ident,)).fetchone() is not None


def build_index(
    db: str | os.PathLike | None = None, folder: str | os.PathLike | list | None = None
) -> tuple[int, list]:
    """Build the whole index from the catalogue folders (default: paths.catalogue_dirs);
    return (entries indexed, problems skipped).

    Entries that break the format are left out and returned as problems, so one bad
    file never takes search down; `kb index` and `kb lint` report them. Raises
    IndexError_ if `db` is a file kb did not make (nothing is touched), Unwritable if
    it cannot be written.
    """
    from pathlib import Path

    folders = _folders(folder)
    db = Path(db or paths.db_path(folders))
    for one in folders:
        if not os.path.isdir(one):
            raise IndexError_(f"no catalogue folder at {one}")
    check_replaceable(db)
    # The files as they are before parsing: one that changes meanwhile is out of date in
    # the index, and the next search notices.
    scan = _scan(folders)
    files = list(scan)
    # Workers are started before any database is open, so none inherits a connection.
    with _Loader(files) as loader:
        return _build(db, "\n".join(folders), scan, files, loader)


def _build(db, folder: str, scan: dict, files: list[str], loader: _Loader) -> tuple[int, list]:
    import tempfile
    from pathlib import Path

    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(str(db.parent))
        fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".db", dir=db.parent)
    except OSError as exc:
        raise Unwritable(f"cannot write the index at {db}: {exc.strerror}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            conn = sqlite3.connect(tmp)
            try:
                count, problems = _fill(conn, folder, scan, files, loader)
                conn.commit()
            finally:
                conn.close()
            check_replaceable(db)  # made by another process meanwhile?
            os.replace(tmp, db)
        except (OSError, sqlite3.Error) as exc:  # a full disk, most likely
            reason = getattr(exc, "strerror", None) or str(exc)
            raise Unwritable(f"cannot write the index at {db}: {reason}") from None
    except BaseException:
        _unlink(tmp_name)
        _unlink(tmp_name + "-journal")
        raise
    return count, sorted(problems)


def _unlink(name: str) -> None:
    try:  # noqa: SIM105 - contextlib loads functools, a cold-start cost (kb/db.py)
        os.unlink(name)
    except OSError:
        pass


def _remove_stale_temps(folder: str) -> None:
    """Remove temporary files that builds killed before they could clean up left here."""
    import time

    now = time.time()
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith(TEMP_PREFIX) and (name.endswith(".db") or name.endswith("-journal")):
            path = os.path.join(folder, name)
            try:
                if now - os.stat(path).st_mtime > STALE_TEMP_SECONDS:
                    os.unlink(path)
            except OSError:
                pass


def _fill(conn, folder: str, scan: dict, files: list[str], loader) -> tuple[int, list]:
    """Create the index's tables in an empty database and fill them from `loader`."""
    import sqlite_utils

    conn.execute(f"pragma application_id = {APPLICATION_ID}")
    base = sqlite_utils.Database(conn)
    base["entries"].create({key: str for key in ENTRY_COLUMNS}, pk="id", not_null={"id"})
    base["templates"].create({c: (int if c == "current" else str) for c in TEMPLATE_COLUMNS})
    base["files"].create(
        {"path": str, "size": int, "mtime_ns": int, "entry_id": str, "ident": str}, pk="path"
    )
    base["files"].create_index(["ident"])
    count, problems = _write_entries(conn, loader, files, scan, set())
    # Full-text tables are filled in one pass after the rows are in (faster than row by
    # row); their triggers keep them in step with later incremental updates.
    base["entries"].enable_fts(
        list(FTS_COLUMNS), fts_version="FTS5", tokenize="porter unicode61", create_triggers=True
    )
    # Document frequencies of indexed words, so search can leave out near-universal ones.
    # Copied out of fts5vocab, which counts a word's documents on every lookup
    # (milliseconds for a common word in a large catalogue). A heuristic only, so
    # incremental updates leave it as the last full build made it.
    _copy_document_frequencies(conn, "entries_fts", "entries_df")
    base["templates"].create_index(["entry_id"], if_not_exists=True)
    base["templates"].enable_fts(
        ["literal_text"], fts_version="FTS5", tokenize="porter unicode61", create_triggers=True
    )
    _copy_document_frequencies(conn, "templates_fts", "templates_df")
    base["meta"].insert_all(
        [
            {"key": "schema", "value": SCHEMA},
            {"key": "folder", "value": folder},
            {"key": "count", "value": str(count)},
            # Tells a long-running search process its cached rows are another build's,
            # and (changed by every update too) that they are out of date.
            {"key": "build", "value": os.urandom(8).hex()},
            {"key": "stamp", "value": os.urandom(8).hex()},
        ],
        pk="key",
    )
    return count, problems


def memory_index(folders: list[str]) -> tuple[sqlite3.Connection, list]:
    """A whole index built in memory, for when none can be written: a read connection
    as connect_ro gives, and the problems a build reports."""
    scan = _scan(folders)
    files = list(scan)
    with _Loader(files) as loader:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        _, problems = _fill(conn, "\n".join(folders), scan, files, loader)
    conn.commit()
    conn.row_factory = sqlite3.Row
    conn.execute("begin")
    return conn, sorted(problems)


def _copy_document_frequencies(conn, fts: str, table: str) -> None:
    conn.execute(f"create virtual table temp.vocab_{fts} using fts5vocab(main, {fts}, 'row')")
    conn.execute(f"create table {table} (term text primary key, doc integer) without rowid")
    conn.execute(f"insert into {table} (term, doc) select term, doc from temp.vocab_{fts}")
    conn.execute(f"drop table temp.vocab_{fts}")


def update_index(db: str, folders: list[str]) -> tuple[int, list, dict, str] | None:
    """Re-index only the files that changed since the index last saw them, in one
    transaction that holds the write lock from its first read: what the index holds and
    what the folder holds are both read under it, so no other process's update can
    slip in between the compare and the write.

    Returns (entries re-indexed, problems, the files as the index now holds them, the
    stamp written), or None when a full build is the better course (no usable index,
    most of the catalogue changed, an id shared by several files) or the lock is not
    to be had.
    """
    try:
        conn = sqlite3.connect(db, timeout=5, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        # BEGIN IMMEDIATE takes the write lock now (waiting up to the timeout for another
        # writer); readers of the old index go on reading until the commit. The parser
        # is imported (a fresh process's biggest cost) only with the lock let go again,
        # so processes queued behind this one are not kept waiting for it.
        while True:
            conn.execute("begin immediate")
            try:
                result = _update(conn, folders, "kb.entries" in sys.modules)
                conn.execute("commit" if isinstance(result, tuple) else "rollback")
            except BaseException:
                try:  # noqa: SIM105 - as in _unlink
                    conn.execute("rollback")
                except sqlite3.Error:
                    pass
                raise
            if result != "parser":
                return result
            import kb.entries  # noqa: F401 - see above
            import kb.lint  # noqa: F401
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _update(conn, folders: list[str], parser_loaded: bool):
    """update_index's work under the lock; "parser" if it needs the parser loaded first."""
    meta = _meta_of(conn)
    if meta is None or meta.get("folder") != "\n".join(folders):
        return None
    scan = _scan(folders)
    known = _files_in(conn)
    changed = [path for path, seen in scan.items() if known.get(path) != seen]
    removed = [path for path in known if path not in scan]
    if not changed and not removed:  # another process brought it up to date meanwhile
        return 0, [], scan, meta.get("stamp")
    if len(changed) + len(removed) > max(50, len(scan) // 4):
        return None
    for path in changed + removed:
        row = conn.execute("select entry_id, ident from files where path = ?", (path,))
        old_id, ident = row.fetchone() or (None, None)
        if ident is not None:
            shared = conn.execute("select count(*) from files where ident = ?", (ident,))
            if shared.fetchone()[0] > 1:
                return None  # another file's entry may take this id now: a full build
        if old_id:
            conn.execute("delete from entries where id = ?", (old_id,))
            conn.execute("delete from templates where entry_id = ?", (old_id,))
        conn.execute("delete from files where path = ?", (path,))
    if changed and not parser_loaded:
        return "parser"
    # Parsed under the write lock: only the changed files, and readers are not held up.
    with _Loader(changed) as loader:
        results = list(loader)
    try:
        count, problems = _write_entries(conn, results, changed, scan, None)
    except _NeedsBuild:
        return None
    stamp = os.urandom(8).hex()
    conn.execute("update meta set value = (select count(*) from entries) where key = 'count'")
    conn.execute("update meta set value = ? where key = 'stamp'", (stamp,))
    return count, sorted(problems), scan, stamp


# Within one process (the TUI, a notebook), a full stat of every entry file is made at
# most this often; the folder's own mtime (files added, removed, or saved by rename) is
# checked on every search.
RECHECK_SECONDS = 1.0
# (db, folder) -> when, folder mtime, file count, the files as last seen matching the
# index (or None), and the index's stamp then.
_checked: dict[tuple[str, str], tuple] = {}


def recheck_seconds(files: int) -> float:
    """How long a long-running process trusts its last look at every file: a second, or
    more for catalogues so large that looking costs tens of milliseconds."""
    return max(RECHECK_SECONDS, files / 5000)


# A long-running process (the TUI, a notebook) keeps one read-only connection per index
# file and thread, so the schema is parsed and pages are cached once rather than per
# search. A connection whose file was replaced by a rebuild is dropped for a new one.
_readers: dict[tuple[str, int], tuple[sqlite3.Connection, tuple[int, int]]] = {}
MAX_READERS = 32


def connect_ro(db: str | os.PathLike) -> sqlite3.Connection:
    """A read-only connection inside one read transaction: a search's dozen queries then
    take the file lock once, and read pages through a memory map, not one call each.
    Give it back with `release`, which ends the transaction and keeps it for next time."""
    from _thread import get_ident

    db = os.fspath(db)
    st = os.stat(db)
    ident = (st.st_dev, st.st_ino)
    key = (db, get_ident())
    cached = _readers.pop(key, None)
    if cached is not None:
        conn, seen = cached
        if seen == ident:
            try:
                conn.execute("begin")
                _readers[key] = cached
                return conn
            except sqlite3.Error:  # closed by its user, or mid-transaction
                pass
        _close(conn)
    if len(_readers) >= MAX_READERS:  # many indexes or threads over time: oldest out
        _close(_readers.pop(next(iter(_readers)))[0])
    # Not tied to its thread, so a rebuild in any thread can close it (see _drop_readers).
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("pragma mmap_size = 268435456")
    conn.execute("begin")
    _readers[key] = (conn, ident)
    return conn


def release(conn: sqlite3.Connection) -> None:
    """End a search's read transaction (see connect_ro); the connection stays open, but
    on Windows, where a file still open cannot be replaced by another process's rebuild."""
    if os.name == "nt":
        for key in [k for k, (c, _) in _readers.items() if c is conn]:
            del _readers[key]
        _close(conn)
        return
    # Not contextlib.suppress: contextlib loads functools, a cold-start cost (kb/db.py).
    try:  # noqa: SIM105
        conn.execute("rollback")
    except sqlite3.Error:
        pass  # already closed or not in a transaction: nothing held either way


def _close(conn: sqlite3.Connection) -> None:
    try:  # noqa: SIM105 - as in release
        conn.close()
    except sqlite3.Error:
        pass


def _drop_readers(db: str) -> None:
    """Close every cached connection to `db`: a file still open cannot be replaced on
    every platform, and nothing should keep reading the old one."""
    for key in [k for k in _readers if k[0] == db]:
        _close(_readers.pop(key)[0])


def _meta_of(conn: sqlite3.Connection) -> dict[str, str] | None:
    """The index's metadata, or None if the index is not ours."""
    try:
        meta = dict(tuple(row) for row in conn.execute("select key, value from meta"))
    except sqlite3.Error:
        return None
    return meta if meta.get("schema") == SCHEMA else None


def open_current(
    db: str | os.PathLike | None = None, folder: str | os.PathLike | list | None = None
) -> tuple[sqlite3.Connection, list]:
    """A read-only connection (see connect_ro) to a current index of the catalogue
    folders (default: paths.catalogue_dirs), updated for changed files or rebuilt first
    if it is missing, damaged, or most of the catalogue changed; and the entries a
    rebuild had to skip, with a Notice if the index could not be written."""
    import time

    folders = _folders(folder)
    joined = "\n".join(folders)
    db = os.fspath(db or paths.db_path(folders))
    folder_mtime = []
    for one in folders:
        try:
            folder_mtime.append(os.stat(one).st_mtime_ns)
        except OSError:
            folder_mtime.append(-1)
    key = (db, joined)
    now = time.monotonic()
    last = _checked.get(key)
    conn = None
    meta = None
    if os.path.isfile(db):
        try:
            conn = connect_ro(db)
            meta = _meta_of(conn)
        except (sqlite3.Error, OSError):  # damaged, or replaced in between
            meta = None
    if (
        meta is not None
        and last
        and now - last[0] < recheck_seconds(last[2])
        and last[1] == folder_mtime
    ):
        return conn, []
    scan = _scan(folders) if meta is not None and meta.get("folder") == joined else None
    known = None
    if scan is not None:
        stamp = meta.get("stamp")
        # What the index holds: as this process last saw it match the folders, if nothing
        # has written to it since, else read from it (a dictionary compare either way).
        known = last[3] if last and last[3] is not None and last[4] == stamp else None
        if known is None:
            known = _files_in(conn)
        if known == scan:
            _checked[key] = (now, folder_mtime, len(scan), scan, stamp)
            return conn, []
    if conn is not None:
        release(conn)  # its read lock would keep the update below waiting
    problems: list = []
    seen = None  # the files the index now matches, if known without another scan
    written = None
    try:
        result = update_index(db, folders) if scan is not None else None
        if result is None:
            _drop_readers(db)
            _, problems = build_index(db, folders)
        else:
            problems, scan, written = result[1], result[2], result[3]
            seen = scan
    except Unwritable as exc:
        # Answer all the same, from an index as the files are now, built in memory.
        conn, problems = memory_index(folders)
        return conn, [*problems, Notice(f"{exc}; searching a copy built in memory")]
    conn = connect_ro(db)
    stamp = (_meta_of(conn) or {}).get("stamp")
    if seen is not None and stamp != written:
        seen = None  # replaced by another process's rebuild meanwhile: not what we saw
    _checked[key] = (now, folder_mtime, len(scan) if scan is not None else 0, seen, stamp)
    return conn, problems


def ensure_index(
    db: str | os.PathLike | None = None, folder: str | os.PathLike | list | None = None
) -> tuple[str, list]:
    """Return a current index path (see open_current)."""
    folders = _folders(folder)
    db = os.fspath(db or paths.db_path(folders))
    conn, problems = open_current(db, folders)
    release(conn)
    return db, problems
