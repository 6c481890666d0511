"""scripts/check_wheel_messages.py without the network: unpacking a wheel and checking
an entry's templates against it (the download itself is pip's)."""

import importlib.util
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location(
    "check_wheel_messages", ROOT / "scripts" / "check_wheel_messages.py"
)
cwm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cwm)

MPS_ENTRY = ROOT / "entries" / "mps-operator-not-implemented.md"


def fake_mac_wheel(path: Path, wording: bytes) -> Path:
    """A macOS torch wheel whose libtorch_cpu.dylib holds `wording`, stored as the
    compiler stores TORCH_CHECK's pieces, and a header the check must not unpack."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("torch/lib/libtorch_cpu.dylib", b"\xcf\xfa\xed\xfe\x00" + wording)
        zf.writestr("torch/include/ATen/ATen.h", "#pragma once\n")
        zf.writestr("torch/__init__.py", "")
        zf.writestr("torch/version.py", "__version__ = '9.0.0'\n")
    return path


CURRENT = (
    b"The operator '\x00' is not currently implemented \x00for the MPS device. If you want"
    b" this op to be considered for addition \x00please comment on https://github.com/pyto"
    b"rch/pytorch/issues/141287 and mention use-case, that resulted in missing op\x00 as "
    b"well as commit hash \x00. As a temporary fix, you can set the environment variable `"
    b"PYTORCH_ENABLE_MPS_FALLBACK=1` \x00to use the CPU as a fallback for this op. WARNING:"
    b" this will be slower than running natively \x00on MPS.\x00Could not run '\x00' with a"
    b"rguments from the '\x00SparseMPS\x00' backend. This could be because the operator do"
    b"esn't exist for this backend, or was omitted during the selective/custom build proce"
    b"ss (if using custom build). \x00convolution_overrideable not implemented. You are li"
    b"kely triggering this with tensor backend other than CPU/CUDA/MKLDNN, if this is inte"
    b"nded, please use TORCH_LIBRARY_IMPL to override this function \x00"
)


def test_a_wheel_holding_the_messages_passes(tmp_path, capsys):
    wheel = fake_mac_wheel(tmp_path / "torch-9.0-cp311-none-macosx_14_0_arm64.whl", CURRENT)
    site = tmp_path / "site"
    written = cwm.unpack(wheel, site)
    assert written > 0 and (site / "torch" / "lib" / "libtorch_cpu.dylib").is_file()
    assert not (site / "torch" / "include").exists()
    assert cwm.check(site, [MPS_ENTRY]) == 0
    out = capsys.readouterr().out
    assert "mps-operator-not-implemented: passed (torch-mps-lib: 1 files)" in out


def test_a_reworded_message_fails(tmp_path, capsys):
    # Older wordings count only on the releases they were printed by (not on 9.0.0).
    reworded = CURRENT.replace(b"PYTORCH_ENABLE_MPS_FALLBACK", b"PYTORCH_MPS_CPU_FALLBACK")
    wheel = fake_mac_wheel(tmp_path / "torch-9.0-cp311-none-macosx_14_0_arm64.whl", reworded)
    site = tmp_path / "site"
    cwm.unpack(wheel, site)
    assert cwm.check(site, [MPS_ENTRY]) == 1
    assert "failed" in capsys.readouterr().out


def test_a_wheel_of_another_platform_skips(tmp_path, capsys):
    site = tmp_path / "site"
    (site / "torch" / "lib").mkdir(parents=True)
    (site / "torch" / "lib" / "libtorch_cpu.so").write_bytes(CURRENT)
    assert cwm.check(site, [MPS_ENTRY]) == 0
    assert "skipped (torch-mps-lib: 0 files)" in capsys.readouterr().out


OOM_ENTRY = ROOT / "entries" / "cuda-out-of-memory.md"
# torch 2.0's out-of-memory message as its libc10_cuda stores it, in pieces.
OOM_2_0 = (
    b"CUDA out of memory. Tried to allocate \x00 (GPU \x00; \x00 total capacity; \x00 already "
    b"allocated; \x00 free; \x00 reserved in total by PyTorch)\x00"
)


def test_an_error_entry_gets_which_wordings_a_release_holds(tmp_path, capsys):
    site = tmp_path / "site"
    (site / "torch" / "lib").mkdir(parents=True)
    (site / "torch" / "lib" / "libc10_cuda.so").write_bytes(b"\x7fELF" + OOM_2_0)
    assert cwm.check(site, [OOM_ENTRY], version="2.0.1") == 0
    out = capsys.readouterr().out
    assert "cuda-out-of-memory: wordings" in out
    lines = [line.strip() for line in out.splitlines()]
    newest = next(line for line in lines if "[errors]" in line)
    assert newest.startswith("not held")
    before_2_1 = next(line for line in lines if "[older <2.1]" in line)
    assert before_2_1.startswith("held") and "range disagrees" not in before_2_1
    # The same strings on a release whose range says otherwise are flagged.
    assert cwm.check(site, [OOM_ENTRY], version="2.4.1") == 0
    flagged = [line for line in capsys.readouterr().out.splitlines() if "<2.1]" in line]
    assert flagged and "range disagrees" in flagged[0]
