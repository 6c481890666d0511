"""The index never serves what is not on disk, and never costs the user a file: concurrent
updates, files kb did not make, read-only caches, interrupted builds, Ctrl-C."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest

import kb.index
from kb.cli import main
from kb.index import build_index
from kb.search import get_entry, search
from tests.conftest import entry_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _contents(db) -> dict:
    """What an index serves, and from which files: comparable between two builds."""
    conn = sqlite3.connect(db)
    try:
        return {
            "entries": sorted(conn.execute("select id, title, path, sha from entries")),
            "files": sorted(conn.execute("select path, size, mtime_ns, entry_id from files")),
            "templates": sorted(conn.execute("select entry_id, template from templates")),
            "fts": sorted(conn.execute("select title from entries_fts")),
        }
    finally:
        conn.close()


# One `kb search` process as far as the index is concerned: a fresh interpreter that
# brings the index up to date, starting at the moment given (so all start together).
WORKER = """
import sys, time
import kb.index
db, folder, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
kb.index.ensure_index(db, folder)
"""


def test_concurrent_updates_leave_the_index_equal_to_a_fresh_build(catalogue, tmp_path):
    # Rounds of six processes updating the index at once, each round after the same
    # file is added, edited or removed: after every round the index holds exactly what a
    # fresh build does (no entry whose file is gone, no edit left out).
    for n in range(8):
        (catalogue / f"entry-{n}.md").write_text(entry_text(f"entry-{n}"), encoding="utf-8")
    db = tmp_path / "index.db"
    fresh = tmp_path / "fresh.db"
    build_index(db, catalogue)
    env = dict(os.environ, PYTHONPATH=ROOT)
    path = catalogue / "coming-and-going.md"
    for step in ("add", "edit", "remove"):
        if step == "remove":
            path.unlink()
        else:
            title = "added" if step == "add" else "edited"
            path.write_text(entry_text(path.stem).replace("non-scalar", title), "utf-8")
        start = time.time() + 0.4
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(db), str(catalogue), str(start)], env=env
            )
            for _ in range(6)
        ]
        assert [w.wait(timeout=60) for w in workers] == [0] * 6
        build_index(fresh, catalogue)
        assert _contents(db) == _contents(fresh), step


def test_a_file_kb_did_not_make_is_never_replaced(catalogue, tmp_path, monkeypatch, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n" * 100, encoding="utf-8")
    other = tmp_path / "other-app.db"
    conn = sqlite3.connect(other)
    conn.execute("create table meta (key text, value text)")
    conn.execute("insert into meta values ('schema', 'someone-else')")
    conn.commit()
    conn.close()
    for target in (notes, other):
        before = target.read_bytes()
        monkeypatch.setenv("KB_DB", str(target))
        for command in (["search", "scalar outputs"], ["show", "vector-backward"], ["index"]):
            assert main(command) == 1
            err = capsys.readouterr().err
            assert err == (
                f"kb: {target} is not a kb index, and kb only replaces files it made; "
                "set KB_DB to another file\n"
            )
        assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entries", "notes.txt", "other-app.db"]


def test_an_index_path_that_is_a_folder_is_a_clear_error(catalogue, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "cache"
    folder.mkdir()
    monkeypatch.setenv("KB_DB", str(folder))
    assert main(["search", "scalar outputs"]) == 1
    assert capsys.readouterr().err == (
        f"kb: the index path {folder} is a folder; set KB_DB to a file\n"
    )


class _ReadOnlyDisk:
    """sqlite3 as kb.index uses it, on a disk where nothing can be written: writable
    connections refuse every write as a read-only file would (SQLITE_READONLY)."""

    def __init__(self, real) -> None:
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def connect(self, target, *args, **kwargs):
        conn = self.real.connect(target, *args, **kwargs)
        if "mode=ro" not in str(target) and str(target) != ":memory:":
            conn.execute("pragma query_only = 1")
        return conn


def _read_only(monkeypatch) -> None:
    import errno
    import tempfile

    def no_temp_files(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(kb.index, "sqlite3", _ReadOnlyDisk(kb.index.sqlite3))
    monkeypatch.setattr(tempfile, "mkstemp", no_temp_files)


def test_a_read_only_cache_still_answers_from_the_files_as_they_are(
    catalogue, tmp_path, monkeypatch, capsys
):
    db = tmp_path / "index.db"
    build_index(db, catalogue)
    before = db.read_bytes()
    path = catalogue / "vector-backward.md"
    path.write_text(entry_text().replace("on a non-scalar", "on a vector output"), "utf-8")
    os.utime(path, ns=(1, 1))
    _read_only(monkeypatch)
    kb.index._checked.clear()
    assert main(["show", "vector-backward", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "on a vector output" in out
    assert err == (
        f"kb: warning: cannot write the index at {db}: Read-only file system; "
        "searching a copy built in memory\n"
    )
    assert db.read_bytes() == before
    hits, problems = search("implicitly created", db=db, folder=catalogue)
    assert "vector output" in hits[0].title
    assert [type(p).__name__ for p in problems] == ["Notice"]


def test_no_index_and_nowhere_to_write_one_still_answers(catalogue, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KB_DB", str(tmp_path / "missing" / "index.db"))
    _read_only(monkeypatch)
    monkeypatch.setattr(os, "mkdir", _refuse_mkdir)
    assert main(["search", "implicitly created only for scalar outputs"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("vector-backward")
    assert err.startswith("kb: warning: cannot write the index at ")
    assert err.count("\n") == 1
    assert not (tmp_path / "missing").exists()


def _refuse_mkdir(path, *args, **kwargs):
    import errno

    raise OSError(errno.EROFS, "Read-only file system", str(path))


def test_a_full_disk_midway_through_a_build_leaves_nothing_behind(catalogue, tmp_path, monkeypatch):
    class FullDisk(_ReadOnlyDisk):
        def connect(self, target, *args, **kwargs):
            conn = self.real.connect(target, *args, **kwargs)
            if os.path.basename(str(target)).startswith(kb.index.TEMP_PREFIX):
                conn.execute("pragma max_page_count = 2")  # SQLITE_FULL past two pages
            return conn

    monkeypatch.setattr(kb.index, "sqlite3", FullDisk(kb.index.sqlite3))
    db = tmp_path / "index.db"
    entry, problems = get_entry("vector-backward", db=str(db))
    assert entry["id"] == "vector-backward"
    assert [str(p) for p in problems] == [
        f"cannot write the index at {db}: database or disk is full; "
        "searching a copy built in memory"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entries"]


def test_temporary_files_of_killed_builds_are_removed_by_the_next(catalogue, tmp_path):
    stale = tmp_path / ".kb-index-abc123.db"
    stale_journal = tmp_path / ".kb-index-abc123.db-journal"
    recent = tmp_path / ".kb-index-def456.db"  # perhaps another process building now
    unrelated = tmp_path / ".kb-index-notes.txt"
    for path in (stale, stale_journal, recent, unrelated):
        path.write_bytes(b"x")
    old = time.time() - kb.index.STALE_TEMP_SECONDS - 60
    for path in (stale, stale_journal, unrelated):
        os.utime(path, (old, old))
    build_index(tmp_path / "index.db", catalogue)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".kb-index-def456.db",
        ".kb-index-notes.txt",
        "entries",
        "index.db",
    ]


# Runs `kb search` as the `kb` command does, but raises KeyboardInterrupt at the Nth
# Python function call counted from the call of kb's main() (the 1st): Ctrl-C at a
# chosen moment once kb's code runs, every run the same. (A real signal's moment cannot
# be chosen; Python turns one into KeyboardInterrupt between bytecodes, as this does.)
# A call Python makes with its exceptions discarded (the import system's module-lock
# weakref callback, a __del__) cannot pass an interrupt on in any program: Python prints
# "Exception ignored in" and goes on. The interrupt lands on the next call instead.
INTERRUPTED = """
import os, sys
import kb.cli
limit = int(sys.argv[1])
calls = 0
raised = False
def discarded(code):
    return code.co_name == "__del__" or (
        code.co_name == "cb" and code.co_filename.startswith("<frozen importlib")
    )
