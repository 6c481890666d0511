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
    from kb.search import unexplained_message

    message = unexplained_message(query, hits)
    if message:
        _out(f"No entry explains this message yet:\n  {_printable(message)}")
        if hits:
            _out("Related entries (words in common only, not this message):")
    if not hits:
        sys.stderr.write("kb: no entry matches; try fewer words, or the exception line alone\n")
        if message:
            _out(NEW_ENTRY_HINT)
        return 1
    width = max(len(h.id) for h in hits)
    for hit in hits:
        _out(f"{hit.id:<{width}}  {hit.title}")
        _out(f"{'':<{width}}  {hit.match}: {hit.why}")
        if args.explain:
            parts = ", ".join(f"{k}={v:.2f}" for k, v in hit.parts.items())
            _out(f"{'':<{width}}  score {hit.score:.2f}: {parts}")
    if message:
        _out(NEW_ENTRY_HINT)
    return 0


NEW_ENTRY_HINT = (
    "To add the entry, draft it from this paste: kb new ID --from-paste < paste.txt\n"
    "(then `kb lint` lists what is left to fill in; CONTRIBUTING.md has the format)"
)


def _printable(text: str, width: int = 300) -> str:
    # Echoed paste: control characters could move the cursor or recolour the terminal.
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _diagnose_code(entry: dict) -> str:
    """An environment entry's ```python diagnose block, from its Diagnose section."""
    lines = (entry.get("diagnose") or "").split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "```python diagnose")
    except StopIteration:
        return ""
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == "```"), len(lines))
    return "\n".join(lines[start + 1 : end])


def cmd_show(args: argparse.Namespace) -> int:
    if args.snippet is not None:
        return _show_snippet(args.snippet)
    if args.id is None:
        raise UserError("give an entry id (kb list shows them), or --snippet NAME")
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
    if args.code:
        # Only the code, so `kb show --fix ID | pbcopy` puts a pasteable block on the clipboard.
        code = _diagnose_code(entry) if args.code == "diagnose" else entry[args.code]
        if not code.strip():
            raise UserError(f"'{args.id}' ({entry['kind']}) has no {args.code} block")
        sys.stdout.write(code.rstrip("\n") + "\n")
        return 0
    from kb.render import render_entry

    render_entry(entry)
    return 0


def _show_snippet(name: str) -> int:
    from kb.snippets import HELPERS, source

    if name not in HELPERS:
        known = "\n".join(f"  {n:<20} {summary}" for n, (_, _, summary) in HELPERS.items())
        raise UserError(f"no snippet '{name}'; the helpers are:\n{known}")
    sys.stdout.write(source(name))
    return 0


def cmd_tui(args: argparse.Namespace) -> int:
    from kb import tui

    query = " ".join(_clean_arg(t) for t in args.text)
    if not sys.stdin.isatty():
        piped = tui.read_piped_stdin()
        query = f"{query}\n{piped}" if query else piped
        try:
            tui.attach_terminal()
        except OSError:
            raise UserError(
                "kb tui needs a terminal for the keyboard; use `kb search -` in a pipe"
            ) from None
    if not sys.stdout.isatty() and not sys.stderr.isatty():
        raise UserError("kb tui needs a terminal; use `kb search` in scripts")
    return tui.run(query)


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
    from kb.catalogue import entries_phrase

    sys.stderr.write(f"kb: {entries_phrase(len(targets))}, no problems\n")
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
    paste = None
    if args.from_paste:
        if sys.stdin.isatty():
            raise UserError(
                "--from-paste reads the traceback from stdin: kb new ID --from-paste < paste.txt"
            )
        paste = sys.stdin.buffer.read()[-MAX_QUERY_BYTES:].decode("utf-8", "replace")
    try:
        path = new_entry(Path(folder), args.id, paste)
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
    if paste is not None:
        sys.stderr.write(f"kb: drafted from the paste; `kb lint {path}` lists what is left\n")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    if args.ids:
        return _verify_entries(args)
    if args.json:
        raise UserError("--json reports on given entries: kb verify ID... --json")
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


def cmd_doctor(args: argparse.Namespace) -> int:
    from kb.doctor import docs
    from kb.doctor.run import DoctorError, resolve_rules, run, settings

    fmt = "json" if args.json else args.format
    try:
        if args.explain or args.rules:
            rules = resolve_rules(args.select, args.ignore, settings(args.config))
            if args.explain:
                from kb.doctor import all_rules

                rule = all_rules().get(args.explain.strip().upper())
                if rule is None:
                    raise UserError(f"no rule '{args.explain}' (kb doctor --rules lists them)")
                sys.stdout.write(docs.explain(rule))
            elif fmt == "markdown":
                sys.stdout.write(docs.rules_markdown(rules))
            elif fmt == "json":
                _json(
                    [
                        {"code": r.code, "name": r.name, "entry": r.entry, "summary": r.summary}
                        for r in rules
                    ]
                )
            else:
                _out(docs.rules_table(rules))
            return 0
        result = run(args.paths, args.select, args.ignore, args.config)
    except DoctorError as exc:
        raise UserError(str(exc)) from None
    if fmt == "json":
        from kb.doctor.report import as_json

        _json(as_json(result.findings, result.errors, result.files))
    elif fmt == "sarif":
        from kb.doctor.report import as_sarif

        _json(as_sarif(result.findings, result.errors, result.rules))
    else:
        for finding in result.findings:
            _out(str(finding))
        for error in result.errors:
            sys.stderr.write(f"kb doctor: {error}\n")
        found = len(result.findings)
        sys.stderr.write(
            f"kb doctor: {found} finding{'s' * (found != 1)} in {result.files} "
            f"file{'s' * (result.files != 1)}"
            + (f", {len(result.errors)} not checked" if result.errors else "")
            + "\n"
        )
    if args.exit_zero:
        return 0
    return 1 if result.findings or result.errors else 0


