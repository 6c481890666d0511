"""The harness's judgement: a repro must fail as documented and the fix must heal it."""

from pathlib import Path

import pytest

from kb.entries import load_entry
from kb.verify import Skip, gradient_problems, verify
from tests.conftest import FIX, REPRO, entry_text


def make(tmp_path: Path, text: str, name: str = "vector-backward") -> object:
    path = tmp_path / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return load_entry(path)


def test_documented_error_passes_both_phases(tmp_path):
    entry = make(tmp_path, entry_text())
    assert verify(entry, "repro", "cpu").ok
    assert verify(entry, "fix", "cpu").ok


def test_repro_that_no_longer_fails_is_reported(tmp_path):
    entry = make(tmp_path, entry_text(repro=FIX))
    verdict = verify(entry, "repro", "cpu")
    assert not verdict.ok
    report = verdict.report()
    assert "vector-backward.md:32: repro on cpu" in report
    assert "ran without raising" in report and "fixed_in" in report


def test_wrong_message_is_reported_with_expected_and_actual(tmp_path):
    repro = "import torch\n\ntorch.ones(2) @ torch.ones(3)"
    verdict = verify(make(tmp_path, entry_text(repro=repro)), "repro", "cpu")
    assert not verdict.ok
    report = verdict.report()
    assert "raised RuntimeError: inconsistent tensor size" in report
    assert "grad can be implicitly created only for scalar outputs" in report
    assert "vector-backward.md:34: torch.ones(2) @ torch.ones(3)" in report


def test_fix_that_still_raises_fails(tmp_path):
    verdict = verify(make(tmp_path, entry_text(fix=REPRO)), "fix", "cpu")
    assert not verdict.ok and "the fix must not raise" in verdict.summary


def test_fix_without_gradients_fails_the_default_check(tmp_path):
    fix = (
        "import torch\n\nw = torch.ones(3, device=device, requires_grad=True)\nloss = (w * 2).sum()"
    )
    verdict = verify(make(tmp_path, entry_text(fix=fix)), "fix", "cpu")
    assert not verdict.ok
    assert "w: .grad is None" in verdict.report()


def test_gradient_check_finds_parameters_in_modules_lists_and_optimizers():
    import torch

    layer = torch.nn.Linear(2, 1)
    extra = torch.nn.Parameter(torch.ones(1))
    frozen = torch.ones(1, requires_grad=True)
    opt = torch.optim.SGD([frozen], lr=0.1)
    layer(torch.ones(1, 2)).sum().backward()
    problems = gradient_problems({"model": layer, "params": [extra], "opt": opt, "_hidden": extra})
    assert problems == [
        "params[0]: .grad is None (no gradient reached it)",
        "opt.param_groups[0][0]: .grad is None (no gradient reached it)",
    ]
    zero = torch.ones(1, requires_grad=True)
    (zero * 0).sum().backward()
    nan = torch.ones(1, requires_grad=True)
    (nan * float("nan")).sum().backward()
    assert gradient_problems({"zero": zero, "nan": nan}) == [
        "zero: .grad is all zeros",
        "nan: .grad has NaN or inf",
    ]
    assert "no trainable" in gradient_problems({})[0]


SILENT = """\
---
id: forgot-step
title: "optimizer.step() never called: weights do not move"
kind: silent
area: training
tags: [training-loop]
devices: [cpu]
torch: ">=1.0"
zh:
  title: "忘记调用 optimizer.step()"
  summary: "不调用 step，参数不会更新。"
---

## Symptom

Loss stays flat.

## Cause

No step.

## Explanation

Gradients are computed but never applied.

## Repro

```python repro
import torch

model = torch.nn.Linear(2, 1).to(device)
before = model.weight.detach().clone()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model(torch.ones(4, 2, device=device)).pow(2).mean().backward()
```

## Fix

```python fix
import torch

model = torch.nn.Linear(2, 1).to(device)
before = model.weight.detach().clone()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model(torch.ones(4, 2, device=device)).pow(2).mean().backward()
opt.step()
```

## Check

```python check
assert not torch.equal(model.weight, before), "weights unchanged after training"
```
"""


def test_silent_entry_needs_check_to_fail_then_pass(tmp_path):
    entry = make(tmp_path, SILENT, "forgot-step")
    assert verify(entry, "repro", "cpu").ok
    assert verify(entry, "fix", "cpu").ok
    healed = make(
        tmp_path,
        SILENT.replace("backward()\n```\n\n## Fix", "backward()\nopt.step()\n```\n\n## Fix"),
        "forgot-step",
    )
    verdict = verify(healed, "repro", "cpu")
    assert not verdict.ok and "no longer shows the failure" in verdict.summary


