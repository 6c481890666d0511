"""The stdlib SQLite binding, loaded the cheap way.

`sqlite3`'s Python layer exists mostly to register date and time adapters kb never uses,
and importing it (with `datetime`) is a tenth of a cold `kb search`. The C module it wraps
has the same `connect`, `Row` and exceptions; connections are the same objects either way.
"""

try:
    import _sqlite3 as sqlite3  # noqa: F401
except ImportError:  # an interpreter that ships the binding differently
    import sqlite3  # noqa: F401
