"""The entry format, as numbered rules: each problem is `path:line: KBnnn what to do`.

Rules are stable (a code, once given, keeps its meaning) so contributors and CI can
talk about them, as tldr-pages does with its linter. Nothing here imports torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kb.model import (
    BANDAID_ROLE,
    BANDAID_SECTION,
    BLOCK_ROLES,
    DEVICES,
    DIAGNOSE_ROLE,
    FOUND_IN,
    KINDS,
    NEEDS,
    SECTIONS,
)
from kb.parse import Document, ParseError, parse_document
from kb.templates import TemplateError, check_template
from kb.wording import older_item, older_items

RULES: dict[str, str] = {
    "KB001": "the file starts with front matter between '---' lines",
    "KB002": "the front matter is a valid YAML mapping",
    "KB003": "required front-matter keys are present and of the right type",
    "KB004": "id is kebab-case and equals the file name",
    "KB005": "kind is one of error, warning, silent, guide, environment",
    "KB006": "error, warning and environment entries list the message templates torch prints; "
    "others list none",
    "KB007": "error, warning and environment entries name the exception or warning class",
    "KB008": "devices are a non-empty subset of cpu, cuda",
    "KB009": "torch, fixed_in and an older wording's torch are valid version specifiers / versions",
    "KB010": "zh has a Chinese title and a one-line summary",
    "KB011": "required sections Symptom, Cause, Explanation, Repro, Fix are present",
    "KB012": "sections come in the documented order, each once",
    "KB013": "only the documented level-2 sections are used, and no level-1 heading",
    "KB014": "Repro and Fix hold exactly one runnable block each (```python repro / fix)",
    "KB015": "runnable blocks compile as Python",
    "KB016": "see_also names existing entries",
    "KB017": "ids are unique across the catalogue",
    "KB018": "no unknown front-matter keys",
    "KB019": "sections are not empty",
    "KB020": "message templates have balanced braces",
    "KB021": "tags are a non-empty list of kebab-case words",
    "KB022": "links are http(s) addresses",
    "KB023": "a runnable block sits in its own section (repro: Repro, fix: Fix, check: Check)",
    "KB024": "no TODO left from the `kb new` template",
    "KB025": "area is one of the catalogue's areas (see kb/catalogue.py)",
    "KB030": "no control characters (escape sequences, bells, carriage returns) in the file",
    "KB031": "lines of Python code blocks are at most 79 columns (kb show fits 80 columns)",
    "KB026": "a ```python bandaid block sits in '## Why not just', after the paragraph that "
    "names it and says why it is wrong",
    "KB027": "'## Why not just' holds band-aids only: each paragraph introduces a "
    "```python bandaid block",
    "KB028": "snippets names kb.snippets helpers that can be proven on an entry",
    "KB032": "environment entries say where torch's sources hold their messages (found_in: "
    "torch-python, torch-lib, torch-cuda-lib, nvidia-lib) and what their diagnose must conclude "
    "(has_condition: a NEEDS condition -> true/false); other kinds use neither",
    "KB033": "environment entries hold one ```python diagnose block in '## Diagnose' that sets "
    "has_condition, no repro, band-aid or check block, and at most one ```python fix "
    "block (compiled, not run)",
}

KEYS_REQUIRED = ("id", "title", "kind", "area", "tags", "devices", "torch", "zh")
KEYS_OPTIONAL = (
    "errors",
    "older_errors",
    "exception",
    "fixed_in",
    "links",
    "see_also",
    "timeout",
    "requires",
    "without_cuda",
    "cause_errors",
    "needs",
    "snippets",
    "doctor",
    "found_in",
    "has_condition",
)
_KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code} {self.message}"


def lint_document(doc: Document, check_code: bool = True) -> list[Problem]:
    """Every rule that one file can break on its own."""
    out: list[Problem] = []

    def add(line: int, code: str, message: str) -> None:
        out.append(Problem(doc.path, line, code, message))

    def add_all(found: list[tuple[int, str, str]]) -> None:
        for line, code, message in found:
            add(line, code, message)

    meta, at = doc.meta, doc.meta_lines

    def line_of(key: str) -> int:
        return at.get(key, 1)

    for key in KEYS_REQUIRED:
        if key not in meta:
            add(1, "KB003", f"missing front-matter key '{key}'")
    for key in meta:
        if key not in KEYS_REQUIRED and key not in KEYS_OPTIONAL:
            known = ", ".join(KEYS_REQUIRED + KEYS_OPTIONAL)
            add(line_of(key), "KB018", f"unknown front-matter key '{key}' (known: {known})")

    for key in ("id", "title", "torch"):
        if key in meta and (not isinstance(meta[key], str) or not meta[key].strip()):
            add(line_of(key), "KB003", f"'{key}' must be a non-empty string")
    stem = Path(doc.path).stem
    ident = meta.get("id")
    if isinstance(ident, str):
        if not _KEBAB.match(ident):
            add(line_of("id"), "KB004", f"id '{ident}' must be kebab-case (a-z, 0-9, '-')")
        elif ident != stem:
            add(line_of("id"), "KB004", f"id '{ident}' must equal the file name '{stem}'")

    kind = meta.get("kind")
    if "kind" in meta and kind not in KINDS:
        add(line_of("kind"), "KB005", f"kind '{kind}' must be one of {', '.join(KINDS)}")

    errors = meta.get("errors")
    older = meta.get("older_errors")
    for key, value in (
        ("errors", errors),
        ("older_errors", older),
        ("cause_errors", meta.get("cause_errors")),
    ):
        if value is None:
            continue
        if key == "older_errors" and isinstance(value, list):
            if any(older_item(v) is None for v in value):
                add(line_of(key), "KB003", OLDER_FORMAT)
                continue
            add_all(_lint_older_ranges(value, line_of(key)))
            value = [text for text, _ in older_items(value)]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            add(line_of(key), "KB003", f"'{key}' must be a list of message strings")
            continue
        for text in value:
            try:
                check_template(text)
            except TemplateError as exc:
                add(line_of(key), "KB020", f"template {text[:40]!r}...: {exc}")
    if kind in ("error", "warning", "environment"):
        if not errors:
            add(
                line_of("kind"), "KB006", f"a {kind} entry needs 'errors': the message torch prints"
            )
        exc_name = meta.get("exception")
        if not isinstance(exc_name, str) or not re.match(r"^[A-Za-z_][\w.]*$", exc_name):
            add(
                line_of("exception") if "exception" in meta else line_of("kind"),
                "KB007",
                f"a {kind} entry needs 'exception': the class name torch raises or warns with",
            )
    elif kind in ("silent", "guide") and (errors or meta.get("exception")):
        add(line_of("errors"), "KB006", f"a {kind} entry raises nothing: drop errors/exception")

    devices = meta.get("devices")
    if "devices" in meta and (
        not isinstance(devices, list)
        or not devices
        or any(d not in DEVICES for d in devices)
        or len(set(devices)) != len(devices)
    ):
        add(line_of("devices"), "KB008", "devices must be a list drawn from: cpu, cuda")

    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    if isinstance(meta.get("torch"), str):
        try:
            SpecifierSet(meta["torch"])
        except InvalidSpecifier:
            add(line_of("torch"), "KB009", f"torch {meta['torch']!r} is not a version specifier")
    if meta.get("fixed_in") is not None:
        try:
            Version(str(meta["fixed_in"]))
        except InvalidVersion:
            add(line_of("fixed_in"), "KB009", f"fixed_in {meta['fixed_in']!r} is not a version")

    zh = meta.get("zh")
    if "zh" in meta:
        if not isinstance(zh, dict):
            add(line_of("zh"), "KB010", "zh must be a mapping with 'title' and 'summary'")
        else:
            for key in ("title", "summary"):
                value = zh.get(key)
                if not isinstance(value, str) or not _CJK.search(value):
                    add(line_of("zh"), "KB010", f"zh.{key} must be Chinese text")
                elif "\n" in value.strip():
                    add(line_of("zh"), "KB010", f"zh.{key} must be one line")

    tags = meta.get("tags")
    if "tags" in meta and (
        not isinstance(tags, list)
        or not tags
        or not all(isinstance(t, str) and _KEBAB.match(t) for t in tags)
    ):
        add(line_of("tags"), "KB021", "tags must be a non-empty list of kebab-case words")
    links = meta.get("links")
    if links is not None and (
        not isinstance(links, list)
        or not all(isinstance(u, str) and re.match(r"^https?://\S+$", u) for u in links)
    ):
        add(line_of("links"), "KB022", "links must be a list of http(s) addresses")
    see = meta.get("see_also")
    if see is not None and (
        not isinstance(see, list) or not all(isinstance(s, str) and _KEBAB.match(s) for s in see)
    ):
        add(line_of("see_also"), "KB016", "see_also must be a list of entry ids")
    from kb.catalogue import AREA_KEYS

    if "area" in meta and meta["area"] not in AREA_KEYS:
        add(line_of("area"), "KB025", f"area must be one of: {', '.join(AREA_KEYS)}")
    snippets = meta.get("snippets")
    if snippets is not None:
        from kb.snippets import PROVABLE

        if not isinstance(snippets, list) or not all(s in PROVABLE for s in snippets):
            names = ", ".join(PROVABLE)
            add(line_of("snippets"), "KB028", f"snippets must list helpers among: {names}")
    requires = meta.get("requires")
    if requires is not None and (
        not isinstance(requires, list)
        or not all(isinstance(r, str) and re.match(r"^[A-Za-z_][\w.]*$", r) for r in requires)
    ):
        add(line_of("requires"), "KB003", "requires must be a list of importable module names")
    if "doctor" in meta:
        add_all(_lint_doctor(meta["doctor"], line_of("doctor")))
    if "without_cuda" in meta and not isinstance(meta["without_cuda"], bool):
        add(line_of("without_cuda"), "KB003", "without_cuda must be true or false")
    needs = meta.get("needs")
    if needs is not None and (not isinstance(needs, list) or not all(n in NEEDS for n in needs)):
        known = ", ".join(NEEDS)
        add(line_of("needs"), "KB003", f"needs must be a list drawn from: {known}")
    timeout = meta.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        add(line_of("timeout"), "KB003", "timeout must be a positive number of seconds")

    add_all(_lint_environment(doc, check_code))
    out.extend(_lint_body(doc, check_code))
    out.extend(_lint_bandaids(doc, check_code))
    out.extend(_lint_todo(doc))
    out.extend(_lint_characters(doc))
    return sorted(out)


# `kb show` renders code blocks unwrapped, indented by one column, in 80 columns.
MAX_CODE_COLUMNS = 79


def _lint_characters(doc: Document) -> list[Problem]:
    return [
        Problem(doc.path, line, "KB030", f"control character {char!r}: remove it")
        for line, char in doc.controls
    ]


def lint_layout(doc: Document) -> list[Problem]:
    """How code reads in a terminal: `kb lint` holds entries to it, but an entry that
    breaks it is still indexed and verified (it is no less true for being wide)."""
    out = []
    for fence in doc.fences:
        if fence.info.split()[:1] != ["python"]:
            continue  # messages and output are shown as they are, wrapped if need be
        for offset, line in enumerate(fence.code.split("\n")):
            if len(line) > MAX_CODE_COLUMNS:
                out.append(
                    Problem(
                        doc.path,
                        fence.line + offset,
                        "KB031",
                        f"code line of {len(line)} columns: wrap it within {MAX_CODE_COLUMNS}",
                    )
                )
    return out


def _lint_bandaids(doc: Document, check_code: bool = True) -> list[Problem]:
    """Band-aid blocks: where they sit, their labels, and a section holding nothing else."""
    out: list[Problem] = []
    fences = [f for f in doc.fences if f.info.split()[:2] == ["python", BANDAID_ROLE]]
    for fence in fences:
        if fence.section != BANDAID_SECTION or not fence.lead:
            where = "" if fence.section == BANDAID_SECTION else f" in '## {BANDAID_SECTION}'"
            out.append(
                Problem(
                    doc.path,
                    fence.line - 1,
                    "KB026",
                    f"the ```python bandaid block belongs{where} after a paragraph that names "
                    "the band-aid and says why it is wrong",
                )
            )
        if check_code:
            try:
                compile(fence.code, doc.path, "exec")
            except SyntaxError as exc:
                line = fence.line + (exc.lineno or 1) - 1
                out.append(Problem(doc.path, line, "KB015", f"bandaid block: {exc.msg}"))
    section = next((s for s in doc.sections if s.title == BANDAID_SECTION), None)
    if section is None:
        return out
    if not any(f.section == BANDAID_SECTION for f in fences):
        out.append(
            Problem(
                doc.path,
                section.line,
                "KB027",
                f"'## {BANDAID_SECTION}' needs at least one ```python bandaid block",
            )
        )
    for para in doc.paragraphs:
        if para.section == BANDAID_SECTION and not para.leads_fence:
            out.append(
                Problem(
                    doc.path,
                    para.line,
                    "KB027",
                    "a paragraph in '## Why not just' must introduce the ```python bandaid "
                    "block right after it (put other prose under '## Fix')",
                )
            )
    others = [
        f
        for f in doc.fences
        if f.section == BANDAID_SECTION and f.info.split()[:2] != ["python", BANDAID_ROLE]
    ]
    for fence in others:
        out.append(
            Problem(
                doc.path,
                fence.line - 1,
                "KB027",
                f"'## {BANDAID_SECTION}' holds only ```python bandaid blocks, not "
                f"```{fence.info or '(no info)'}",
            )
        )
    return out


def _lint_todo(doc: Document) -> list[Problem]:
    lines = [(k, line) for k, line in doc.meta_lines.items() if "TODO" in repr(doc.meta.get(k))]
    found = [Problem(doc.path, line, "KB024", f"'{k}' still holds a TODO") for k, line in lines]
    for sec in doc.sections:
        if "TODO" in sec.text:
            found.append(Problem(doc.path, sec.line, "KB024", f"'{sec.title}' still holds a TODO"))
    return found


def _lint_body(doc: Document, check_code: bool = True) -> list[Problem]:
    out: list[Problem] = []
    order = [name for name, _ in SECTIONS]
    for line, heading in doc.headings_other:
        if heading.startswith("# "):
            out.append(
                Problem(doc.path, line, "KB013", "no level-1 heading: the title is in front matter")
            )
    seen: list[str] = []
    for sec in doc.sections:
        if sec.title not in order:
            out.append(
                Problem(
                    doc.path,
                    sec.line,
                    "KB013",
                    f"unknown section '{sec.title}' (sections: {', '.join(order)})",
                )
            )
            continue
        if sec.title in seen:
            out.append(Problem(doc.path, sec.line, "KB012", f"section '{sec.title}' repeats"))
        elif seen and order.index(sec.title) < order.index(seen[-1]):
            out.append(
                Problem(
                    doc.path,
                    sec.line,
                    "KB012",
                    f"section '{sec.title}' must come before '{seen[-1]}'",
                )
            )
        seen.append(sec.title)
        if not sec.text.strip():
            out.append(Problem(doc.path, sec.line, "KB019", f"section '{sec.title}' is empty"))
    environment = doc.meta.get("kind") == "environment"
    for name, required in SECTIONS:
        if environment and name in ("Repro", "Diagnose"):
            required = name == "Diagnose"  # the diagnose block stands in for the repro
        if required and name not in seen:
            out.append(Problem(doc.path, 1, "KB011", f"missing section '## {name}'"))

    by_role: dict[str, list] = {role: [] for role in BLOCK_ROLES}
    for fence in doc.fences:
        words = fence.info.split()
        if len(words) >= 2 and words[0] == "python" and words[1] in BLOCK_ROLES:
            by_role[words[1]].append(fence)
    for role in BLOCK_ROLES:
        blocks = by_role[role]
        section = "Check" if role == "check" else role.capitalize()
        if len(blocks) > 1:
            out.append(
                Problem(doc.path, blocks[1].line, "KB014", f"more than one ```python {role} block")
            )
        if role != "check" and not blocks and not environment:
            out.append(
                Problem(
                    doc.path,
                    1,
                    "KB014",
                    f"no ```python {role} block: put the runnable code under '## {section}'",
                )
            )
        for fence in blocks:
            if fence.section != section:
                out.append(
                    Problem(
                        doc.path,
                        fence.line - 1,
                        "KB023",
                        f"the ```python {role} block belongs in '## {section}'",
                    )
                )
            if not check_code:
                continue
            try:
                compile(fence.code, doc.path, "exec")
            except SyntaxError as exc:
                line = fence.line + (exc.lineno or 1) - 1
                out.append(Problem(doc.path, line, "KB015", f"{role} block: {exc.msg}"))
    if "Check" in seen and not by_role["check"]:
        sec = next(s for s in doc.sections if s.title == "Check")
        out.append(Problem(doc.path, sec.line, "KB014", "'## Check' needs a ```python check block"))
    return out


def _lint_environment(doc: Document, check_code: bool = True) -> list[tuple[int, str, str]]:
    """An environment entry: found_in, has_condition, and its diagnose block in place of a
    repro (its failure needs hardware or an installation the proof machine may not have)."""
    meta, at = doc.meta, doc.meta_lines
    out: list[tuple[int, str, str]] = []
    environment = meta.get("kind") == "environment"
    if not environment:
        for key in ("found_in", "has_condition"):
            if key in meta:
                out.append((at.get(key, 1), "KB032", f"only environment entries use '{key}'"))
        diagnose = [f for f in doc.fences if f.info.split()[:2] == ["python", DIAGNOSE_ROLE]]
        for fence in diagnose:
            out.append((fence.line - 1, "KB033", "only environment entries hold a diagnose block"))
        return out
    found_in = meta.get("found_in")
    if not isinstance(found_in, list) or not found_in or not all(f in FOUND_IN for f in found_in):
        out.append(
            (
                at.get("found_in", at.get("kind", 1)),
                "KB032",
                f"found_in must be a non-empty list drawn from: {', '.join(FOUND_IN)}",
            )
        )
    verdicts = meta.get("has_condition", {})
    if not isinstance(verdicts, dict) or not all(
        k in NEEDS and isinstance(v, bool) for k, v in verdicts.items()
    ):
        out.append(
            (
                at.get("has_condition", 1),
                "KB032",
                f"has_condition maps conditions ({', '.join(NEEDS)}) to true or false",
            )
        )
    diagnose = [f for f in doc.fences if f.info.split()[:2] == ["python", DIAGNOSE_ROLE]]
    if len(diagnose) != 1:
        out.append((1, "KB033", "an environment entry needs one ```python diagnose block"))
    for fence in diagnose:
        if fence.section != "Diagnose":
            out.append((fence.line - 1, "KB033", "the diagnose block belongs in '## Diagnose'"))
        if "has_condition" not in fence.code:
            out.append(
                (fence.line, "KB033", "the diagnose block must set has_condition (True or False)")
            )
        if check_code:
            try:
                compile(fence.code, doc.path, "exec")
            except SyntaxError as exc:
                out.append((fence.line + (exc.lineno or 1) - 1, "KB015", f"diagnose: {exc.msg}"))
    for fence in doc.fences:
        role = fence.info.split()[1:2]
        if fence.info.split()[:1] == ["python"] and role in (["repro"], ["check"], [BANDAID_ROLE]):
            out.append(
                (
                    fence.line - 1,
                    "KB033",
                    f"an environment entry has no {role[0]} block: its proof is where torch "
                    "prints the message and the diagnose verdict",
                )
            )
    for sec in doc.sections:
        if sec.title in ("Repro", "Check", BANDAID_SECTION):
            out.append((sec.line, "KB033", f"an environment entry has no '## {sec.title}'"))
    return out


OLDER_FORMAT = (
    "'older_errors' must be a list of message strings or {text: ..., torch: ...} mappings"
    " (optionally with exception: the class those releases raised)"
)


def _lint_older_ranges(value: list, line: int) -> list[tuple[int, str, str]]:
    """An older wording's `torch` must be a version specifier, as the entry's own is."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    out = []
    for text, spec in older_items(value):
        try:
            SpecifierSet(spec)
        except InvalidSpecifier:
            problem = f"older wording {text[:40]!r}: torch {spec!r} is not a version specifier"
            out.append((line, "KB009", problem))
    return out


