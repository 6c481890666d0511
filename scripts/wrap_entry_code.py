"""Rewrap the Python code lines of entries that are wider than `kb lint` allows (KB031).

Usage: python scripts/wrap_entry_code.py [FILE_OR_FOLDER ...]   (default: entries/)

Only the long lines change, so the rest of a block keeps its layout (aligned comments):

* a trailing comment moves to its own line above the code, at the code's indentation;
* a comment line is wrapped into several;
* a long statement is laid out as `ruff format --line-length 79` lays it out, taking
  only ruff's changes that touch long lines, and kept only if the block still means the
  same (its syntax tree is unchanged) and now fits.

Prints what it could not wrap (fix those by hand). Needs ruff (the dev extra).
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import textwrap
import tokenize
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb.lint import MAX_CODE_COLUMNS  # noqa: E402
from kb.parse import parse_document  # noqa: E402

WIDTH = MAX_CODE_COLUMNS


def _comments(code: str) -> dict[int, int]:
    """0-based line -> column of the comment on it (tokenize, so `#` in strings is not one)."""
    found = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT:
                found[tok.start[0] - 1] = tok.start[1]
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


def _comment_only(line: str) -> bool:
    return line.lstrip().startswith("#")


def _move_comments(lines: list[str]) -> list[str]:
    comments = _comments("\n".join(lines) + "\n")
    out: list[str] = []
    n = 0
    while n < len(lines):
        line = lines[n]
        if len(line) > WIDTH and n in comments and _comment_only(line):
            # A comment paragraph (its lines at one indentation) is reflowed as one.
            indent = line[: len(line) - len(line.lstrip())]
            first = n
            while (
                first > 0
                and out
                and _comment_only(out[-1])
                and out[-1].startswith(indent + "#")
                and (first - 1) in comments
            ):
                out.pop()
                first -= 1
            last = n
            while (
                last + 1 < len(lines)
                and (last + 1) in comments
                and _comment_only(lines[last + 1])
                and lines[last + 1].startswith(indent + "#")
                and lines[last + 1][len(indent)] == "#"
            ):
                last += 1
            text = " ".join(x.strip().lstrip("#").strip() for x in lines[first : last + 1])
            out += [f"{indent}# {part}" for part in textwrap.wrap(text, WIDTH - len(indent) - 2)]
            n = last + 1
            continue
        n += 1
        if len(line) <= WIDTH or (n - 1) not in comments:
            out.append(line)
            continue
        n -= 1
        column = comments[n]
        code, comment = line[:column].rstrip(), line[column:].lstrip("#").strip()
        indent = line[: len(line) - len(line.lstrip())]
        wrapped = textwrap.wrap(comment, WIDTH - len(indent) - 2) or [""]
        out += [f"{indent}# {part}" for part in wrapped]
        if code.strip():
            out.append(code)
        n += 1
    return out


def _ruff(code: str) -> str | None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--line-length", str(WIDTH),
         "--stdin-filename", "block.py", "-"],
        input=code, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout if done.returncode == 0 else None


def _statement_spans(tree: ast.AST) -> list[tuple[int, int]]:
    """(first, last) 0-based lines of every statement, in walk order; for a compound
    statement (for, with, def...) only its header, up to its body."""
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            body = getattr(node, "body", None)
            last = body[0].lineno - 1 if isinstance(body, list) and body else node.end_lineno
            spans.append((first - 1, last - 1))
    return spans


def _wrap_statements(lines: list[str]) -> list[str]:
    """Each statement holding a long line, as ruff lays it out; the rest as it was."""
    if all(len(line) <= WIDTH for line in lines):
        return lines
    formatted = _ruff("\n".join(lines) + "\n")
    if formatted is None:
        return lines
    new = formatted.rstrip("\n").split("\n")
    try:
        old_spans = _statement_spans(ast.parse("\n".join(lines)))
        new_spans = _statement_spans(ast.parse(formatted))
    except SyntaxError:
        return lines
    if len(old_spans) != len(new_spans):
        return lines
    # Spans never overlap: a compound statement's span is its header alone.
    chosen = {
        (a1, a2): (b1, b2)
        for (a1, a2), (b1, b2) in zip(old_spans, new_spans, strict=True)
        if any(len(line) > WIDTH for line in lines[a1 : a2 + 1])
    }
    out = list(lines)
    for (a1, a2), (b1, b2) in sorted(chosen.items(), reverse=True):
        out[a1 : a2 + 1] = new[b1 : b2 + 1]
    return _split_strings(out)


def _split_strings(lines: list[str]) -> list[str]:
    """A string literal that alone overflows its line, inside brackets, split at a space
    into two adjacent literals (Python joins them back into one)."""
    out = []
    for line in lines:
        stripped = line.strip()
        quote = stripped[:1] if stripped[:1] in "\"'" else stripped[1:2]
        prefix = stripped[: stripped.index(quote)] if quote in "\"'" else ""
        if (
            len(line) <= WIDTH
            or quote not in "\"'"
            or prefix not in ("", "f", "r", "rf", "fr")
            or stripped.startswith(prefix + quote * 3)
        ):
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        body = stripped[len(prefix) + 1 :]
        end = body.rfind(quote)
        text, tail = body[:end], body[end + 1 :]
        room = WIDTH - len(indent) - len(prefix) - 2
        pieces = []
        while len(text) > room:
            cut = text.rfind(" ", 0, room)
            if cut <= 0:
                break
            pieces.append(text[: cut + 1])
            text = text[cut + 1 :]
        pieces.append(text)
        for n, piece in enumerate(pieces):
            end_ = tail if n == len(pieces) - 1 else ""
            out.append(f"{indent}{prefix}{quote}{piece}{quote}{end_}")
    return out


def _same_meaning(old: str, new: str) -> bool:
    try:
        return ast.dump(ast.parse(old)) == ast.dump(ast.parse(new))
    except SyntaxError:
        return False


def wrap_block(code: str) -> str:
    lines = code.rstrip("\n").split("\n")
    step = _move_comments(lines)
    if not _same_meaning(code, "\n".join(step)):
        step = lines
    final = _wrap_statements(step)
    if not _same_meaning(code, "\n".join(final)):
        final = step
    return "\n".join(final) + "\n"


def wrap_file(path: Path) -> list[str]:
    """Rewrap one entry file in place; return the long lines left (as `path:line`)."""
    text = path.read_text(encoding="utf-8")
    doc = parse_document(text, str(path))
    lines = text.split("\n")
    # Bottom-up, so earlier fences keep their line numbers while later ones change.
    for fence in sorted(doc.fences, key=lambda f: -f.line):
        if fence.info.split()[:1] != ["python"]:
            continue
        old = fence.code.rstrip("\n").split("\n")
        if all(len(line) <= WIDTH for line in old):
            continue
        new = wrap_block(fence.code).rstrip("\n").split("\n")
        start = fence.line - 1
        lines[start : start + len(old)] = new
    result = "\n".join(lines)
    if result != text:
        path.write_text(result, encoding="utf-8")
    left = []
    for fence in parse_document(result, str(path)).fences:
        if fence.info.split()[:1] == ["python"]:
            for offset, line in enumerate(fence.code.split("\n")):
                if len(line) > WIDTH:
                    left.append(f"{path}:{fence.line + offset}: {len(line)} columns")
    return left


def main(argv: list[str]) -> int:
    targets = [Path(a) for a in argv] or [Path(__file__).resolve().parent.parent / "entries"]
    files = []
    for target in targets:
        files += sorted(target.glob("*.md")) if target.is_dir() else [target]
    left = []
    for path in files:
        if path.name != "README.md":
            left += wrap_file(path)
    for line in left:
        print(line)
    print(f"{len(files)} files; {len(left)} long lines left to wrap by hand", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
