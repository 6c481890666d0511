"""The `kb` command line: parse arguments, call the library, print. Nothing else.

argparse rather than click, and imports inside each command, because `kb search` must
answer at once from a cold start while the user's training script is broken: this
module loads no torch, no textual, no markdown parser unless a command needs one.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a cold-start cost)
if TYPE_CHECKING:
    import argparse

MAX_QUERY_BYTES = 8 * 1024 * 1024


class UserError(Exception):
    """A problem to report in one line, exit status 1."""


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _json(value: object) -> None:
    import json

    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def _clean_arg(text: str) -> str:
    # argv undecodable as UTF-8 arrives with surrogate escapes; make them plain replacement chars.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _read_query(args: argparse.Namespace) -> str:
    piped = sys.stdin is not None and not sys.stdin.isatty()
    if args.text == ["-"] or (not args.text and piped):
        if sys.stdin is None:  # started with stdin closed (`kb search - <&-`)
            raise UserError("stdin is closed: there is no paste to read")
        try:
            data = sys.stdin.buffer.read(MAX_QUERY_BYTES + 1)
        except OSError as exc:
            raise UserError(f"cannot read the paste from stdin: {exc.strerror}") from None
        if len(data) > MAX_QUERY_BYTES:
            # Keep the end: a traceback's exception lines are at the bottom of a paste.
            data = data[-MAX_QUERY_BYTES:]
        return data.decode("utf-8", "replace")
    if not args.text:
        raise UserError("give the error text to search for, or '-' to read a paste from stdin")
    return " ".join(_clean_arg(t) for t in args.text)


def _warn_problems(problems: list) -> None:
    # Notices are about the index itself (kb.index.Notice), matched by name as below.
    for notice in [p for p in problems if type(p).__name__ == "Notice"]:
        sys.stderr.write(f"kb: warning: {notice}\n")
    problems = [p for p in problems if type(p).__name__ != "Notice"]
    for problem in problems[:5]:
        sys.stderr.write(f"kb: entry skipped: {problem}\n")
    if len(problems) > 5:
        sys.stderr.write(f"kb: ... and {len(problems) - 5} more problems (run `kb lint`)\n")


def cmd_search(args: argparse.Namespace) -> int:
    from kb.search import MAX_HITS, search

    if args.limit > MAX_HITS:
        sys.stderr.write(f"kb: showing at most {MAX_HITS} hits (-n {args.limit} asks for more)\n")
    query = _read_query(args)
    hits, problems = search(query, limit=args.limit, explain=args.explain)
    _warn_problems(problems)
    if args.json:
        _json([h.as_dict(args.explain) for h in hits])
        return 0
    if not hits:
        sys.stderr.write("kb: no entry matches; try fewer words, or the exception line alone\n")
        return 1
    width = max(len(h.id) for h in hits)
    for hit in hits:
        _out(f"{hit.id:<{width}}  {hit.title}")
        _out(f"{'':<{width}}  {hit.why}")
        if args.explain:
            parts = ", ".join(f"{k}={v:.2f}" for k, v in hit.parts.items())
            _out(f"{'':<{width}}  score {hit.score:.2f}: {parts}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from kb.search import get_entry, suggest_ids

    entry, problems = get_entry(args.id)
    _warn_problems(problems)
    if entry is None:
        close = suggest_ids(args.id)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `kb list` shows them all"
        raise UserError(f"no entry '{args.id}'{hint}")
    if args.json:
        _json(entry)
        return 0
    from kb.render import render_entry

    render_entry(entry)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from kb.search import list_entries

    rows, problems = list_entries(tag=args.tag, kind=args.kind)
    _warn_problems(problems)
    if args.json:
        _json(rows)
        return 0
    if not rows:
        sys.stderr.write("kb: no entries match\n")
        return 1
    width = max(len(r["id"]) for r in rows)
    for row in rows:
        _out(f"{row['id']:<{width}}  {row['kind']:<7}  {row['title']}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from kb.catalogue import render_stats, stats
    from kb.search import list_entries

    rows, problems = list_entries()
    _warn_problems(problems)
    figures = stats(rows)
    if args.json:
        _json(figures)
    else:
        _out(render_stats(figures))
    return 0


def cmd_catalogue(args: argparse.Namespace) -> int:
    import os

    from kb import paths
    from kb.catalogue import render_index
    from kb.search import list_entries

    rows, problems = list_entries()
    _warn_problems(problems)
    if any(type(p).__name__ != "Notice" for p in problems):
        raise UserError("fix the entries above first (`kb lint`)")
    # One folder's index, of that folder's entries: by default the folder `kb new`
    # writes to (a team's, or the checkout's when contributing to kb).
    if args.dir:
        folder = os.path.realpath(args.dir)
    else:
        folder = _writable_folder() if args.write else paths.entries_dir()
    rows = [r for r in rows if os.path.dirname(r["path"]) == folder]
    text = render_index(rows)
    target = os.path.join(folder, "README.md")
    if args.check:
        try:
            with open(target, encoding="utf-8") as fh:
                current = fh.read()
        except OSError:
            current = ""
        if current != text:
            raise UserError(f"{target} is out of date: run `kb catalogue --write`")
        return 0
    if args.write:
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(text)
        _out(f"wrote {target} ({len(rows)} entries)")
        return 0
    sys.stdout.write(text)
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kb import paths
    from kb.lint import RULES, lint_paths

    if args.rules:
        for code, text in RULES.items():
            _out(f"{code}  {text}")
        return 0
    targets: list[Path] = []
    for name in args.paths or paths.catalogue_dirs():
        path = Path(name)
        if path.is_dir() and not name.endswith(".md"):
            targets.extend(Path(f) for f in paths.entry_files(path))
        elif path.is_file():
            targets.append(path)
        elif path.is_dir():
            raise UserError(f"{name}: a folder, not an entry file")
        else:
            raise UserError(f"{name}: no such file or folder")
    problems = lint_paths(targets)
    for problem in problems:
        _out(str(problem))
    if problems:
        sys.stderr.write(f"kb: {len(problems)} problem(s) in {len(targets)} file(s)\n")
        return 1
    sys.stderr.write(f"kb: {len(targets)} entries, no problems\n")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from kb import paths
    from kb.index import build_index

    folders = paths.catalogue_dirs()
    db = paths.db_path(folders)
    count, problems = build_index(db, folders)
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    _out(f"indexed {count} entries from {', '.join(folders)} into {db}")
    return 1 if problems else 0


def _writable_folder() -> str:
    """The first catalogue folder kb may write entries into; never the installed copy."""
    from kb import paths

    for folder in paths.catalogue_dirs():
        if not paths.is_installed_copy(folder) and _can_write(folder):
            return folder
    raise UserError(
        "no catalogue folder to write to: pass --to DIR, or name your folder in "
        "KB_ENTRIES or in [tool.kb] entries of your pyproject.toml (kb never writes into "
        "its installed copy, which an upgrade replaces)"
    )


def _can_write(folder: str) -> bool:
    while not os.path.exists(folder):  # created on first use: its nearest parent decides
        parent = os.path.dirname(folder)
        if parent == folder:
            return False
        folder = parent
    return os.path.isdir(folder) and os.access(folder, os.W_OK)


def cmd_new(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kb import paths
    from kb.scaffold import ScaffoldError, new_entry

    folder = os.path.realpath(args.to) if args.to else _writable_folder()
    if paths.is_installed_copy(folder):
        raise UserError(f"{folder} is kb's installed copy, which an upgrade replaces; use --to")
    try:
        path = new_entry(Path(folder), args.id)
    except ScaffoldError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {folder}: {exc.strerror}") from None
    _out(str(path))
    if folder not in paths.catalogue_dirs():
        sys.stderr.write(
            f"kb: note: {folder} is not a catalogue folder yet; add it to KB_ENTRIES or to "
            "[tool.kb] entries in your pyproject.toml so kb searches it\n"
        )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from kb import paths

    try:
        import pytest
    except ImportError:
        raise UserError("verifying needs pytest: pip install pytest") from None
    folders = paths.catalogue_dirs()
    if not folders:
        raise UserError("no catalogue folders: KB_BUNDLED=0 and none named in KB_ENTRIES")
    try:
        root = os.path.commonpath(folders)
    except ValueError:  # folders on different drives
        root = folders[0]
    # kb's own settings (kb/verify.ini), never those of a pytest.ini, pyproject.toml or
    # conftest.py in the folders above: a project's `addopts = --co` or unknown option
    # must not turn verification into something else. kb is imported already (this
    # command runs in it), which pytest would warn about.
    argv = [
        *folders,
        "-c",
        os.path.join(paths.PACKAGE, "verify.ini"),
        "--rootdir",
        root,
        "--noconftest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
    ]
    for device in args.device or []:
        argv += ["--device", device]
    argv += args.pytest_args
    return int(pytest.main(argv))


def cmd_path(args: argparse.Namespace) -> int:
    from kb import paths

    folders = paths.catalogue_dirs()
    _out(
        {
            "entries": "\n".join(folders),
            "index": str(paths.db_path(folders)),
            "record": str(paths.record_path()),
        }[args.what]
    )
    return 0


class SearchArgs:
    """`kb search` arguments, as argparse would give them (without importing argparse)."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.limit = 5
        self.json = False
        self.explain = False
        self.func = cmd_search


