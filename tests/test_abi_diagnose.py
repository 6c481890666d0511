"""The undefined-symbol entries' diagnose blocks, on the conditions this machine can make.

`extension-built-for-other-torch`: a library that asks for a `c10::` function this torch
does not export (as one compiled against another release does) must fail to load with
the loader's real message, matching the entry's template, and the diagnose block must
name it. `torch-library-shadowed`: a folder on LD_LIBRARY_PATH holding a libc10.so that
is not torch's must be flagged, a clean path must not.
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
MISSING = "_ZN3c1020kb_not_in_this_torchEv"  # c10::kb_not_in_this_torch()


def diagnose(entry_id: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    block = load_entry(ROOT / "entries" / f"{entry_id}.md").blocks["diagnose"]
    script = tmp_path / "diagnose.py"
    script.write_text(block.code + "\nprint('VERDICT', has_condition)\n", encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    environ.update(env)
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=environ, timeout=120
    )


def verdict(done: subprocess.CompletedProcess) -> bool:
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1] == "VERDICT True"


@pytest.fixture
def stale_extension(tmp_path) -> Path:
    """A site folder with one installed distribution whose library links against this
    torch's libc10 but calls a c10 function it lacks."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not sys.platform.startswith("linux"):
        pytest.skip("the message is glibc's loader's")
    if compiler is None:
        pytest.skip("needs a C compiler (cc) to build the stale extension")
    import torch

    site = tmp_path / "site"
    package = site / "staleext"
    package.mkdir(parents=True)
    source = tmp_path / "ext.c"
    source.write_text(f"void {MISSING}(void);\nvoid entry(void) {{ {MISSING}(); }}\n")
    torch_lib = Path(torch.__file__).parent / "lib"
    library = package / "_C.so"
    cmd = [compiler, "-shared", "-fPIC", "-o", str(library), str(source)]
    cmd += [f"-L{torch_lib}", "-Wl,--no-as-needed", "-lc10"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    info = site / "staleext-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: staleext\nVersion: 0.1\n")
    (info / "RECORD").write_text("staleext/_C.so,,\nstaleext-0.1.dist-info/METADATA,,\n")
    return site


def test_a_stale_extension_fails_with_the_documented_message(stale_extension):
    import ctypes

    import torch  # noqa: F401  (loads libc10, as importing the extension's package does)

    entry = load_entry(ROOT / "entries" / "extension-built-for-other-torch.md")
    with pytest.raises(OSError) as caught:
        ctypes.CDLL(str(stale_extension / "staleext" / "_C.so"))
    message = str(caught.value)
    assert message.endswith(f"undefined symbol: {MISSING}")
    assert any(fullmatch(t, message) for t in entry.errors)


def test_extension_diagnose_names_the_stale_extension(stale_extension, tmp_path):
    done = diagnose("extension-built-for-other-torch", tmp_path, PYTHONPATH=str(stale_extension))
    assert verdict(done)
    assert f"staleext: {stale_extension}" in done.stdout and MISSING in done.stdout


def test_extension_diagnose_is_quiet_without_one(tmp_path):
    assert not verdict(diagnose("extension-built-for-other-torch", tmp_path))


def test_shadowing_diagnose_flags_a_foreign_libc10_on_the_library_path(tmp_path):
    folder = tmp_path / "libtorch" / "lib"
    folder.mkdir(parents=True)
    (folder / "libc10.so").write_bytes(b"\x7fELF")
    done = diagnose("torch-library-shadowed", tmp_path, LD_LIBRARY_PATH=str(folder))
    assert verdict(done) and "libc10.so" in done.stdout


def test_shadowing_diagnose_accepts_torch_own_folder_and_a_clean_path(tmp_path):
    import torch

    own = str(Path(torch.__file__).parent / "lib")
    clean = tmp_path / "other"
    clean.mkdir()
    (clean / "libfoo.so").write_bytes(b"\x7fELF")
    path = os.pathsep.join([own, str(clean)])
    assert not verdict(diagnose("torch-library-shadowed", tmp_path, LD_LIBRARY_PATH=path))


def fake_dists(site: Path, nccl_pin: str, nccl_installed: str) -> Path:
    """Metadata as a CUDA wheel of torch leaves it: torch pins its NCCL wheel (with a
    platform marker), and an nvidia-nccl-cu12 of some version is installed."""
    torch_info = site / "torch-9.0.0.dist-info"
    torch_info.mkdir(parents=True)
    (torch_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: torch\nVersion: 9.0.0\n"
        f'Requires-Dist: nvidia-nccl-cu12=={nccl_pin}; platform_system == "Linux"\n'
    )
    nccl_info = site / f"nvidia_nccl_cu12-{nccl_installed}.dist-info"
    nccl_info.mkdir()
    (nccl_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: nvidia-nccl-cu12\nVersion: {nccl_installed}\n"
    )
    return site


def test_shadowing_diagnose_flags_an_nccl_wheel_other_than_torch_pins(tmp_path):
    # ncclCommRegister missing: torch 2.2 next to an older nvidia-nccl-cu12 (pytorch#119072)
    site = fake_dists(tmp_path / "old", nccl_pin="2.19.3", nccl_installed="2.18.1")
    done = diagnose("torch-library-shadowed", tmp_path, PYTHONPATH=str(site))
    assert verdict(done)
    assert "torch wants nvidia-nccl-cu12==2.19.3, installed 2.18.1" in done.stdout
    site = fake_dists(tmp_path / "same", nccl_pin="2.19.3", nccl_installed="2.19.3")
    assert not verdict(diagnose("torch-library-shadowed", tmp_path, PYTHONPATH=str(site)))
