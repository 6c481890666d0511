"""Reproduce "OMP: Error #15: Initializing ..., but found ... already initialized." for real.

Two copies of the Intel (libiomp5) or LLVM (libomp) OpenMP runtime in one process: the
second one to start finds the first registered (an environment variable named after
the process id) and aborts the process. torch's Windows wheels ship libiomp5md.dll and
its macOS wheels libomp.dylib, so a second copy from conda's MKL, numpy or another
package triggers it there. torch's Linux wheels use GNU libgomp, which does not take
part, so on Linux this script uses the `intel-openmp` wheel from PyPI (downloaded into
a scratch folder, not installed) unless `--lib` names a runtime already here.

It loads two copies (one file, copied to two folders) in a child process, once as is
and once with KMP_DUPLICATE_LIB_OK=TRUE, and prints what each did: exit status, signal
and the runtime's message, checked against entries/openmp-runtime-loaded-twice.md.

    python scripts/repro_openmp_duplicate.py              # downloads intel-openmp (~30 MB)
    python scripts/repro_openmp_duplicate.py --lib /path/to/libiomp5.so

CI does not run it (it downloads); tests/test_openmp_duplicate.py runs the same child
where a runtime is installed, and skips with the reason elsewhere.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb.entries import load_entry  # noqa: E402
from kb.templates import fullmatch  # noqa: E402

ENTRY = Path(__file__).resolve().parent.parent / "entries" / "openmp-runtime-loaded-twice.md"
CHILD = """
import ctypes, sys
for path in sys.argv[1:]:
    runtime = ctypes.CDLL(path)
    print("started", path, "threads", runtime.omp_get_max_threads(), flush=True)
print("both runtimes running", flush=True)
"""


def double_load(lib: Path, scratch: Path, duplicate_ok: bool) -> subprocess.CompletedProcess:
    """Start two copies of the runtime `lib` in a child Python; return what it did."""
    copies = []
    for name in ("first", "second"):
        folder = scratch / name
        folder.mkdir(exist_ok=True)
        copies.append(shutil.copy(lib, folder / lib.name))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KMP_", "__KMP"))}
    if duplicate_ok:
        env["KMP_DUPLICATE_LIB_OK"] = "TRUE"
    cmd = [sys.executable, "-c", CHILD, *map(str, copies)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def describe(done: subprocess.CompletedProcess) -> str:
    if done.returncode < 0:
        return f"killed by {signal.Signals(-done.returncode).name}"
    return f"exit status {done.returncode}"


def intel_openmp(scratch: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "intel-openmp", "--no-deps"]
    cmd += ["--only-binary=:all:", "-q", "-d", str(scratch)]
    subprocess.run(cmd, check=True, capture_output=True)
    wheel = next(scratch.glob("intel_openmp-*.whl"))
    print(f"runtime from {wheel.name} ({wheel.stat().st_size / 2**20:.0f} MiB)")
    names = ("libiomp5.so", "libiomp5.dylib", "libiomp5md.dll")
    with zipfile.ZipFile(wheel) as zf:
        member = next(n for n in zf.namelist() if n.rsplit("/", 1)[-1] in names)
        return Path(zf.extract(member, scratch / "unpacked"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", type=Path, help="an Intel or LLVM OpenMP runtime to copy")
    args = parser.parse_args(argv)
    templates = load_entry(ENTRY).errors
    with tempfile.TemporaryDirectory(prefix="kb-omp-") as tmp:
        scratch = Path(tmp)
        lib = args.lib or intel_openmp(scratch)
        print(f"two copies of {lib.name} in one process:")
        done = double_load(lib, scratch, duplicate_ok=False)
        lines = [line for line in done.stderr.splitlines() if line.startswith("OMP:")]
        message = lines[0] if lines else ""
        documented = any(fullmatch(t, message) for t in templates)
        print(f"  {describe(done)}; the runtime printed:")
        for line in lines:
            print(f"    {line[:110]}{'...' if len(line) > 110 else ''}")
        print(f"  first line matches the entry's template: {documented}")
        patched = double_load(lib, scratch, duplicate_ok=True)
        running = "both runtimes running" in patched.stdout
        print(f"with KMP_DUPLICATE_LIB_OK=TRUE: {describe(patched)}, both running: {running}")
    return 0 if documented and done.returncode != 0 and running else 1


if __name__ == "__main__":
    sys.exit(main())
