"""The proof of an environment entry, on a machine that may lack the failing hardware.

An environment failure (a GPU the build has no kernels for, a driver too old, NCCL
across hosts, an extension built against another torch) cannot be produced on a CPU
machine. What can be proven anywhere is:

* `messages`: each message template of the entry (or, on an older release, one of its
  `older_errors`) is text the installed torch really
  holds, in the files its `found_in` names: the torch package's Python sources, its
  compiled libraries, or the NVIDIA libraries of the `nvidia-*` wheels. Run once per
  torch release in the verification matrix, this catches a reworded message. A printed
  message is assembled: `TORCH_CHECK(cond, "Expected ", a, " but got ", b)` stores
  separate string constants, and "CUDA error: " comes from torch while the text after it
  comes from the CUDA runtime (cudaGetErrorString). So a template is cut at its `{...}`
  placeholders and at each ": ", ", ", "(" and quote beside a space (a printed value's
  quotes), and every part (spaces, colons, commas and
  parentheses around it stripped) must occur, whole or as consecutive runs of words
  that each file holds as one constant (the longest first),
  in some file of the scopes; in Python sources, literals split across lines by implicit
  concatenation are joined first. Where a declared scope has no files here (the CUDA
  libraries of a CPU-only build), a template not found elsewhere is skipped with that
  reason, never failed.
* `diagnose`: the entry's diagnose block runs without raising and sets `has_condition`
  to a bool; where one of the entry's `has_condition` conditions holds (a CPU-only
  build, no CUDA), the verdict must be the declared one.

Files are memory-mapped and searched as bytes (libtorch_cpu.so alone is ~450 MB), each
opened once per process, and each (file, text) search is remembered.
"""

from __future__ import annotations

import mmap
import re
import sys
from functools import cache
from pathlib import Path

from kb.model import FOUND_IN, Entry
from kb.templates import literal_parts

_LIB_SUFFIXES = (".so", ".dll", ".pyd", ".dylib")
# `"first half " \n    "second half"` in a Python source: one message literal, split.
_SPLIT_LITERAL = re.compile(rb"([\"'])[ \t]*\\?\r?\n[ \t]*[rbfRBF]{0,2}\1")


def _is_lib(path: Path) -> bool:
    name = path.name
    return name.endswith(_LIB_SUFFIXES) or ".so." in name


def torch_dir() -> Path:
    import torch

    return Path(torch.__file__).parent


@cache
def scope_files(scope: str, root: str | None = None) -> tuple[Path, ...]:
    """The files of one `found_in` scope, smallest first (most messages sit in small ones,
    so a search that succeeds rarely maps the big library). `root`: another torch
    package folder than the installed one (for checking templates against a build)."""
    base = Path(root) if root else torch_dir()
    if scope == "torch-python":
        files = [p for p in base.rglob("*.py") if "testing" not in p.parts]
    elif scope == "torch-lib":
        files = [p for p in (base / "lib").glob("*") if p.is_file() and _is_lib(p)]
        files += [p for p in base.glob("_C*") if p.is_file() and _is_lib(p)]
    elif scope == "torch-cuda-lib":  # a CPU-only build has none: the check then skips
        files = [p for p in (base / "lib").glob("*cuda*") if p.is_file() and _is_lib(p)]
    elif scope == "nvidia-lib":
        nvidia = base.parent / "nvidia"
        files = [p for p in nvidia.rglob("*") if p.is_file() and _is_lib(p)]
    elif scope == "pip":
        files = list((base.parent / "pip").rglob("*.py"))
    elif scope == "torch-mps-lib":  # macOS builds, the only ones with the MPS backend
        files = [p for p in (base / "lib").glob("*.dylib") if p.is_file()]
    elif scope == "loader":
        files = _linux_loader() if root is None else []
    elif scope == "openmp-lib":
        files = _openmp_runtimes(base, root is None)
    else:
        raise ValueError(f"unknown found_in scope {scope!r} (known: {', '.join(FOUND_IN)})")
    return tuple(sorted(files, key=lambda p: (p.stat().st_size, str(p))))


