"""The "cannot open shared object file" entries' diagnose blocks, on conditions this
machine can make with a C compiler.

`cuda-library-cannot-open`: an installed extension linked against a CUDA runtime this
machine lacks (`libcudart.so.99`) must fail to load with the loader's real message,
matching the entry's template, and the diagnose block must name it.
`extension-imported-before-torch`: an extension linked against torch's `libc10.so` the
way `torch.utils.cpp_extension` links one (by name, no path to torch) must fail to load
before `import torch` with the entry's message and load after it; the diagnose block
must flag it when named in MODULES, and flag one that needs a torch library this torch
does not have.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.entries import load_entry
from kb.templates import fullmatch

ROOT = Path(__file__).resolve().parent.parent


def compiler() -> str:
    if not sys.platform.startswith("linux"):
        pytest.skip("the message is glibc's loader's")
    found = shutil.which("cc") or shutil.which("gcc")
    if found is None:
        pytest.skip("needs a C compiler (cc) to build the extension")
    return found


def build(tmp_path: Path, site: Path, package: str, links: list[str]) -> Path:
    """An installed distribution `package` whose `_C.so` needs the given libraries
    (`-l` arguments and `-L` folders), with no path to find them."""
    source = tmp_path / f"{package}.c"
    source.write_text("int kb_entry(void) { return 1; }\n")
    folder = site / package
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    library = folder / "_C.so"
    cmd = [compiler(), "-shared", "-fPIC", "-o", str(library), str(source)]
    cmd += ["-Wl,--no-as-needed", *links]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    info = site / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (info / "RECORD").write_text(
        f"{package}/__init__.py,,\n{package}/_C.so,,\n{package}-0.1.dist-info/METADATA,,\n"
    )
    return library


def stub(tmp_path: Path, soname: str) -> Path:
    """A folder holding an empty library named `soname`, to link against and then lose."""
    folder = tmp_path / f"stub-{soname}"
    folder.mkdir()
    source = folder / "stub.c"
    source.write_text("int kb_stub(void) { return 0; }\n")
    link = soname.split(".so")[0] + ".so"  # libcudart.so: what -lcudart looks for
    cmd = [compiler(), "-shared", "-fPIC", "-o", str(folder / link), str(source)]
    cmd += [f"-Wl,-soname,{soname}"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return folder


def diagnose(entry_id: str, tmp_path: Path, site: Path, modules: str = "[]") -> str:
    block = load_entry(ROOT / "entries" / f"{entry_id}.md").blocks["diagnose"]
    code = block.code.replace("MODULES = []", f"MODULES = {modules}")
    script = tmp_path / "diagnose.py"
    script.write_text(code + "\nprint('VERDICT', has_condition)\n", encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    environ["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=environ, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def load_in_child(library: Path, torch_first: bool) -> str:
    code = "import ctypes, sys\n"
    code += "import torch\n" if torch_first else ""
    code += "try:\n    ctypes.CDLL(sys.argv[1])\n    print('loaded')\n"
    code += "except OSError as exc:\n    print(exc)\n"
    done = subprocess.run(
        [sys.executable, "-c", code, str(library)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_an_extension_needing_a_missing_cuda_runtime(tmp_path):
    site = tmp_path / "site"
    runtime = stub(tmp_path, "libcudart.so.99")
    library = build(tmp_path, site, "cudaext", [f"-L{runtime}", "-lcudart"])
    shutil.rmtree(runtime)  # the runtime the extension was built against is gone
    message = load_in_child(library, torch_first=True)
    assert message == "libcudart.so.99: cannot open shared object file: No such file or directory"
    entry = load_entry(ROOT / "entries" / "cuda-library-cannot-open.md")
    assert any(fullmatch(t, message) for t in entry.errors)
    out = diagnose("cuda-library-cannot-open", tmp_path, site)
    assert "cudaext" in out and "libcudart.so.99" in out
    assert out.strip().endswith("VERDICT True")


def test_the_diagnose_is_clean_without_such_an_extension(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    assert diagnose("cuda-library-cannot-open", tmp_path, site).strip().endswith("VERDICT False")
    out = diagnose("extension-imported-before-torch", tmp_path, site)
    assert out.strip().endswith("VERDICT False")


def test_an_extension_imported_before_torch(tmp_path):
    import torch

    torch_lib = Path(torch.__file__).parent / "lib"
    site = tmp_path / "site"
    library = build(tmp_path, site, "orderext", [f"-L{torch_lib}", "-lc10", "-ltorch_cpu"])
    message = load_in_child(library, torch_first=False)
    assert message == "libc10.so: cannot open shared object file: No such file or directory"
    entry = load_entry(ROOT / "entries" / "extension-imported-before-torch.md")
    assert any(fullmatch(t, message) for t in entry.errors)
    assert load_in_child(library, torch_first=True) == "loaded"
    # Installed but not named: reported, not flagged (every such extension needs torch first).
    out = diagnose("extension-imported-before-torch", tmp_path, site)
    assert "orderext: import torch before it (libc10.so)" in out
    assert out.strip().endswith("VERDICT False")
    out = diagnose("extension-imported-before-torch", tmp_path, site, '["orderext._C"]')
    assert out.strip().endswith("VERDICT True")


def test_an_extension_needing_a_torch_library_this_torch_lacks(tmp_path):
    import torch

    if (Path(torch.__file__).parent / "lib" / "libtorch_cuda_cu.so").exists():
        pytest.skip("this torch has libtorch_cuda_cu.so")
    site = tmp_path / "site"
    old = stub(tmp_path, "libtorch_cuda_cu.so")  # torch 1.12 and older had it
    build(tmp_path, site, "oldext", [f"-L{old}", "-ltorch_cuda_cu"])
    shutil.rmtree(old)
    out = diagnose("extension-imported-before-torch", tmp_path, site)
    assert "oldext: needs libtorch_cuda_cu.so, not in this torch" in out
    assert out.strip().endswith("VERDICT True")