def test_broken_check_is_not_mistaken_for_a_failure(tmp_path):
    text = SILENT.replace(
        "assert not torch.equal", "assert not torch.equal(undefined_name) or torch.equal"
    )
    verdict = verify(make(tmp_path, text, "forgot-step"), "repro", "cpu")
    assert not verdict.ok and "check itself crashed: NameError" in verdict.summary


WARNING_REPRO = """\
import torch

p = torch.nn.Parameter(torch.ones(3, device=device))
q = p * 2
q.sum().backward()
q.grad"""


def test_warning_entry(tmp_path):
    text = entry_text(repro=WARNING_REPRO).replace("kind: error", "kind: warning")
    text = text.replace("exception: RuntimeError", "exception: UserWarning").replace(
        '"grad can be implicitly created only for scalar outputs"',
        '"The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. {rest}"',
    )
    entry = make(tmp_path, text)
    assert verify(entry, "repro", "cpu").ok
    assert verify(entry, "fix", "cpu").ok
    still = make(tmp_path, text.replace("(w * 2).sum().backward()", WARNING_REPRO))
    assert "still warns" in verify(still, "fix", "cpu").summary


def test_timeout_stops_a_runaway_block(tmp_path):
    text = entry_text(repro="while True:\n    pass").replace(
        'torch: ">=1.0"', 'torch: ">=1.0"\ntimeout: 0.5'
    )
    verdict = verify(make(tmp_path, text), "repro", "cpu")
    assert not verdict.ok and "timed out after 0.5 s" in verdict.summary


def test_skips_say_why(tmp_path):
    import torch

    entry = make(tmp_path, entry_text().replace("devices: [cpu, cuda]", "devices: [cuda]"))
    with pytest.raises(Skip, match="applies to cuda only"):
        verify(entry, "repro", "cpu")
    old = make(tmp_path, entry_text().replace('torch: ">=1.0"', 'torch: "<1.0"'))
    with pytest.raises(Skip, match="applies to torch <1.0"):
        verify(old, "fix", "cpu")
    fixed = make(
        tmp_path, entry_text().replace('torch: ">=1.0"', 'torch: ">=1.0"\nfixed_in: "1.5"')
    )
    with pytest.raises(Skip, match="fixed in torch 1.5"):
        verify(fixed, "repro", "cpu")
    assert verify(fixed, "fix", "cpu").ok
    if not torch.cuda.is_available():
        with pytest.raises(Skip, match="no CUDA device available"):
            verify(make(tmp_path, entry_text()), "repro", "cuda")


def test_entries_needing_another_installation_skip_with_the_condition(tmp_path):
    import torch

    cpu_build = torch.version.cuda is None and not getattr(torch.version, "hip", None)
    wrong, right = ("cuda-build", "cpu-build") if cpu_build else ("cpu-build", "cuda-build")
    needs = 'torch: ">=1.0"\nneeds: [{}]'
    elsewhere = make(tmp_path, entry_text().replace('torch: ">=1.0"', needs.format(wrong)))
    with pytest.raises(Skip, match=f"needs a {wrong[:3].upper()}"):
        verify(elsewhere, "repro", "cpu")
    here = make(tmp_path, entry_text().replace('torch: ">=1.0"', needs.format(right)))
    assert verify(here, "repro", "cpu").ok


def test_blocks_cannot_leak_global_state(tmp_path):
    import torch

    tf32 = (torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision())
    repro = (
        "import torch\n\ntorch.set_grad_enabled(False)\ntorch.set_default_dtype(torch.float64)\n"
        "torch.use_deterministic_algorithms(True, warn_only=True)\n"
        "torch.backends.cudnn.allow_tf32 = not torch.backends.cudnn.allow_tf32\n"
        "torch.set_float32_matmul_precision('medium')\n" + REPRO
    )
    verify(make(tmp_path, entry_text(repro=repro)), "repro", "cpu")
    assert (torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision()) == tf32
    assert torch.is_grad_enabled()
    assert torch.get_default_dtype() == torch.float32
    assert not torch.are_deterministic_algorithms_enabled()
    assert not torch.is_deterministic_algorithms_warn_only_enabled()


def test_an_entry_needing_modules_not_installed_is_skipped_with_their_names(tmp_path):
    from kb.verify import skip_reason

    text = entry_text().replace(
        "devices: [cpu", "requires: [kb_no_such_a, kb_no_such_b]\ndevices: [cpu"
    )
    entry = make(tmp_path, text)
    reason = skip_reason(entry, "repro", "cpu")
    assert reason == (
        "vector-backward needs kb_no_such_a and kb_no_such_b, which are not installed"
    )
    (tmp_path / "one").mkdir()
    one = make(tmp_path / "one", text.replace("kb_no_such_a, kb_no_such_b", "kb_no_such_a"))
    assert skip_reason(one, "repro", "cpu").endswith("needs kb_no_such_a, which is not installed")
