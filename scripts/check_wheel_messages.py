"""Check entries' message templates against torch wheels of other platforms and releases.

Some messages exist only in builds this machine cannot install: the MPS backend's "is
not currently implemented for the MPS device" is compiled into the macOS wheels alone,
and the Intel/LLVM OpenMP runtime that prints "OMP: Error #15" ships with the macOS and
Windows wheels (and the `intel-openmp` wheel), not with torch's Linux wheels. `pytest
entries/` skips those checks here with the reason; this script downloads the wheels
(`pip download --platform ... --no-deps`), unpacks their libraries and Python sources
into a scratch site-packages folder, and runs the same check (kb.envproof) on them.

Any other entry (an `error` entry) gets a wording report instead: for each of its
templates, `errors` and every older wording with its range, whether the wheel's
libraries and Python sources hold it (`--scopes`, default torch-python, torch-lib and
torch-cuda-lib). That is how the wordings and floors of entries that only fail on a GPU
are measured on a machine without one: a release whose build does not hold a wording
cannot print it. It is a measurement of strings, not a run; the entry's range and older
wordings are set from it, and a GPU run of the matrix proves them.

CI does not run it (it downloads hundreds of MB); run it when writing or changing such
an entry and quote its figures.

    python scripts/check_wheel_messages.py --torch 2.13.0 --platform macosx_14_0_arm64 \\
        entries/mps-operator-not-implemented.md
    python scripts/check_wheel_messages.py --torch 2.13.0 --platform win_amd64 \\
        --python-version 3.12 entries/openmp-runtime-loaded-twice.md
    python scripts/check_wheel_messages.py --extra intel-openmp --platform manylinux1_x86_64 \\
        entries/openmp-runtime-loaded-twice.md     # that wheel alone, no torch
    python scripts/check_wheel_messages.py --torch 1.13.1,2.4.1,2.8.0,2.9.0 \\
        --platform manylinux1_x86_64 --platform manylinux_2_28_x86_64 --python-version 3.10 \\
        entries/device-mismatch-cuda-cpu.md       # which releases hold which wording

Prints one block per wheel set: the wheels, their size, each entry's status and the
files holding each template. Exit status 1 if a template is missing from a wheel set
whose scopes have files (a skip, for a scope the wheels lack, is not a failure).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb.entries import EntryError, load_entry  # noqa: E402
from kb.envproof import FOUND_IN, check_messages, find_template, scope_files  # noqa: E402
from kb.wording import applies  # noqa: E402

# What the check reads from a wheel: libraries and Python sources (not headers, tests).
_WANTED = (".so", ".dll", ".pyd", ".dylib", ".py")


def download(spec: str, platforms: list[str], python: str | None, into: Path) -> Path:
    """The wheel of `spec` (`torch==2.13.0`, `intel-openmp`) for those platforms."""
    into.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", spec, "--no-deps", "--only-binary=:all:"]
    cmd += ["-d", str(into)]
    for platform in platforms:
        cmd += ["--platform", platform]
    if python:
        cmd += ["--python-version", python]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise SystemExit(f"pip download {spec} failed: {last}")
    # pip names the wheel it chose: "Saved DIR/x.whl", or, for one the cache already
    # holds (perhaps beside other platforms' wheels), "File was already downloaded ...".
    named = _SAVED.findall(done.stdout)
    if not named:
        raise SystemExit(f"pip download {spec}: no wheel named in pip's output")
    wheel = Path(named[-1])
    return wheel if wheel.is_absolute() else into / wheel.name


_SAVED = re.compile(r"(?:Saved|File was already downloaded) (\S+\.whl)")


def unpack(wheel: Path, site: Path) -> int:
    """Extract a wheel's libraries and Python sources into `site`; return bytes written."""
    written = 0
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = info.filename
            if name.endswith(_WANTED) or ".so." in name.rsplit("/", 1)[-1]:
                zf.extract(info, site)
                written += info.file_size
    return written


