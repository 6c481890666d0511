"""Where the catalogue and the index live; environment variables override both.

Stdlib only: this module sits on the `kb search` path.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# Files in an entries folder that are about the catalogue rather than entries of it.
NOT_ENTRIES = frozenset({"README.md"})


def entries_dir() -> Path:
    """The catalogue: $KB_ENTRIES, else the copy inside an installed wheel, else the checkout's."""
    env = os.environ.get("KB_ENTRIES")
    if env:
        return Path(env).expanduser().resolve()
    bundled = PACKAGE / "_entries"
    if bundled.is_dir():
        return bundled
    return PACKAGE.parent / "entries"


def entry_files(folder: Path | None = None) -> list[Path]:
    """Entry files of a catalogue folder, sorted by name."""
    folder = folder or entries_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.md") if p.name not in NOT_ENTRIES)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kb"


def db_path(folder: Path | None = None) -> Path:
    """The SQLite index: $KB_DB, else one file per catalogue folder in the user's cache."""
    env = os.environ.get("KB_DB")
    if env:
        return Path(env).expanduser()
    folder = folder or entries_dir()
    tag = hashlib.sha1(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return cache_dir() / f"index-{tag}.db"


def record_path() -> Path:
    """The last verification record written by `pytest entries/`."""
    env = os.environ.get("KB_RECORD")
    if env:
        return Path(env).expanduser()
    return cache_dir() / "verified.json"
