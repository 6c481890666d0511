"""Environment entries: templates found in torch's own files, the diagnose verdict, lint."""

from pathlib import Path

import pytest

from kb.entries import load_entry
from kb.envproof import check_messages, find_template, fragments
from kb.lint import lint_paths

ENTRY = """\
---
id: {id}
title: "cuBLAS cannot start: CUBLAS_STATUS_NOT_INITIALIZED"
kind: environment
area: cuda
exception: RuntimeError
errors:
  - "{template}"
found_in: [{found_in}]
has_condition: {{{verdicts}}}
tags: [cuda]
devices: [cuda]
torch: ">=1.0"
zh:
  title: "cuBLAS 无法初始化"
  summary: "显存不足时 cuBLAS 句柄创建失败。"
---

## Symptom

The first matmul fails.

## Cause

No memory left for the handle.

## Explanation

Handles are created lazily.

## Diagnose

```python diagnose
import torch
has_condition = {verdict}
```

## Fix

Free memory.
"""

TEMPLATE = "CUDA error: CUBLAS_STATUS_NOT_INITIALIZED when calling `cublasCreate(handle)`"


def write_entry(
    folder: Path,
    entry_id: str = "cublas-env",
    template: str = TEMPLATE,
    found_in: str = "torch-lib",
    verdicts: str = "",
    verdict: str = "False",
) -> Path:
    path = folder / f"{entry_id}.md"
    text = ENTRY.format(
        id=entry_id, template=template, found_in=found_in, verdicts=verdicts, verdict=verdict
    )
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def fake_torch(tmp_path) -> Path:
    """A torch package folder whose library holds the cuBLAS message as torch stores it:
    the status and the call as separate constants, "CUDA error: " as a third."""
    torch_dir = tmp_path / "site" / "torch"
    (torch_dir / "lib").mkdir(parents=True)
    (torch_dir / "lib" / "libtorch_cuda.so").write_bytes(
        b"\x7fELF\x00CUDA error: \x00CUBLAS_STATUS_NOT_INITIALIZED\x00"
        b" when calling `cublasCreate(handle)`\x00"
    )
    (torch_dir / "utils.py").write_text(
        'raise OSError("CUDA_HOME environment variable is not set. "\n'
        '              "Please set it to your CUDA install root.")\n'
    )
    return torch_dir


def test_fragments_cut_at_placeholders_and_joints():
    assert fragments("NCCL error in: {file}:{line}, unhandled system error") == [
        b"NCCL error in",
        b"unhandled system error",
    ]
    assert fragments("WorkNCCL(SeqNum={n}, OpType={op})") == [b"WorkNCCL", b"SeqNum=", b"OpType="]


def test_message_assembled_from_separate_constants_is_found(fake_torch):
    found = find_template(TEMPLATE, ("torch-lib",), str(fake_torch))
    assert found and {p.name for p in found} == {"libtorch_cuda.so"}


def test_reworded_message_is_not_found(fake_torch):
    reworded = "CUDA error: CUBLAS_STATUS_NOT_INITIALIZED while creating the handle"
    assert find_template(reworded, ("torch-lib",), str(fake_torch)) is None


def test_python_literal_split_across_lines_is_joined(fake_torch):
    template = "CUDA_HOME environment variable is not set. Please set it to your CUDA install root."
    assert find_template(template, ("torch-python",), str(fake_torch))


def test_pip_scope_holds_the_installer_messages(fake_torch):
    pip_dir = fake_torch.parent / "pip" / "_internal"
    pip_dir.mkdir(parents=True)
    (pip_dir / "factory.py").write_text(
        'logger.critical("Could not find a %s that satisfies the requirement %s "\n'
        '                "(from versions: %s)", kind, req, versions)\n'
    )
    template = "Could not find a {kind} that satisfies the requirement {req} (from versions: {v})"
    found = find_template(template, ("pip",), str(fake_torch))
    assert found and {p.name for p in found} == {"factory.py"}
    assert find_template(template, ("torch-python",), str(fake_torch)) is None


def test_missing_scope_skips_and_present_scope_fails(tmp_path, fake_torch):
    # nvidia-lib: no site-packages/nvidia here, as on a CPU-only build.
    entry = load_entry(
        write_entry(
            tmp_path,
            template="cuDNN error: CUDNN_STATUS_BAD_PARAM",
            found_in="torch-lib, nvidia-lib",
        )
    )
    status, _, notes = check_messages(entry, str(fake_torch))
    assert status == "skipped" and "nvidia" in notes[-1]
    entry = load_entry(write_entry(tmp_path, template="cuDNN error: CUDNN_STATUS_BAD_PARAM"))
    assert check_messages(entry, str(fake_torch))[0] == "failed"
    entry = load_entry(write_entry(tmp_path))
    status, found, _ = check_messages(entry, str(fake_torch))
    assert status == "passed" and "libtorch_cuda.so" in found[0]


