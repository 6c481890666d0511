"""Files -> Python source to check: `.py` as is, `.ipynb` as its code cells joined.

A notebook's cells are joined into one module (later cells see earlier cells' names, as
they do when the notebook runs) and every line remembers its cell, so a finding reads
`nb.ipynb:cell 3:2:5`, as ruff writes it. IPython magics and shell escapes are blanked
rather than parsed; a cell that is not Python (`%%bash`) is left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


class SourceError(Exception):
    """A file that cannot be checked; the message is one line."""


@dataclass
class Source:
    path: str
    text: str
    # For notebooks: line in `text` (1-based) -> (cell number, line in that cell).
    cells: dict[int, tuple[int, int]] = field(default_factory=dict)

    def where(self, line: int, col: int) -> str:
        if self.cells:
            cell, cell_line = self.cells.get(line, (0, line))
            return f"{self.path}:cell {cell}:{cell_line}:{col}"
        return f"{self.path}:{line}:{col}"

    def cell_of(self, line: int) -> tuple[int, int] | None:
        return self.cells.get(line) if self.cells else None


def read_source(path: Path) -> Source:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    if path.suffix == ".ipynb":
        return _notebook(path, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return Source(str(path), text)


def _notebook(path: Path, data: bytes) -> Source:
    try:
        nb = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"not a notebook: invalid JSON ({str(exc).splitlines()[0]})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise SourceError("not a notebook: no 'cells' list")
    lines: list[str] = []
    where: dict[int, tuple[int, int]] = {}
    number = 0
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        number += 1
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        if not isinstance(src, str) or src.lstrip().startswith("%%"):
            continue
        for i, line in enumerate(src.splitlines(), 1):
            stripped = line.lstrip()
            if stripped.startswith(("%", "!")) or stripped.endswith("?"):
                line = line[: len(line) - len(stripped)] + "pass"
            lines.append(line)
            where[len(lines)] = (number, i)
        lines.append("")  # a cell ends its last statement
    return Source(str(path), "\n".join(lines) + "\n", where)


def collect_files(
    targets: list[str], exclude: list[str] = ()
) -> tuple[list[Path], list[tuple[str, str]]]:
    """The .py and .ipynb files under the targets, sorted; and (target, problem) for each
    target that does not exist."""
    import fnmatch

    skip_dirs = {".git", ".hg", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache",
                 "node_modules", ".ipynb_checkpoints", "build", "dist"}  # fmt: skip
    files: list[Path] = []
    errors: list[tuple[str, str]] = []

    def excluded(p: Path) -> bool:
        s = p.as_posix()
        return any(fnmatch.fnmatch(s, pat) or fnmatch.fnmatch(p.name, pat) for pat in exclude)

    for name in targets:
        path = Path(name)
        if path.is_dir():
            for sub in sorted(path.rglob("*")):
                rel = sub.relative_to(path).parts
                if any(part in skip_dirs or part.startswith(".") for part in rel[:-1]):
                    continue
                if sub.suffix in (".py", ".ipynb") and sub.is_file() and not excluded(sub):
                    files.append(sub)
        elif path.is_file() or path.is_symlink():
            files.append(path)  # named explicitly: checked whatever its suffix
        else:
            errors.append((name, "no such file or folder"))
    return files, errors
