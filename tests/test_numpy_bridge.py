"""The NumPy-bridge conditions (kb.environment) and the diagnose block of
numpy-2-with-torch-built-on-numpy-1, on package folders built the NumPy 1.x and 2.x ways.

The matrix pins numpy<2 for torch before 2.3, so no environment of it has the condition;
here the diagnose block runs in a fresh interpreter whose `torch` and `numpy` are folders
laid out like the real ones: a libtorch_python holding the module names that NumPy's C
headers compile in, and a numpy distribution's metadata.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb import environment
from kb.entries import load_entry

ENTRIES = Path(__file__).resolve().parent.parent / "entries"
ENTRY = ENTRIES / "numpy-2-with-torch-built-on-numpy-1.md"
# What `_import_array()` imports, as NumPy's headers word it (1.x: numpy.core only;
# 2.x: numpy._core first, then numpy.core for NumPy 1.x at run time).
BUILT_ON_NUMPY_1 = b"\x7fELF\x00numpy.core._multiarray_umath\x00_ARRAY_API not found\x00"
BUILT_ON_NUMPY_2 = b"\x7fELF\x00numpy._core._multiarray_umath\x00numpy.core._multiarray_umath\x00"


def site(tmp_path: Path, lib: bytes, numpy_version: str | None) -> Path:
    root = tmp_path / "site"
    (root / "torch" / "lib").mkdir(parents=True)
    (root / "torch" / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (root / "torch" / "lib" / "libtorch_python.so").write_bytes(lib)
    if numpy_version:
        info = root / f"numpy-{numpy_version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: numpy\nVersion: {numpy_version}\n"
        )
    return root


def verdict(root: Path, hide_numpy: bool = False) -> bool:
    code = load_entry(ENTRY).blocks["diagnose"].code
    if hide_numpy:  # no numpy distribution anywhere on the path
        code = (
            "import importlib.metadata as md\n"
            "_version = md.version\n"
            "def _no_numpy(name):\n"
            "    if name == 'numpy':\n"
            "        raise md.PackageNotFoundError(name)\n"
            "    return _version(name)\n"
            "md.version = _no_numpy\n" + code
        )
    code += "\nprint('VERDICT', has_condition)\n"
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "numpy" not in done.stderr.lower()
    line = [x for x in done.stdout.splitlines() if x.startswith("VERDICT")][-1]
    return line == "VERDICT True"


@pytest.mark.parametrize(
    ("lib", "numpy_version", "expected"),
    [
        (BUILT_ON_NUMPY_1, "2.0.0", True),
        (BUILT_ON_NUMPY_1, "2.2.5", True),
        (BUILT_ON_NUMPY_1, "1.26.4", False),
        (BUILT_ON_NUMPY_2, "2.1.0", False),
        (BUILT_ON_NUMPY_2, "1.26.4", False),
    ],
)
def test_diagnose_reads_the_numpy_torch_was_built_against(tmp_path, lib, numpy_version, expected):
    assert verdict(site(tmp_path, lib, numpy_version)) is expected


def test_diagnose_without_numpy_says_false(tmp_path):
    assert verdict(site(tmp_path, BUILT_ON_NUMPY_1, None), hide_numpy=True) is False


def test_numpy_conditions_follow_the_observed_bridge(monkeypatch):
    cases = {
        ("2.0.0", False): (False, True),  # NumPy 2, bridge off: the condition
        ("1.19.5", False): (False, False),  # NumPy older than the build: another mismatch
        (None, False): (False, False),  # no NumPy at all
        ("2.1.0", True): (True, False),
        ("1.26.4", True): (True, False),
    }
    for bridge, (works, mismatch) in cases.items():
        monkeypatch.setattr(environment, "numpy_bridge", lambda b=bridge: b)
        assert environment.holds("numpy-bridge-works") is works
        assert environment.holds("numpy-2-on-numpy-1-build") is mismatch


def test_numpy_bridge_here_is_what_from_numpy_does():
    numpy = pytest.importorskip("numpy")
    import torch

    environment.numpy_bridge.cache_clear()
    version, works = environment.numpy_bridge()
    assert version == numpy.__version__
    try:
        torch.from_numpy(numpy.zeros(1))
    except RuntimeError:
        assert not works
    else:
        assert works