def wordings(entry, root: Path, scopes: tuple[str, ...], version: str | None) -> list[str]:
    """One line per template of a non-environment entry: held by this wheel or not."""
    lines = []
    templates = [(t, "errors", "") for t in entry.errors]
    ranges = entry.older_ranges + ("",) * (len(entry.older_errors) - len(entry.older_ranges))
    templates += [(t, "older", r) for t, r in zip(entry.older_errors, ranges, strict=False)]
    for template, kind, spec in templates:
        held = find_template(template, scopes, str(root)) is not None
        claim = ""
        if kind == "older" and version:
            # Does the entry's range for this wording agree with the wheel?
            claimed = applies(spec, version)
            claim = "" if claimed == held else "  <- range disagrees" if spec else ""
        label = f"{kind} {spec}".strip()
        lines.append(f"{'held    ' if held else 'not held'} [{label}] {template[:70]!r}{claim}")
    return lines


def check(
    site: Path, entries: list[Path], scopes: tuple[str, ...] = (), version: str | None = None
) -> int:
    root = site / "torch"
    root.mkdir(exist_ok=True)  # an OpenMP wheel alone: scopes still resolve from here
    failed = 0
    for path in entries:
        try:
            entry = load_entry(path)
        except EntryError as exc:
            print(f"  {path}: not an entry ({exc.problems[0].message})")
            failed += 1
            continue
        if entry.kind != "environment":
            use = scopes or ("torch-python", "torch-lib", "torch-cuda-lib")
            counts = ", ".join(f"{s}: {len(scope_files(s, str(root)))} files" for s in use)
            print(f"  {entry.id}: wordings ({counts})")
            for line in wordings(entry, root, use, version):
                print(f"    {line}")
            continue
        files = {s: len(scope_files(s, str(root))) for s in entry.found_in}
        status, found, notes = check_messages(entry, str(root))
        failed += status == "failed"
        scopes = ", ".join(f"{s}: {n} files" for s, n in files.items())
        print(f"  {entry.id}: {status} ({scopes})")
        for line in found + notes:
            print(f"    {line}")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("entries", nargs="+", type=Path)
    parser.add_argument("--torch", default="", help="torch versions, comma-separated")
    parser.add_argument("--platform", action="append", required=True)
    parser.add_argument("--python-version", default=None, help="e.g. 3.12 (default: this Python)")
    parser.add_argument("--extra", action="append", default=[], help="another wheel: intel-openmp")
    parser.add_argument("--cache", type=Path, default=None, help="keep downloads here")
    parser.add_argument(
        "--scopes",
        default="",
        help=f"for non-environment entries, comma-separated: {', '.join(FOUND_IN)}",
    )
    args = parser.parse_args(argv)
    versions = [v.strip() for v in args.torch.split(",") if v.strip()] or [None]
    scopes = tuple(s.strip() for s in args.scopes.split(",") if s.strip())
    unknown = [s for s in scopes if s not in FOUND_IN]
    if unknown:
        parser.error(f"unknown scope {unknown[0]!r}; known: {', '.join(FOUND_IN)}")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="kb-wheels-") as scratch:
        cache = args.cache or Path(scratch) / "wheels"
        for version in versions:
            specs = ([f"torch=={version}"] if version else []) + args.extra
            if not specs:
                parser.error("give --torch or --extra")
            site = Path(tempfile.mkdtemp(dir=scratch, prefix="site-"))
            start = time.perf_counter()
            wheels = [download(s, args.platform, args.python_version, cache) for s in specs]
            size = sum(w.stat().st_size for w in wheels)
            unpacked = sum(unpack(w, site) for w in wheels)
            print(f"{' + '.join(w.name for w in wheels)}")
            print(f"  {size / 2**20:.0f} MiB of wheels, {unpacked / 2**20:.0f} MiB unpacked")
            failed += check(site, args.entries, scopes, version)
            print(f"  {time.perf_counter() - start:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