def _linux_loader() -> list[Path]:
    """glibc's ld.so as this process mapped it: it formats dlopen's "undefined symbol"."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux
        return []
    names = {line.split()[-1] for line in maps.splitlines() if "/ld-" in line}
    return [Path(n) for n in names if re.search(r"/ld-(linux|2\.)[^/]*\.so", n)]


# Intel's runtime and LLVM's, its descendant; not their debugger (_db) or stub libraries.
_OPENMP = re.compile(r"^lib(iomp5(md)?|omp)[.-]")


def _openmp_runtimes(base: Path, installed: bool) -> list[Path]:
    """Intel or LLVM OpenMP runtimes in torch/lib (Windows and macOS wheels ship one),
    anywhere in site-packages, and in the environment's library folders (intel-openmp,
    conda's MKL). torch's Linux wheels use GNU libgomp, whose messages differ."""
    folders = [base / "lib", base.parent]
    if installed:
        folders += [Path(sys.prefix) / "lib", Path(sys.prefix) / "Library" / "bin"]
    found = set()
    for folder in folders:
        paths = folder.glob("*") if folder.name in ("lib", "bin") else folder.rglob("lib*")
        found |= {p for p in paths if _OPENMP.match(p.name) and _is_lib(p) and p.is_file()}
    return list(found)


_maps: dict[Path, bytes | mmap.mmap | None] = {}


def _contents(path: Path) -> bytes | mmap.mmap | None:
    if path not in _maps:
        try:
            if path.suffix == ".py":
                _maps[path] = _SPLIT_LITERAL.sub(b"", path.read_bytes())
            else:
                with open(path, "rb") as fh:
                    _maps[path] = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # unreadable, or empty (mmap refuses size 0)
            _maps[path] = None
    return _maps[path]


def fragments(template: str) -> list[bytes]:
    """The parts of a template that torch's sources must hold (see the module doc)."""
    # `WorkNCCL(` and `SeqNum=` are two constants: a "(" opens a printed value too, and
    # so does a quote (`from the 'SparseMPS' backend` prints a dispatch key's name).
    seps = [(", ", ": "), ("(", ": "), (" '", ": "), ("' ", ": ")]
    parts = []
    for lit in literal_parts(template):
        for old, new in seps:
            lit = lit.replace(old, new)
        parts += lit.split(": ")
    parts = [" ".join(p.split()).strip(" :,()[]") for p in parts]
    # A part without a letter or digit (a lone "]") proves nothing.
    return [p.encode("utf-8") for p in parts if any(c.isalnum() for c in p)]


_found: dict[tuple[Path, bytes], bool] = {}


def _holds(path: Path, part: bytes) -> bool:
    key = (path, part)
    if key not in _found:
        data = _contents(path)
        _found[key] = data is not None and data.find(part) >= 0
    return _found[key]


def _locate(part: bytes, files: list[Path]) -> list[Path] | None:
    """Files holding the part, whole or as consecutive runs of words: the longest prefix
    one file holds, then the rest (`TORCH_CUDABLAS_CHECK` prints "CUBLAS_STATUS_..."
    and " when calling `cublasCreate(handle)`", two constants, as one phrase)."""
    path = next((p for p in files if _holds(p, part)), None)
    if path is not None:
        return [path]
    cuts = [i for i in range(len(part) - 1, 0, -1) if part[i : i + 1] == b" "]
    for cut in cuts:
        head, tail = part[:cut].strip(), part[cut:].strip()
        if len(head) < 4 or len(tail) < 4:
            continue
        first = next((p for p in files if _holds(p, head)), None)
        if first is not None:
            rest = _locate(tail, files)
            return [first, *rest] if rest else None
    return None


def find_template(
    template: str, scopes: tuple[str, ...], root: str | None = None
) -> list[Path] | None:
    """The files of these scopes holding each part of the template, or None if one lacks."""
    files = [path for scope in scopes for path in scope_files(scope, root)]
    where: list[Path] = []
    for part in fragments(template):
        found = _locate(part, files)
        if found is None:
            return None
        where += found
    return where or None


def empty_scopes(scopes: tuple[str, ...], root: str | None = None) -> list[str]:
    return [s for s in scopes if not scope_files(s, root)]


def _older_here(entry: Entry, base: Path) -> list[str]:
    """The older wordings whose torch range holds the checked build's release (all of
    them when its version cannot be read), as the error kind's harness accepts them."""
    from kb.wording import older_in_range

    try:
        text = (base / "version.py").read_text(encoding="utf-8")
    except OSError:
        return list(entry.older_errors)
    found = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    if not found:
        return list(entry.older_errors)
    return [text for text, _ in older_in_range(entry, found.group(1))]


# Why a scope can be empty on a sound installation (the skip reason says it).
_ABSENT = {
    "torch-cuda-lib": "a CPU-only build ships no CUDA libraries",
    "torch-mps-lib": "only torch's macOS builds have the MPS backend",
    "loader": "only Linux uses glibc's loader",
    "openmp-lib": "torch's Linux wheels use GNU libgomp, not the Intel or LLVM runtime",
}