def parse_search_fast(argv: list[str]) -> SearchArgs | None:
    """Parse `kb search` arguments without argparse (a few ms of a cold start).

    Returns None for anything unusual (help, unknown options, bad values), and the caller
    then lets argparse parse the same arguments and word any error.
    """
    args = SearchArgs()
    items = iter(argv)
    only_text = False
    for token in items:
        if only_text or token == "-" or not token.startswith("-"):
            args.text.append(token)
        elif token == "--":
            only_text = True
        elif token == "--json":
            args.json = True
        elif token == "--explain":
            args.explain = True
        elif token in ("-n", "--limit") or token.startswith("--limit="):
            value = token.partition("=")[2] if "=" in token else next(items, "")
            if not value.isdigit() or int(value) < 1:
                return None
            args.limit = int(value)
        else:
            return None
    return args


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="kb", description="A verified field guide to PyTorch failures."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("search", help="find the entry for an error message or symptom")
    p.add_argument("text", nargs="*", help="error text or symptom; '-' reads a paste from stdin")
    p.add_argument("-n", "--limit", type=int, default=5, help="hits to show (default 5)")
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    p.add_argument("--explain", action="store_true", help="show why each hit ranked where it did")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("show", help="print one entry")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="print the entry as JSON")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("list", help="list entries")
    p.add_argument("--tag", help="only entries with this tag")
    p.add_argument("--kind", choices=("error", "warning", "silent", "guide"))
    p.add_argument("--json", action="store_true", help="print entries as JSON")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("stats", help="coverage figures of the catalogue")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("catalogue", help="print (or write) a catalogue folder's README.md index")
    p.add_argument("--dir", help="the folder (default: where `kb new` writes)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write entries/README.md")
    group.add_argument("--check", action="store_true", help="exit 1 if it is out of date")
    p.set_defaults(func=cmd_catalogue)

    p = sub.add_parser("lint", help="check entries against the format")
    p.add_argument("paths", nargs="*", help="files or folders (default: the catalogue)")
    p.add_argument("--rules", action="store_true", help="list the rules")
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("index", help="rebuild the search index now")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("new", help="create an entry from the template")
    p.add_argument("id", help="kebab-case id, also the file name")
    p.add_argument(
        "--to", "--dir", dest="to", help="folder to write to (default: the first team folder)"
    )
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("verify", help="run every entry's repro and fix (needs pytest)")
    p.add_argument("--device", action="append", choices=("cpu", "cuda"))
    p.add_argument("pytest_args", nargs="*", help="passed on to pytest (after --)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("path", help="print the catalogue folders, or where the index or record is")
    p.add_argument("what", choices=("entries", "index", "record"))
    p.set_defaults(func=cmd_path)
    return parser


def _quiet_interrupt(kind: type, value: BaseException, tb: object) -> None:
    # Ctrl-C that lands outside main's own handler (between its lines, or while an
    # error is being reported) still ends kb quietly.
    if issubclass(kind, KeyboardInterrupt):
        sys.stderr.write("\n")
        return
    sys.__excepthook__(kind, value, tb)


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the `kb` command itself, not a caller's test
        sys.excepthook = _quiet_interrupt
    try:
        return _main(sys.argv[1:] if argv is None else list(argv))
    except KeyboardInterrupt:
        return 130


def _main(argv: list[str]) -> int:
    try:
        args = parse_search_fast(argv[1:]) if argv[:1] == ["search"] else None
        if args is None:
            parser = build_parser()
            args = parser.parse_args(argv)
            if not getattr(args, "func", None):
                parser.print_help()
                return 2
            if getattr(args, "limit", 1) < 1:
                parser.error("--limit must be at least 1")
        return args.func(args)
    except UserError as exc:
        sys.stderr.write(f"kb: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `kb list | head`: the reader left; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ModuleNotFoundError as exc:
        sys.stderr.write(
            f"kb: the package '{exc.name}' is missing; reinstall kb (pip install -e . or "
            "pip install kb-torch) in the Python you run it with\n"
        )
        return 1
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no traceback
        # Matched by name: importing their modules here could itself fail.
        if type(exc).__name__ in ("EntryError", "IndexError_", "Unwritable", "ConfigError"):
            sys.stderr.write(f"kb: {exc}\n")
            return 1
        if os.environ.get("KB_DEBUG"):
            raise
        sys.stderr.write(
            f"kb: internal error: {type(exc).__name__}: {exc} (KB_DEBUG=1 shows more)\n"
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