def _verify_entries(args: argparse.Namespace) -> int:
    """`kb verify ID...`: each entry's proof in its own process, outcomes as they come."""
    from kb.prove import DEVICES, ProofError, proof_for

    devices = tuple(args.device or DEVICES)
    try:
        proofs = [proof_for(entry_id, devices) for entry_id in args.ids]
    except ProofError as exc:
        raise UserError(str(exc)) from None
    report = []
    for proof in proofs:
        if not args.json:
            _out(f"{proof.entry_id}:")
        for outcome in proof:
            if not args.json:
                _out(f"  {outcome.line()}")
                for detail in outcome.details:
                    _out(f"      {detail}")
        ran = [o for o in proof.outcomes if o.status != "skipped"]
        verdict = "passed" if proof.ok else "failed" if ran else "skipped"
        report.append(
            {
                "id": proof.entry_id,
                "outcome": verdict,
                "torch": proof.torch_version,
                "seconds": round(proof.elapsed, 3),
                "phases": [o.as_dict() for o in proof.outcomes],
            }
        )
        if not args.json:
            _out(f"  {verdict} in {proof.elapsed:.1f} s (torch {proof.torch_version})")
    if args.json:
        _json(report)
    return 1 if any(r["outcome"] == "failed" for r in report) else 0


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
    p.add_argument("id", nargs="?")
    p.add_argument(
        "--snippet", metavar="NAME", help="print a kb.snippets helper's source, pasteable alone"
    )
    p.add_argument("--json", action="store_true", help="print the entry as JSON")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--fix", dest="code", action="store_const", const="fix", help="print only the fix code"
    )
    group.add_argument(
        "--repro", dest="code", action="store_const", const="repro", help="print only the repro"
    )
    group.add_argument(
        "--diagnose",
        dest="code",
        action="store_const",
        const="diagnose",
        help="print only the diagnose block (environment entries: run it on the failing machine)",
    )
    p.set_defaults(func=cmd_show)

    # Listed for --help only: main() hands `kb run ...` to kb.hook.run before parsing.
    p = sub.add_parser("run", help="run SCRIPT [ARGS] or -m MODULE [ARGS] with the crash note")
    p.add_argument("program", nargs="*")

    p = sub.add_parser("tui", help="the interface: paste a traceback, read, copy, prove")
    p.add_argument("text", nargs="*", help="start with this query (or pipe a traceback in)")
    p.set_defaults(func=cmd_tui)

    p = sub.add_parser("list", help="list entries")
    p.add_argument("--tag", help="only entries with this tag")
    p.add_argument("--kind", choices=("error", "warning", "silent", "guide", "environment"))
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
    p.add_argument(
        "--from-paste",
        action="store_true",
        help="draft the entry from a traceback on stdin (message template, failing line)",
    )
    p.set_defaults(func=cmd_new)

    p = sub.add_parser(
        "verify", help="run entries' repro, fix and band-aids: these ids, or all (with pytest)"
    )
    p.add_argument("ids", nargs="*", help="entry ids (default: every entry, through pytest)")
    p.add_argument("--device", action="append", choices=("cpu", "cuda"))
    p.add_argument("--json", action="store_true", help="with ids: print the outcomes as JSON")
    p.set_defaults(func=cmd_verify, pytest_args=[])

    p = sub.add_parser("doctor", help="find the catalogue's mistakes in .py files and notebooks")
    p.add_argument("paths", nargs="*", help="files or folders (default: the current folder)")
    p.add_argument(
        "--select",
        action="append",
        metavar="CODES",
        help="only these rules (comma-separated codes or prefixes: KBD001,KBD01)",
    )
    p.add_argument("--ignore", action="append", metavar="CODES", help="skip these rules")
    p.add_argument(
        "--format",
        choices=("text", "json", "sarif", "markdown"),
        default="text",
        help="output format (markdown: with --rules, the rules page)",
    )
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--exit-zero", action="store_true", help="exit 0 even when something is found")
    p.add_argument(
        "--config",
        metavar="PYPROJECT",
        help="settings file (default: the nearest pyproject.toml with [tool.kb.doctor])",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--explain", metavar="CODE", help="print a rule's page")
    group.add_argument("--rules", action="store_true", help="list the rules")
    p.set_defaults(func=cmd_doctor)

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


def missing_package(name: str | None) -> str:
    """What to do when kb runs in a Python without its dependencies: most often a
    checkout's system `python3 -m kb` while kb was installed in the checkout's .venv."""
    here = sys.executable
    venv = os.path.abspath(".venv")
    # A venv's python is often a link to the system one: compare prefixes, not binaries.
    if os.path.isfile(os.path.join(venv, "pyvenv.cfg")) and sys.prefix != venv:
        hint = "this folder has .venv: run . .venv/bin/activate (or .venv/bin/kb) first"
    else:
        hint = "install kb there: pip install -e . (in a checkout) or pip install kb-torch"
    return f"the package '{name}' is missing from this Python ({here}); {hint}"


def main(argv: list[str] | None = None) -> int:
    # No calls before the `try` on kb's own path: Ctrl-C in the first instants must still
    # end quietly (tests/test_index_trust.py interrupts at the second call).
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["run"]:
        # The program's own arguments are not kb's to parse, and its errors not kb's to
        # quieten: kb's Ctrl-C hook is not installed for it.
        from kb.hook.run import main as run_main

        return run_main(list(args[1:]))
    if argv is None:  # the `kb` command itself, not a caller's test
        sys.excepthook = _quiet_interrupt
    try:
        return _main(list(args))
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
        sys.stderr.write(f"kb: {missing_package(exc.name)}\n")
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
