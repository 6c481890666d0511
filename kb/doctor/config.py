"""`[tool.kb.doctor]` in pyproject.toml: select, ignore, exclude.

Found the way ruff finds its settings: the nearest pyproject.toml with a
`[tool.kb.doctor]` table, from the current folder upwards. Command-line options win:
`--select` replaces the configured selection, `--ignore` adds to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

KEYS = ("select", "ignore", "exclude")


class ConfigError(Exception):
    """A configuration that cannot be used, said in one line."""


@dataclass
class Config:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    path: str | None = None  # where it came from


def find_config(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` that has [tool.kb.doctor]."""
    start = start.resolve()
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "kb.doctor" in text or "[tool.kb" in text:
                return candidate
    return None


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    table = data.get("tool", {}).get("kb", {}).get("doctor")
    if table is None:
        return Config(path=str(path))
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.kb.doctor] must be a table")
    config = Config(path=str(path))
    for key, value in table.items():
        if key not in KEYS:
            raise ConfigError(
                f"{path}: unknown key '{key}' in [tool.kb.doctor] (known: {', '.join(KEYS)})"
            )
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{path}: [tool.kb.doctor] {key} must be a list of strings")
        setattr(config, key, list(value))
    return config
