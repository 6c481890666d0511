"""The index is derived data: built atomically, rebuilt when stale, corrupt or foreign."""

import os
import sqlite3

from kb.index import build_index, ensure_index, is_current, read_meta
from kb.search import search
from tests.conftest import entry_text


def test_build_writes_one_file_and_no_leftovers(catalogue, tmp_path):
    db = tmp_path / "index.db"
    count, problems = build_index(db, catalogue)
    assert (count, problems) == (1, [])
    assert read_meta(db)["folder"] == str(catalogue)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entries", "index.db"]


def test_changed_entry_is_picked_up_by_the_next_search(catalogue, tmp_path, monkeypatch):
    # In one process the per-file check is throttled; a new process always checks.
    monkeypatch.setattr("kb.index.RECHECK_SECONDS", 0)
    db = tmp_path / "index.db"
    ensure_index(db, catalogue)
    path = catalogue / "vector-backward.md"
    path.write_text(entry_text().replace("on a non-scalar", "on a vector output"), encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse file systems
    assert not is_current(db, catalogue)
    hits, _ = search("implicitly created", db=db, folder=catalogue)
    assert "vector output" in hits[0].title


def test_new_and_removed_entries_are_noticed(catalogue, tmp_path):
    db = tmp_path / "index.db"
    ensure_index(db, catalogue)
    (catalogue / "second-one.md").write_text(entry_text("second-one"), encoding="utf-8")
    assert not is_current(db, catalogue)
    ensure_index(db, catalogue)
    (catalogue / "second-one.md").unlink()
    assert not is_current(db, catalogue)


def test_damaged_kb_index_is_rebuilt(catalogue, tmp_path):
    # kb's own header (application id at offset 68), then garbage: still kb's to replace.
    db = tmp_path / "index.db"
    build_index(db, catalogue)
    head = db.read_bytes()[:100]
    db.write_bytes(head + b"this is not a database" * 100)
    hits, _ = search("implicitly created only for scalar outputs", db=db, folder=catalogue)
    assert hits[0].id == "vector-backward"


def test_index_of_an_older_kb_is_rebuilt(catalogue, tmp_path):
    # Made before the header carried kb's id: recognised by its metadata.
    db = tmp_path / "index.db"
    conn = sqlite3.connect(db)
    conn.execute("create table meta (key text, value text)")
    conn.execute("insert into meta values ('schema', 'kb-index-12')")
    conn.commit()
    conn.close()
    hits, _ = search("scalar outputs", db=db, folder=catalogue)
    assert hits[0].id == "vector-backward"


def test_malformed_entry_is_skipped_and_named(catalogue, tmp_path):
    (catalogue / "broken.md").write_text("no front matter here\n", encoding="utf-8")
    db = tmp_path / "index.db"
    count, problems = build_index(db, catalogue)
    assert count == 1
    assert [str(p) for p in problems] == [
        f"{catalogue / 'broken.md'}:1: KB001 missing front matter: "
        "the file must start with a '---' line"
    ]
    hits, skipped = search("scalar outputs", db=db, folder=catalogue)
    assert hits[0].id == "vector-backward" and skipped == []


def test_one_changed_file_is_updated_in_place(catalogue, tmp_path, monkeypatch):
    monkeypatch.setattr("kb.index.RECHECK_SECONDS", 0)
    db = tmp_path / "index.db"
    (catalogue / "second-one.md").write_text(entry_text("second-one"), encoding="utf-8")
    ensure_index(db, catalogue)
    inode = os.stat(db).st_ino
    path = catalogue / "second-one.md"
    path.write_text(entry_text("second-one").replace("non-scalar", "vector"), encoding="utf-8")
    os.utime(path, ns=(1, 1))
    _, problems = ensure_index(db, catalogue)
    assert problems == [] and os.stat(db).st_ino == inode  # updated, not rebuilt
    hits, _ = search("vector", db=db, folder=catalogue)
    assert [h.id for h in hits][:1] == ["second-one"]
    path.unlink()
    ensure_index(db, catalogue)
    hits, _ = search("implicitly created only for scalar outputs", db=db, folder=catalogue)
    assert [h.id for h in hits] == ["vector-backward"]


def test_duplicate_id_in_a_changed_file_is_refused(catalogue, tmp_path, monkeypatch):
    monkeypatch.setattr("kb.index.RECHECK_SECONDS", 0)
    db = tmp_path / "index.db"
    ensure_index(db, catalogue)
    (catalogue / "copy.md").write_text(entry_text("vector-backward"), encoding="utf-8")
    _, problems = ensure_index(db, catalogue)
    assert {p.code for p in problems} >= {"KB004"}


def test_on_windows_no_read_connection_outlives_its_search(catalogue, monkeypatch):
    # Windows cannot replace a file another process holds open, so a cached connection
    # would block every rebuild there.
    import os

    import kb.index
    from kb.search import search

    class WindowsOS:
        name = "nt"

        def __getattr__(self, attribute):
            return getattr(os, attribute)

    monkeypatch.setattr(kb.index, "os", WindowsOS())
    before = set(kb.index._readers)
    assert search("scalar outputs")[0]
    # Only what this thread added counts: a search may evict the oldest cached reader
    # (MAX_READERS), and threads left by other tests may add their own.
    from _thread import get_ident

    added = {key for key in set(kb.index._readers) - before if key[1] == get_ident()}
    assert not added
