"""`libstdcxx-glibcxx-version-not-found`, on a condition this machine can make with a C
compiler: a stand-in `libstdc++.so.6` that defines every symbol version torch's
libraries ask for except the newest `GLIBCXX_3.4.N`, first on `LD_LIBRARY_PATH`.
`import torch` must then fail with the loader's real message, matching the entry's
template and naming that version, and the diagnose block must name it too.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.entries import load_entry
from kb.templates import fullmatch

ROOT = Path(__file__).resolve().parent.parent
ENTRY = ROOT / "entries" / "libstdcxx-glibcxx-version-not-found.md"


def newest_needed() -> tuple[int, int]:
    """(N, highest CXXABI_1.3.M) over torch's libraries: what `import torch` asks for."""
    import torch

    lib = Path(torch.__file__).parent / "lib"
    glibcxx, cxxabi = [0], [0]
    for path in lib.glob("libtorch*.so"):
        data = path.read_bytes()
        glibcxx += [int(n) for n in re.findall(rb"GLIBCXX_3\.4\.(\d+)", data)]
        cxxabi += [int(n) for n in re.findall(rb"CXXABI_1\.3\.(\d+)", data)]
    return max(glibcxx), max(cxxabi)


def old_libstdcxx(tmp_path: Path, below: int, cxxabi: int) -> Path:
    """A folder holding a `libstdc++.so.6` that defines GLIBCXX_3.4 .. 3.4.<below - 1>."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the message is glibc's loader's")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("needs a C compiler (cc) to build the stand-in libstdc++")
    folder = tmp_path / "old"
    folder.mkdir()
    names = ["GLIBCXX_3.4"] + [f"GLIBCXX_3.4.{n}" for n in range(1, below)]
    names += ["CXXABI_1.3"] + [f"CXXABI_1.3.{n}" for n in range(1, cxxabi + 1)]
    # One symbol per version node, each node inheriting the previous one.
    script = "".join(
        f"{name} {{ global: kb_v{i}; local: *; }}{' ' + names[i - 1] if i else ''};\n"
        for i, name in enumerate(names)
    )
    (folder / "v.map").write_text(script)
    (folder / "stub.c").write_text("".join(f"void kb_v{i}(void) {{}}\n" for i in range(len(names))))
    cmd = [cc, "-shared", "-fPIC", "-o", str(folder / "libstdc++.so.6"), str(folder / "stub.c")]
    cmd += ["-Wl,-soname,libstdc++.so.6", f"-Wl,--version-script={folder / 'v.map'}"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return folder


def run(code: str, library_path: Path | None) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    if library_path is not None:
        environ["LD_LIBRARY_PATH"] = str(library_path)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def diagnose(library_path: Path | None) -> str:
    code = load_entry(ENTRY).blocks["diagnose"].code
    return run(code + "\nprint('VERDICT', has_condition)\n", library_path)


def test_an_older_libstdcxx_loaded_first(tmp_path):
    newest, cxxabi = newest_needed()
    assert newest > 0, "torch's libraries name no GLIBCXX version"
    old = old_libstdcxx(tmp_path, newest, cxxabi)
    message = run(
        "try:\n    import torch\nexcept ImportError as exc:\n    print(exc)\n", old
    ).strip()
    assert f"version `GLIBCXX_3.4.{newest}' not found (required by" in message, message
    assert message.startswith(str(old / "libstdc++.so.6"))
    entry = load_entry(ENTRY)
    assert any(fullmatch(t, message) for t in entry.errors)
    out = diagnose(old)
    assert f"GLIBCXX_3.4.{newest}" in out and str(old) in out, out
    assert out.strip().endswith("VERDICT True")


def test_the_diagnose_is_clean_where_torch_imports():
    assert diagnose(None).strip().endswith("VERDICT False")
