"""Where the catalogue and the index live; environment variables override both.

Plain `os.path` strings, no pathlib: this module sits on the `kb search` cold-start path,
where every import counts.
"""

from __future__ import annotations

import os

PACKAGE = os.path.dirname(os.path.abspath(__file__))
# Files in an entries folder that are about the catalogue rather than entries of it.
NOT_ENTRIES = frozenset({"README.md"})


class ConfigError(Exception):
    """A catalogue setting that cannot be used; the message names where it was set."""


def bundled_dir() -> str:
    """The catalogue kb ships: the copy inside an installed wheel, else the checkout's."""
    bundled = os.path.join(PACKAGE, "_entries")
    if os.path.isdir(bundled):
        return bundled
    return os.path.join(os.path.dirname(PACKAGE), "entries")


def is_installed_copy(folder: str) -> bool:
    """Is `folder` the catalogue inside an installed kb (which an upgrade replaces)?"""
    return os.path.realpath(folder) == os.path.realpath(os.path.join(PACKAGE, "_entries"))


def catalogue_dirs() -> list[str]:
    """Every catalogue folder, in precedence order (the first to hold an id wins it):
    $KB_ENTRIES (folders separated by os.pathsep), then the `entries` of the `[tool.kb]`
    table in the nearest pyproject.toml that has one (from the current directory
    upwards), then the bundled catalogue, unless KB_BUNDLED=0 or `bundled = false`
    there leaves it out."""
    found: list[str] = []
    env = os.environ.get("KB_ENTRIES")
    if env:
        found += [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
    config = project_config()
    found += config.get("entries", [])
    bundled = os.environ.get("KB_BUNDLED", "").strip().lower()
    if bundled not in ("0", "false", "no") and config.get("bundled", True):
        found.append(bundled_dir())
    out: list[str] = []
    for folder in found:
        real = os.path.realpath(folder)
        if real not in out:
            out.append(real)
    return out


def entries_dir() -> str:
    """The first catalogue folder (see catalogue_dirs for all of them)."""
    folders = catalogue_dirs()
    return folders[0] if folders else bundled_dir()


def project_config(start: str | None = None) -> dict:
    """The `[tool.kb]` table of the nearest pyproject.toml that has one, from `start`
    (the current directory) upwards, with its folders made absolute; {} if none.

    Read on every search, so cheaply: one stat per directory, and TOML is parsed only
    in a file that mentions the table.
    """
    try:
        here = os.path.abspath(start or os.getcwd())
    except OSError:  # the current directory was removed
        return {}
    while True:
        candidate = os.path.join(here, "pyproject.toml")
        try:
            with open(candidate, "rb") as fh:
                data = fh.read()
        except OSError:
            data = b""
        if b"tool.kb" in data and _has_tool_kb(data):
            table = _tool_kb(candidate, data)
            if table is not None:
                return table
        parent = os.path.dirname(here)
        if parent == here:
            return {}
        here = parent


def _has_tool_kb(data: bytes) -> bool:
    """Does a line of this TOML open the [tool.kb] table (or a table inside it)?"""
    for line in data.split(b"\n"):
        if b"tool.kb" in line:
            header = line.replace(b" ", b"").replace(b"\t", b"")
            if header.startswith((b"[tool.kb]", b"[tool.kb.")):
                return True
    return False


def _tool_kb(path: str, data: bytes) -> dict | None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        table = tomllib.loads(data.decode("utf-8")).get("tool", {}).get("kb")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    if table is None:
        return None
    entries = table.get("entries", [])
    if isinstance(entries, str):
        entries = [entries]
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise ConfigError(f"{path}: [tool.kb] entries must be a folder or a list of folders")
    bundled = table.get("bundled", True)
    if not isinstance(bundled, bool):
        raise ConfigError(f"{path}: [tool.kb] bundled must be true or false")
    base = os.path.dirname(path)
    folders = [os.path.join(base, os.path.expanduser(e)) for e in entries]
    return {"entries": folders, "bundled": bundled, "file": path}


def entry_files(folder: str | os.PathLike | None = None) -> list[str]:
    """Entry files of a catalogue folder (default: the first), sorted by name."""
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


def db_path(folders: str | os.PathLike | list | None = None) -> str:
    """The SQLite index: $KB_DB, else one file per list of catalogue folders in the
    user's cache."""
    env = os.environ.get("KB_DB")
    if env:
        return os.path.expanduser(env)
    if folders is None:
        folders = catalogue_dirs()
    elif not isinstance(folders, list):
        folders = [os.fspath(folders)]
    key = "\n".join(os.fspath(f) for f in folders)
    tag = crc32(key.encode("utf-8", "surrogateescape"))
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