def _lint_doctor(value: object, line: int) -> list[tuple[int, str, str]]:
    """`doctor: [KBD001]`: the kb doctor rules this entry's repro proves."""
    from kb.doctor.registry import all_rules

    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        return [(line, "KB003", "doctor must be a non-empty list of kb doctor rule codes")]
    known = all_rules()
    unknown = [v for v in value if v not in known]
    if unknown:
        return [
            (
                line,
                "KB003",
                f"doctor names unknown rule(s) {', '.join(unknown)} (kb doctor --rules lists them)",
            )
        ]
    return []


def lint_catalogue(
    docs: Iterable[Document], known: Iterable[str] = (), catalogues: Iterable[str] = ()
) -> list[Problem]:
    """Rules that span files: unique ids, see_also targets that exist (among `docs` and the
    `known` ids of entries not being linted). Ids are unique per folder among the
    `catalogues` folders (an earlier one's entry overrides a later one's), and across
    all other files."""
    docs = list(docs)
    catalogues = {str(Path(c)) for c in catalogues}
    out: list[Problem] = []
    owners: dict[tuple[str, str], str] = {}
    for doc in docs:
        ident = doc.meta.get("id")
        if not isinstance(ident, str):
            continue
        folder = str(Path(doc.path).parent)
        key = (folder if folder in catalogues else "", ident)
        if key in owners:
            out.append(
                Problem(
                    doc.path,
                    doc.meta_lines.get("id", 1),
                    "KB017",
                    f"id '{ident}' is also used by {owners[key]}",
                )
            )
        else:
            owners[key] = doc.path
    ids = {ident for _, ident in owners} | set(known)
    for doc in docs:
        for target in doc.meta.get("see_also") or []:
            if isinstance(target, str) and target not in ids:
                out.append(
                    Problem(
                        doc.path,
                        doc.meta_lines.get("see_also", 1),
                        "KB016",
                        f"see_also names '{target}', which is not an entry",
                    )
                )
    return sorted(out)