def tracer(frame, event, arg):
    global calls, raised
    calls += 1
    if limit and calls >= limit and not raised and not discarded(frame.f_code):
        raised = True
        raise KeyboardInterrupt
    return None  # calls only, not every line: quicker, and fine enough
main = kb.cli.main
def traced():
    sys.settrace(tracer)
    return main()
sys.argv = ["kb", "search", "grad can be implicitly created only for scalar outputs"]
code = traced()
if not limit:
    sys.settrace(None)
    sys.stderr.write(f"calls={calls}\\n")
sys.exit(code)
"""


def test_ctrl_c_at_any_moment_prints_no_traceback(catalogue, tmp_path):
    def start(limit: int, where) -> subprocess.Popen:
        where.mkdir()
        env = dict(os.environ, PYTHONPATH=ROOT, KB_DB=str(where / "index.db"))
        return subprocess.Popen(
            [sys.executable, "-c", INTERRUPTED, str(limit)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    # How many calls a whole search makes (building the index first), then interrupt
    # at moments spread over all of them, the first ones most densely.
    _, err = start(0, tmp_path / "count").communicate(timeout=60)
    total = int(err.rsplit("calls=", 1)[1])
    assert total > 1000
    moments = sorted({2, 5, 20, 100, 1000} | {total * k // 4 for k in range(1, 4)})
    runs = {limit: start(limit, tmp_path / str(limit)) for limit in moments}
    for limit, proc in runs.items():
        _, err = proc.communicate(timeout=60)
        assert (proc.returncode, err) == (130, ""), limit
        leftovers = [p.name for p in (tmp_path / str(limit)).iterdir()]
        assert leftovers in ([], ["index.db"]), limit


@pytest.mark.skipif(os.name != "posix", reason="signals to a process group are POSIX")
def test_ctrl_c_from_the_terminal_ends_kb_quietly(catalogue):
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-m", "kb", "search", "-"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=ROOT),
        # The terminal's Ctrl-C: SIGINT with its default meaning, whatever this test
        # runner inherited.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # Once it waits for the paste on stdin (Python's own start-up is not kb's to guard).
    deadline = time.time() + 20
    while time.time() < deadline and "pipe" not in _wchan(proc.pid):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    done = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert done[1] == b""


def _wchan(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/wchan") as fh:
            return fh.read()
    except OSError:  # no /proc: give it time instead
        time.sleep(1.0)
        return "pipe"
