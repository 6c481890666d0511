"""Band-aids (`## Why not just`): the format, the harness's proof that the check rejects
each one, and how readers see them."""

import json
from pathlib import Path

from kb.cli import main
from kb.entries import load_entry
from kb.lint import lint_paths
from kb.verify import verify, verify_bandaid
from tests.conftest import entry_text

# The tempting wrong fix: `.mean()` also makes the output a scalar, but scales the gradient.
MEAN = """\
import torch

w = torch.ones(3, device=device, requires_grad=True)
(w * 2).mean().backward()"""

# Not a band-aid at all: the same gradient as the fix, so a good check
# lets it through.
ONES = """\
import torch

w = torch.ones(3, device=device, requires_grad=True)
(w * 2).backward(torch.ones_like(w))"""

CHECK = """\
import torch

assert torch.equal(w.grad, torch.full_like(w, 2.0)), (
    f"w.grad is {w.grad.tolist()}, not 2s"
)
"""


def with_bandaids(*blocks: str, check: str = CHECK, label: str = "**`.mean()`?** Wrong.") -> str:
    section = "\n## Why not just\n"
    for block in blocks:
        section += f"\n{label}\n\n```python bandaid\n{block}\n```\n"
    if check:
        section += f"\n## Check\n\n```python check\n{check}```\n"
    return entry_text() + section


def make(tmp_path: Path, text: str) -> object:
    path = tmp_path / "vector-backward.md"
    path.write_text(text, encoding="utf-8")
    return load_entry(path)


def lint_codes(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "vector-backward.md"
    path.write_text(text, encoding="utf-8")
    return [f"{p.line}:{p.code}" for p in lint_paths([path])]


def test_bandaids_are_parsed_with_label_and_line(tmp_path):
    entry = make(tmp_path, with_bandaids(MEAN, ONES))
    assert [b.label for b in entry.bandaids] == ["**`.mean()`?** Wrong."] * 2
    lines = [b.block.line for b in entry.bandaids]
    text_lines = (tmp_path / "vector-backward.md").read_text().splitlines()
    assert [text_lines[n - 2] for n in lines] == ["```python bandaid"] * 2
    assert entry.bandaids[0].block.code.rstrip().endswith(".mean().backward()")


def test_check_that_rejects_the_bandaid_passes(tmp_path):
    entry = make(tmp_path, with_bandaids(MEAN))
    assert verify(entry, "fix", "cpu").ok
    verdict = verify_bandaid(entry, 1, "cpu")
    assert verdict.ok, verdict.report()
    assert "w.grad is [0.666" in " ".join(verdict.details)


def test_bandaid_the_check_lets_through_fails_naming_its_line(tmp_path):
    entry = make(tmp_path, with_bandaids(MEAN, ONES))
    line = entry.bandaids[1].block.line
    verdict = verify_bandaid(entry, 2, "cpu")
    assert not verdict.ok
    report = verdict.report()
    assert f"vector-backward.md:{line}: bandaid2 on cpu: the health check passes" in report
    assert "band-aid: **`.mean()`?** Wrong." in report


def test_default_gradient_check_cannot_tell_a_bandaid_from_the_fix(tmp_path):
    # Without a check block, any non-zero gradient passes: the harness says so.
    entry = make(tmp_path, with_bandaids(MEAN, check=""))
    assert not verify_bandaid(entry, 1, "cpu").ok


def test_bandaid_that_raises_or_crashes_the_check_is_not_a_rejection(tmp_path):
    still_raises = make(
        tmp_path,
        with_bandaids("import torch\n\n(torch.ones(2, requires_grad=True) * 2).backward()"),
    )
    verdict = verify_bandaid(still_raises, 1, "cpu")
    assert not verdict.ok and "a band-aid runs" in verdict.summary
    crashes = make(tmp_path, with_bandaids("import torch\n\nv = torch.ones(1)"))
    verdict = verify_bandaid(crashes, 1, "cpu")
    assert not verdict.ok and "the check crashed on the band-aid: NameError" in verdict.summary


def test_lint_places_and_labels_bandaids(tmp_path):
    assert lint_codes(tmp_path, with_bandaids(MEAN)) == []
    text = with_bandaids(MEAN)
    no_label = text.replace("**`.mean()`?** Wrong.\n\n", "")
    assert any(c.endswith("KB026") for c in lint_codes(tmp_path, no_label))
    misplaced = entry_text().replace(
        "```python fix", f"```python bandaid\n{MEAN}\n```\n\n```python fix"
    )
    assert any(c.endswith("KB026") for c in lint_codes(tmp_path, misplaced))
    stray = text.replace("## Check", "A closing remark.\n\n## Check")
    assert any(c.endswith("KB027") for c in lint_codes(tmp_path, stray))
    empty = entry_text() + "\n## Why not just\n\nNothing here.\n"
    assert any(c.endswith("KB027") for c in lint_codes(tmp_path, empty))
    broken = with_bandaids("(w * 2).mean(")
    assert any(c.endswith("KB015") for c in lint_codes(tmp_path, broken))


def test_pytest_runs_a_bandaid_phase_per_block_and_device(pytester):
    pytester.makeini("[pytest]\nkb_entries = entries\n")
    folder = pytester.mkdir("entries")
    (folder / "vector-backward.md").write_text(with_bandaids(MEAN, ONES), encoding="utf-8")
    result = pytester.runpytest_subprocess("entries", "-rs", "--kb-no-record")
    result.assert_outcomes(passed=3, failed=1, skipped=4)
    result.stdout.fnmatch_lines(
        ["*vector-backward.md:*: bandaid2 on cpu: the health check passes after this band-aid*"]
    )


def test_a_probe_outside_the_torch_range_runs_the_bandaids_too(pytester):
    # --kb-any-torch measures where a failure exists: the band-aids' rejection with it.
    pytester.makeini("[pytest]\nkb_entries = entries\n")
    folder = pytester.mkdir("entries")
    text = with_bandaids(MEAN).replace('torch: ">=1.0"', 'torch: ">=99.0"', 1)
    (folder / "vector-backward.md").write_text(text, encoding="utf-8")
    probed = pytester.runpytest_subprocess("entries", "--kb-any-torch", "-k", "cpu")
    probed.assert_outcomes(passed=3)


def test_show_lists_bandaids_as_why_not_just(catalogue, capsys):
    (catalogue / "vector-backward.md").write_text(with_bandaids(MEAN), encoding="utf-8")
    assert main(["show", "--json", "vector-backward"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert entry["bandaids"] == [{"label": "**`.mean()`?** Wrong.", "code": MEAN + "\n"}]
    assert main(["show", "vector-backward"]) == 0
    out = capsys.readouterr().out
    assert "Why not just ..." in out and "(w * 2).mean().backward()" in out


def test_stats_count_bandaids(catalogue, capsys):
    (catalogue / "vector-backward.md").write_text(with_bandaids(MEAN, ONES), encoding="utf-8")
    assert main(["stats", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["with_bandaids"], figures["bandaids"]) == (1, 2)
