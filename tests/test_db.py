"""kb/db.py loads `_sqlite3` without `functools` in a fresh process; SQLite must work the
same, and `functools` must stay the real one for everything imported afterwards."""

import subprocess
import sys

CODE = """
import sys
had = "functools" in sys.modules  # a site-packages .pth file may have loaded it already
from kb.db import sqlite3
assert had or "functools" not in sys.modules, "kb.db left functools loaded"
conn = sqlite3.connect(":memory:")
conn.execute("create table t (x)")
# More distinct statements than the statement cache holds (128), each run twice.
for i in range(300):
    for _ in range(2):
        conn.execute(f"insert into t values ({i})")
assert conn.execute("select count(*), sum(x) from t").fetchone() == (600, 2 * sum(range(300)))
import functools
assert functools.reduce(lambda a, b: a + b, [1, 2, 3]) == 6 and hasattr(functools, "wraps")
print("ok")
"""


def test_sqlite_works_and_functools_is_untouched_in_a_fresh_process():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
