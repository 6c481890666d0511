"""The stdlib SQLite binding, loaded the cheap way.

`sqlite3`'s Python layer exists mostly to register date and time adapters kb never uses,
and importing it (with `datetime`) is a tenth of a cold `kb search`. The C module it wraps
has the same `connect`, `Row` and exceptions; connections are the same objects either way.

The C module, in turn, imports `functools` only to build each connection's statement
cache with `lru_cache`, and `functools` brings `collections`, `operator`, `reprlib`,
`keyword` and `types`: about 3 ms, a quarter of Python's own start-up, on every cold
search. What `lru_cache(n)(f)` returns is the C wrapper `_functools._lru_cache_wrapper`,
so when nothing has imported `functools` yet (a fresh `kb search` process, never a TUI
or a notebook), the binding is handed a module holding just that, which is taken away
again at once. Anything unexpected falls back to the plain import.
"""

import sys


def _load_sqlite():  # -> the _sqlite3 module, or sqlite3 where there is no _sqlite3
    if "functools" not in sys.modules and "_sqlite3" not in sys.modules:
        try:
            from _functools import _lru_cache_wrapper

            def cache_info(*figures):  # what functools' _CacheInfo holds, as a tuple
                return figures

            def lru_cache(maxsize=128, typed=False):
                return lambda function: _lru_cache_wrapper(function, maxsize, typed, cache_info)

            stand_in = type(sys)("functools")
            stand_in.lru_cache = lru_cache
            sys.modules["functools"] = stand_in
            try:
                import _sqlite3

                return _sqlite3
            finally:
                if sys.modules.get("functools") is stand_in:
                    del sys.modules["functools"]
        except Exception:  # noqa: BLE001 - any surprise: load it the ordinary way
            sys.modules.pop("_sqlite3", None)
    try:
        import _sqlite3

        return _sqlite3
    except ImportError:  # an interpreter that ships the binding differently
        import sqlite3

        return sqlite3


sqlite3 = _load_sqlite()
