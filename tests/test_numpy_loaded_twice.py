"""`numpy-loaded-twice`, on a condition any machine can make: a copy of the installed
NumPy in another folder, imported after torch bound its NumPy bridge to the first one.
`torch.from_numpy` must then fail with the entry's message, and the diagnose block must
find both copies and say so; in a plain process it must say False.
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
ENTRY = ROOT / "entries" / "numpy-loaded-twice.md"

# In the child: bind torch to the installed NumPy, then import the copy in its place.
SWAP = """
import sys
import numpy, torch
for name in [m for m in sys.modules if m == "numpy" or m.startswith("numpy.")]:
    del sys.modules[name]
sys.path.insert(0, sys.argv[1])
import numpy
assert numpy.__file__.startswith(sys.argv[1]), numpy.__file__
try:
    torch.from_numpy(numpy.zeros(2))
except TypeError as exc:
    print("MESSAGE", exc)
"""


def copy_numpy(tmp_path: Path) -> Path:
    numpy = pytest.importorskip("numpy")
    if sys.platform == "win32":
        pytest.skip("a second copy of NumPy's DLLs is not loaded side by side on Windows")
    package = Path(numpy.__file__).parent
    folder = tmp_path / "second"
    folder.mkdir()
    shutil.copytree(package, folder / "numpy")
    for libs in package.parent.glob("numpy*.libs"):  # the wheel's bundled OpenBLAS
        shutil.copytree(libs, folder / libs.name)
    return folder


def run(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONNOUSERSITE": "1"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_second_numpy_after_torch(tmp_path):
    folder = copy_numpy(tmp_path)
    diagnose = load_entry(ENTRY).blocks["diagnose"].code
    out = run(SWAP + diagnose + "\nprint('VERDICT', has_condition)\n", str(folder))
    message = next(line for line in out.splitlines() if line.startswith("MESSAGE "))
    message = message.removeprefix("MESSAGE ")
    assert message == "expected np.ndarray (got numpy.ndarray)"
    assert any(fullmatch(t, message) for t in load_entry(ENTRY).errors)
    assert str(folder) in out  # the copy is listed among the loaded modules
    assert out.strip().endswith("VERDICT True")


def test_the_diagnose_is_clean_with_one_numpy():
    pytest.importorskip("numpy")
    diagnose = load_entry(ENTRY).blocks["diagnose"].code
    assert run(diagnose + "\nprint('VERDICT', has_condition)\n").strip().endswith("VERDICT False")