def check_messages(entry: Entry, root: str | None = None) -> tuple[str, list[str], list[str]]:
    """('passed' | 'failed' | 'skipped', what was found where, what was not)."""
    base = Path(root) if root else torch_dir()
    found: list[str] = []
    missing: list[str] = []
    for template in entry.errors:
        paths = find_template(template, entry.found_in, root)
        if paths is None:
            # An older release holds an older wording, as the error kind accepts it.
            older = (find_template(t, entry.found_in, root) for t in _older_here(entry, base))
            paths = next((p for p in older if p), None)
            template = f"(older wording for) {template}" if paths else template
        if paths is None:
            missing.append(template)
            continue
        # The loader and an environment's OpenMP runtime live outside site-packages.
        where = sorted(
            {
                str(p.relative_to(base.parent)) if p.is_relative_to(base.parent) else str(p)
                for p in paths
            }
        )
        found.append(f"{template[:60]!r} in {', '.join(where)}")
    if not missing:
        return "passed", found, []
    absent = empty_scopes(entry.found_in, root)
    status = "skipped" if absent else "failed"
    notes = [f"not found: {t!r} (parts {[p.decode() for p in fragments(t)]})" for t in missing]
    if absent:
        why = {_ABSENT.get(s, _ABSENT["torch-cuda-lib"]) for s in absent}
        notes.append(
            "this installation lacks "
            + " and ".join(FOUND_IN[s] for s in absent)
            + f" ({'; '.join(sorted(why))})"
        )
    return status, found, notes


def verify_environment(
    entry: Entry, phase: str, any_torch: bool = False, timeout_scale: float = 1.0
):
    """Judge one environment phase (`messages` or `diagnose`) here, as a kb.verify Verdict;
    raise kb.verify.Skip where it cannot be judged."""
    from kb import verify
    from kb.environment import describe, holds
    from kb.model import NEEDS

    def verdict(ok: bool, summary: str, details: list[str] | None = None, block=None):
        return verify.Verdict(ok, entry, phase, "cpu", summary, details or [], block)

    reason = None if any_torch else verify.version_skip_reason(entry, "fix")
    if reason:
        raise verify.Skip(reason)
    if entry.needs:
        # As for the other kinds: an installation without the condition proves nothing
        # (a CPU-only build holds the words of a CUDA runtime message only scattered).
        from kb.environment import unmet

        reason = unmet(entry.needs)
        if reason:
            raise verify.Skip(f"{entry.id} {reason}")
    if phase == "messages":
        status, found, notes = check_messages(entry)
        if status == "skipped":  # the last note names the scopes this installation lacks
            raise verify.Skip(f"{entry.id} messages: {notes[-1]}")
        if status == "failed":
            return verdict(False, "a message template is not in this torch's sources", notes)
        return verdict(True, "found " + "; ".join(found))
    if phase != "diagnose":
        raise ValueError(f"unknown environment phase {phase!r}")
    block = entry.blocks["diagnose"]
    timeout = (entry.timeout or verify.DEFAULT_TIMEOUT) * timeout_scale
    run = verify.run_block(block, entry.path, verify.new_namespace("cpu"), timeout)
    if run.error is not None:
        lines = [verify.first_line(f"{type(run.error).__name__}: {run.error}")]
        return verdict(False, "the diagnose block raised", lines + run.frames, block)
    answer = run.namespace.get("has_condition")
    if not isinstance(answer, bool):
        return verdict(False, f"has_condition must be True or False, got {answer!r}", [], block)
    here = describe()
    for condition, expected in entry.has_condition.items():
        if holds(condition) and answer is not expected:
            return verdict(
                False,
                f"has_condition is {answer} on {NEEDS[condition]} ({here}); "
                f"the entry says it must be {expected}",
                [],
                block,
            )
    judged = [c for c in entry.has_condition if holds(c)]
    checked = f"as declared for {', '.join(judged)}" if judged else "no declared condition here"
    return verdict(True, f"has_condition={answer} on {here} ({checked})", [], block)


def main(argv: list[str] | None = None) -> int:
    """`python -m kb.envproof TORCH_DIR ENTRY.md...`: check templates against another build."""
    from kb.entries import EntryError, load_entry

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: python -m kb.envproof TORCH_PACKAGE_DIR ENTRY.md...", file=sys.stderr)
        return 2
    root, failed = args[0], 0
    for name in args[1:]:
        try:
            entry = load_entry(Path(name))
        except EntryError as exc:
            print(f"{name}: not an entry ({exc.problems[0].message})", file=sys.stderr)
            continue
        if entry.kind != "environment":
            continue
        status, found, notes = check_messages(entry, root)
        failed += status == "failed"
        print(f"{entry.id}: {status}")
        for line in found + notes:
            print(f"  {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
