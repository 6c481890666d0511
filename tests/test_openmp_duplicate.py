"""openmp-runtime-loaded-twice: the real failure where a runtime exists, and its diagnose.

Two copies of the Intel or LLVM OpenMP runtime started in one process must abort it with
the message the entry documents, and KMP_DUPLICATE_LIB_OK=TRUE must let both run on
(the band-aid the entry rejects). torch's Linux wheels ship no such runtime (they use GNU
libgomp), so there the reproduction skips with that reason;
scripts/repro_openmp_duplicate.py runs it with the intel-openmp wheel from PyPI.
"""

import importlib.util
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from kb.entries import load_entry
from kb.envproof import scope_files
from kb.templates import fullmatch

ROOT = Path(__file__).resolve().parent.parent
ENTRY = load_entry(ROOT / "entries" / "openmp-runtime-loaded-twice.md")
spec = importlib.util.spec_from_file_location(
    "repro_openmp_duplicate", ROOT / "scripts" / "repro_openmp_duplicate.py"
)
repro = importlib.util.module_from_spec(spec)
spec.loader.exec_module(repro)


def runtime() -> Path:
    found = [p for p in scope_files("openmp-lib") if not p.name.endswith(".dll")]
    if not found:
        pytest.skip(
            "no Intel or LLVM OpenMP runtime installed here (torch's Linux wheels use GNU "
            "libgomp); python scripts/repro_openmp_duplicate.py downloads one"
        )
    return found[0]


def test_two_runtimes_abort_with_the_documented_message(tmp_path):
    lib = runtime()
    done = repro.double_load(lib, tmp_path, duplicate_ok=False)
    assert done.returncode != 0 and "both runtimes running" not in done.stdout
    first = next(line for line in done.stderr.splitlines() if line.startswith("OMP:"))
    assert any(fullmatch(t, first) for t in ENTRY.errors), first


def test_the_duplicate_ok_band_aid_lets_both_run(tmp_path):
    done = repro.double_load(runtime(), tmp_path, duplicate_ok=True)
    assert done.returncode == 0 and "both runtimes running" in done.stdout


def diagnose(tmp_path: Path, user_base: Path) -> bool:
    script = tmp_path / "diagnose.py"
    code = ENTRY.blocks["diagnose"].code + "\nprint('VERDICT', has_condition)\n"
    script.write_text(code, encoding="utf-8")
    env = dict(os.environ, PYTHONUSERBASE=str(user_base))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1] == "VERDICT True"


def user_site(base: Path) -> Path:
    scheme = "nt_user" if os.name == "nt" else f"{os.name}_user"
    return Path(sysconfig.get_path("purelib", scheme, vars={"userbase": str(base)}))


def test_diagnose_flags_two_copies_in_two_folders(tmp_path):
    base = tmp_path / "userbase"
    for package, name in (("mkl_thing", "libiomp5.so"), ("other", "libomp.dylib")):
        folder = user_site(base) / package
        folder.mkdir(parents=True)
        (folder / name).write_bytes(b"\x7fELF")
    (user_site(base) / "mkl_thing" / "libiomp5_db.so").write_bytes(b"\x7fELF")
    assert diagnose(tmp_path, base)


def test_diagnose_accepts_one_copy(tmp_path):
    if scope_files("openmp-lib"):
        pytest.skip("this environment already holds an Intel or LLVM OpenMP runtime")
    base = tmp_path / "userbase"
    folder = user_site(base) / "only"
    folder.mkdir(parents=True)
    (folder / "libiomp5.so").write_bytes(b"\x7fELF")
    (folder / "libiomp5_db.so").write_bytes(b"\x7fELF")  # not a second runtime
    assert not diagnose(tmp_path, base)
