"""Run the rules over sources: parse once, ask every selected rule, drop `# noqa`-ed lines."""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kb.doctor.facts import FileFacts
from kb.doctor.registry import Rule, all_rules
from kb.doctor.sources import Source, SourceError, read_source

_NOQA = re.compile(r"#\s*noqa(?::[\s]*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    col: int  # 1-based, as editors count
    code: str
    message: str
    entry: str
    end_line: int = 0
    end_col: int = 0
    where: str = field(default="", compare=False)  # path:line:col, or path:cell N:line:col

    def __str__(self) -> str:
        return f"{self.where}: {self.code} {self.message} (kb show {self.entry})"

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line,
            "end_col": self.end_col,
            "location": self.where,
            "code": self.code,
            "message": self.message,
            "entry": self.entry,
        }


@dataclass(frozen=True)
class FileError:
    """A file that could not be checked, said in one line."""

    path: str
    message: str
    where: str = ""  # path:line:col when the problem has a place (a syntax error)

    def __str__(self) -> str:
        return f"{self.where or self.path}: {self.message}"


def select_rules(select: Iterable[str] = (), ignore: Iterable[str] = ()) -> list[Rule]:
    """The rules to run: those whose code starts with a `select` prefix (all when none),
    less those starting with an `ignore` prefix. Unknown prefixes are an error."""
    rules = all_rules()
    select = [s.strip().upper() for s in select if s.strip()]
    ignore = [s.strip().upper() for s in ignore if s.strip()]
    for prefix in [*select, *ignore]:
        if not any(code.startswith(prefix) for code in rules) and prefix != "ALL":
            raise ValueError(f"no rule matches '{prefix}' (kb doctor --rules lists them)")
    chosen = [
        r
        for code, r in rules.items()
        if (not select or "ALL" in select or any(code.startswith(p) for p in select))
        and not any(code.startswith(p) for p in ignore)
    ]
    return chosen


def noqa_lines(text: str) -> dict[int, set[str] | None]:
    """line -> the codes its `# noqa: ...` comment silences (None: all of them)."""
    out: dict[int, set[str] | None] = {}
    if "noqa" not in text.lower():
        return out
    for number, line in enumerate(text.splitlines(), 1):
        if "#" not in line:
            continue
        match = _NOQA.search(line)
        if match:
            codes = match.group("codes")
            out[number] = {c.upper() for c in re.split(r"[\s,]+", codes) if c} if codes else None
    return out


def check_source(source: Source, rules: list[Rule]) -> tuple[list[Finding], list[FileError]]:
    """Every finding of `rules` in one source; a syntax error is a FileError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes and the like are not ours
            tree = ast.parse(source.text, filename=source.path)
    except SyntaxError as exc:
        where = source.where(exc.lineno or 1, exc.offset or 1)
        return [], [FileError(source.path, f"syntax error: {exc.msg}", where)]
    except (ValueError, RecursionError, MemoryError) as exc:
        return [], [FileError(source.path, f"cannot parse: {type(exc).__name__}")]
    facts = FileFacts(tree, source.text)
    if facts.foreign:
        return [], []
    silenced = noqa_lines(source.text)
    found: dict[tuple[str, int, int], Finding] = {}
    errors: list[FileError] = []
    for rule in rules:
        if rule.needs and not any(word in source.text for word in rule.needs):
            continue
        try:
            hits = list(rule.check(facts))
        except RecursionError:
            errors.append(FileError(source.path, f"{rule.code} skipped: the file nests too deep"))
            continue
        for node, message in hits:
            line = getattr(node, "lineno", 1)
            col = getattr(node, "col_offset", 0) + 1
            codes = silenced.get(line, set())
            if codes is None or rule.code in codes:
                continue
            key = (rule.code, line, col)
            if key not in found:
                found[key] = Finding(
                    source.path,
                    line,
                    col,
                    rule.code,
                    message,
                    rule.entry,
                    getattr(node, "end_lineno", None) or line,
                    (getattr(node, "end_col_offset", None) or col - 1) + 1,
                    source.where(line, col),
                )
    return sorted(found.values()), errors


def check_text(text: str, path: str = "<string>", rules: list[Rule] | None = None) -> list[Finding]:
    """Findings in a piece of Python source (the harness checks entry blocks this way)."""
    findings, errors = check_source(Source(path, text), rules or select_rules())
    if errors:
        raise SyntaxError(str(errors[0]))
    return findings


def check_paths(
    files: Iterable[Path], rules: list[Rule]
) -> tuple[list[Finding], list[FileError], int]:
    """Check files one by one; a file that fails to read or parse is one error, and the
    run goes on. Returns findings, errors and the number of files checked."""
    findings: list[Finding] = []
    errors: list[FileError] = []
    count = 0
    for path in files:
        count += 1
        try:
            source = read_source(path)
        except SourceError as exc:
            errors.append(FileError(str(path), str(exc)))
            continue
        f, e = check_source(source, rules)
        findings.extend(f)
        errors.extend(e)
    return findings, errors, count