def lint_paths(paths: Iterable[Path]) -> list[Problem]:
    """Lint files: each on its own, then against the catalogue folders they sit in."""
    problems: list[Problem] = []
    docs: list[Document] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(str(path), 1, "KB002", f"not UTF-8 text ({exc.reason})"))
            continue
        except OSError as exc:  # a folder or a broken link named *.md, no permission
            problems.append(Problem(str(path), 1, "KB001", f"cannot read: {exc.strerror}"))
            continue
        try:
            doc = parse_document(text, str(path))
        except ParseError as exc:
            problems.append(Problem(str(path), exc.line, exc.code, exc.message))
            continue
        docs.append(doc)
        problems.extend(lint_document(doc))
        problems.extend(lint_layout(doc))
    # An entry linted alone may name siblings, or entries of the other catalogue
    # folders, that are not being linted: they count too.
    import contextlib

    from kb import paths as catalogue_paths

    folders = {Path(d.path).parent for d in docs}
    catalogues: list[str] = []
    # A broken [tool.kb] is reported by whichever command reads the catalogue.
    with contextlib.suppress(catalogue_paths.ConfigError):
        catalogues = catalogue_paths.catalogue_dirs()
    folders.update(Path(f) for f in catalogues)
    known = {p.stem for f in folders for p in f.glob("*.md") if p.name != "README.md"}
    problems.extend(lint_catalogue(docs, known, catalogues))
    return sorted(problems)
