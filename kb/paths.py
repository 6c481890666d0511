"""Where the catalogue and the index live; environment variables override both.

Plain `os.path` strings, no pathlib: this module sits on the `kb search` cold-start path,
where every import counts.
"""

from __future__ import annotations

import os

PACKAGE = os.path.dirname(os.path.abspath(__file__))
# Files in an entries folder that are about the catalogue rather than entries of it.
NOT_ENTRIES = frozenset({"README.md"})


def entries_dir() -> str:
    """The catalogue: $KB_ENTRIES, else the copy inside an installed wheel, else the checkout's."""
    env = os.environ.get("KB_ENTRIES")
    if env:
        return os.path.realpath(os.path.expanduser(env))
    bundled = os.path.join(PACKAGE, "_entries")
    if os.path.isdir(bundled):
        return bundled
    return os.path.join(os.path.dirname(PACKAGE), "entries")


def entry_files(folder: str | os.PathLike | None = None) -> list[str]:
    """Entry files of a catalogue folder, sorted by name."""
    folder = os.fspath(folder) if folder is not None else entries_dir()
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [
        os.path.join(folder, name)
        for name in sorted(names)
        if name.endswith(".md") and name not in NOT_ENTRIES
    ]


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kb")


def db_path(folder: str | os.PathLike | None = None) -> str:
    """The SQLite index: $KB_DB, else one file per catalogue folder in the user's cache."""
    env = os.environ.get("KB_DB")
    if env:
        return os.path.expanduser(env)
    folder = os.fspath(folder) if folder is not None else entries_dir()
    tag = crc32(folder.encode("utf-8", "surrogateescape"))
    return os.path.join(cache_dir(), f"index-{tag:08x}.db")


def crc32(data: bytes) -> int:
    """zlib.crc32, bit by bit: for a path name it is quicker than loading zlib."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def record_path() -> str:
    """The last verification record written by `pytest entries/`."""
    env = os.environ.get("KB_RECORD")
    if env:
        return os.path.expanduser(env)
    return os.path.join(cache_dir(), "verified.json")


def matrix_record_path() -> str:
    """The verification matrix's record (scripts/verify_matrix.py), shipped inside kb."""
    env = os.environ.get("KB_MATRIX_RECORD")
    if env:
        return os.path.expanduser(env)
    return os.path.join(PACKAGE, "verified.json")
