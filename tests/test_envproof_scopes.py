"""found_in scopes that exist on some platforms only: MPS libraries, the loader, OpenMP."""

import sys
from pathlib import Path

import pytest

from kb.entries import load_entry
from kb.envproof import check_messages, find_template, fragments, scope_files
from tests.test_envproof import write_entry

MPS = "The operator '{op}' is not currently implemented for the MPS device."
OMP = "OMP: Error #{n}: Initializing {lib}, but found {other} already initialized."


@pytest.fixture
def mac_torch(tmp_path) -> Path:
    """A macOS torch package folder: libraries with the MPS message's constants, and the
    LLVM OpenMP runtime the macOS wheels ship (it words the duplicate-runtime error)."""
    torch_dir = tmp_path / "site" / "torch"
    (torch_dir / "lib").mkdir(parents=True)
    (torch_dir / "lib" / "libtorch_cpu.dylib").write_bytes(
        b"\xcf\xfa\xed\xfe\x00The operator '\x00' is not currently implemented \x00"
        b"for the MPS device. If you want\x00"
    )
    (torch_dir / "lib" / "libomp.dylib").write_bytes(
        b"\xcf\xfa\xed\xfe\x00OMP: Error #%1$d: %2$s\x00"
        b"Initializing %1$s, but found %2$s already initialized.\x00"
    )
    return torch_dir


@pytest.fixture
def linux_torch(tmp_path) -> Path:
    """A Linux torch package folder: .so libraries, GNU libgomp, no MPS, no libiomp5."""
    torch_dir = tmp_path / "linux" / "torch"
    (torch_dir / "lib").mkdir(parents=True)
    (torch_dir / "lib" / "libtorch_cpu.so").write_bytes(b"\x7fELF\x00The operator '\x00")
    (torch_dir / "lib" / "libgomp.so.1").write_bytes(b"\x7fELF\x00libgomp: Thread creation\x00")
    return torch_dir


def test_a_quoted_value_is_cut_out_like_a_placeholder():
    # `from the 'SparseMPS' backend`: the key's name is printed between quotes.
    assert fragments("Could not run '{op}' with arguments from the 'SparseMPS' backend.") == [
        b"Could not run",
        b"with arguments from the",
        b"SparseMPS",
        b"backend.",
    ]
    assert fragments("the operator doesn't exist") == [b"the operator doesn't exist"]


def test_mps_scope_holds_the_macos_libraries_only(mac_torch, linux_torch):
    mac = scope_files("torch-mps-lib", str(mac_torch))
    assert {p.name for p in mac} == {"libtorch_cpu.dylib", "libomp.dylib"}
    assert scope_files("torch-mps-lib", str(linux_torch)) == ()
    assert find_template(MPS, ("torch-mps-lib",), str(mac_torch))


def test_a_template_of_a_build_without_mps_skips_with_the_reason(tmp_path, linux_torch):
    entry = load_entry(write_entry(tmp_path, template=MPS, found_in="torch-mps-lib"))
    status, _, notes = check_messages(entry, str(linux_torch))
    assert status == "skipped"
    assert "only torch's macOS builds have the MPS backend" in notes[-1]
    assert "CUDA" not in notes[-1]


def test_openmp_scope_finds_intel_and_llvm_runtimes_not_gnu(mac_torch, linux_torch):
    assert [p.name for p in scope_files("openmp-lib", str(mac_torch))] == ["libomp.dylib"]
    assert scope_files("openmp-lib", str(linux_torch)) == ()
    # The intel-openmp wheel installs libiomp5 as data, outside any package folder.
    data = linux_torch.parent / "intel_openmp-2024.2.3.data" / "data" / "lib"
    data.mkdir(parents=True)
    (data / "libiomp5.so").write_bytes(b"\x7fELF\x00OMP: Error #%1$d: %2$s\x00")
    scope_files.cache_clear()
    assert [p.name for p in scope_files("openmp-lib", str(linux_torch))] == ["libiomp5.so"]


def test_openmp_message_is_found_in_the_runtime_that_words_it(tmp_path, mac_torch):
    assert find_template(OMP, ("openmp-lib",), str(mac_torch))
    entry = load_entry(write_entry(tmp_path, template=OMP, found_in="openmp-lib"))
    assert check_messages(entry, str(mac_torch))[0] == "passed"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's loader is Linux's")
def test_the_loader_scope_is_the_running_glibc_loader():
    loaders = scope_files("loader")
    if not loaders:
        pytest.skip("this Linux does not use glibc's ld.so (musl?)")
    assert any(p.name.startswith("ld-") for p in loaders)
    assert find_template("{lib}: undefined symbol: {symbol}", ("loader",))
    # Another torch folder changes torch's files, not the loader of this machine.
    assert scope_files("loader", "/nonexistent/torch") == ()


def test_no_mps_condition_holds_where_mps_is_unavailable():
    import torch

    from kb.environment import holds

    mps = getattr(torch.backends, "mps", None)
    assert holds("no-mps") is (mps is None or not mps.is_available())


def test_an_older_wording_counts_only_on_the_releases_it_names(tmp_path, mac_torch):
    # The build holds the 1.12 wording only; the entry's current wording is another.
    lib = mac_torch / "lib" / "libtorch_cpu.dylib"
    lib.write_bytes(b"\xcf\xfa\xed\xfe\x00The operator '\x00' is not current implemented \x00")
    path = write_entry(tmp_path, template=MPS, found_in="torch-mps-lib")
    text = path.read_text(encoding="utf-8")
    older = "older_errors:\n  - text: \"The operator '{op}' is not current implemented\"\n"
    path.write_text(text.replace("found_in:", older + '    torch: "<1.13"\nfound_in:'))
    entry = load_entry(path)
    (mac_torch / "version.py").write_text("__version__ = '1.12.1'\n")
    assert check_messages(entry, str(mac_torch))[0] == "passed"
    (mac_torch / "version.py").write_text("__version__ = '2.13.0'\n")
    assert check_messages(entry, str(mac_torch))[0] == "failed"