def test_diagnose_verdict_is_held_to_the_declared_condition(tmp_path):
    from kb.environment import holds
    from kb.envproof import verify_environment

    if not holds("no-cuda"):
        pytest.skip("needs a machine where CUDA is unavailable")
    wrong = load_entry(write_entry(tmp_path, verdicts="no-cuda: true", verdict="False"))
    verdict = verify_environment(wrong, "diagnose")
    assert not verdict.ok and "must be True" in verdict.summary
    right = load_entry(write_entry(tmp_path, verdicts="no-cuda: false", verdict="False"))
    assert verify_environment(right, "diagnose").ok
    raising = load_entry(write_entry(tmp_path, verdict="1 / 0"))
    assert "raised" in verify_environment(raising, "diagnose").summary
    not_bool = load_entry(write_entry(tmp_path, verdict="'yes'"))
    assert not verify_environment(not_bool, "diagnose").ok


def lint_codes(folder: Path, path: Path) -> list[str]:
    return sorted({p.code for p in lint_paths([path])})


def test_lint_accepts_an_environment_entry(tmp_path):
    assert lint_codes(tmp_path, write_entry(tmp_path, verdicts="no-cuda: false")) == []


@pytest.mark.parametrize(
    "old, new, code",
    [
        ("found_in: [torch-lib]", "found_in: [torch-wheel]", "KB032"),
        ("has_condition: {}", "has_condition: {gpu: true}", "KB032"),
        ("```python diagnose", "```python", "KB033"),
        ("has_condition = False", "verdict = False", "KB033"),
        ("## Fix", "## Repro\n\n```python repro\nx = 1\n```\n\n## Fix", "KB033"),
        ("exception: RuntimeError\n", "", "KB007"),
    ],
)
def test_lint_rules_of_the_environment_kind(tmp_path, old, new, code):
    path = write_entry(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    assert code in lint_codes(tmp_path, path)


def test_other_kinds_cannot_use_environment_keys(tmp_path):
    from tests.conftest import entry_text

    path = tmp_path / "vector-backward.md"
    path.write_text(entry_text().replace("kind: error\n", "kind: error\nfound_in: [torch-lib]\n"))
    assert "KB032" in lint_codes(tmp_path, path)


def test_show_prints_the_diagnose_block_to_paste_on_the_failing_machine(
    tmp_path, monkeypatch, capsys
):
    from kb.cli import main

    folder = tmp_path / "entries"
    folder.mkdir()
    write_entry(folder, verdicts="no-cuda: false")
    monkeypatch.setenv("KB_ENTRIES", str(folder))
    monkeypatch.setenv("KB_BUNDLED", "0")
    monkeypatch.setenv("KB_DB", str(tmp_path / "index.db"))
    assert main(["show", "--diagnose", "cublas-env"]) == 0
    out = capsys.readouterr().out
    assert out == "import torch\nhas_condition = False\n"
    assert main(["show", "--repro", "cublas-env"]) == 1
    assert "has no repro block" in capsys.readouterr().err


def test_an_older_release_may_hold_the_older_wording(tmp_path, fake_torch):
    path = write_entry(tmp_path, template="CUDA error: CUBLAS handle creation failed")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("found_in:", f'older_errors: ["{TEMPLATE}"]\nfound_in:'))
    status, found, _ = check_messages(load_entry(path), str(fake_torch))
    assert status == "passed" and found[0].startswith("'(older wording for)")
    path.write_text(text)  # without the older wording, the new one alone must be there
    assert check_messages(load_entry(path), str(fake_torch))[0] == "failed"


def test_multi_gpu_entries_skip_with_the_reason_where_fewer_than_two_gpus():
    import torch

    from kb.environment import unmet

    reason = unmet(["multi-gpu"])
    if torch.cuda.device_count() >= 2:
        assert reason is None
    else:
        assert reason is not None and "at least two CUDA devices" in reason


def test_tf32_entries_skip_with_the_reason_where_no_ampere_gpu():
    import torch

    from kb.environment import unmet

    reason = unmet(["tf32-gpu"])
    if torch.cuda.is_available() and torch.cuda.get_device_capability() >= (8, 0):
        assert reason is None
    else:
        assert reason is not None and "compute capability 8.0" in reason


@pytest.mark.parametrize("phase", ["messages", "diagnose"])
def test_an_unmet_need_skips_both_phases_with_the_condition(tmp_path, phase):
    from kb.environment import holds
    from kb.envproof import verify_environment
    from kb.verify import Skip

    # Whichever build this is, the other one is the unmet need.
    other = "cuda-build" if holds("cpu-build") else "cpu-build"
    path = write_entry(tmp_path, verdicts="", verdict="False")
    text = path.read_text(encoding="utf-8").replace(
        'torch: ">=1.0"', f'torch: ">=1.0"\nneeds: [{other}]'
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(Skip, match=f"(?i)needs a {other.split('-')[0]}"):
        verify_environment(load_entry(path), phase)
