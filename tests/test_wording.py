"""Older wordings carry the torch releases they apply to; the harness holds them to it."""

from pathlib import Path

import pytest
import torch
from packaging.version import Version

from kb.entries import load_entry
from kb.lint import lint_paths
from kb.verify import verify
from kb.wording import applies, older_items
from tests.conftest import entry_text

REAL = '  - "grad can be implicitly created only for scalar outputs"'
NEWER = '  - "grad can only be created implicitly for scalar outputs"'
RUNNING = Version(torch.__version__.split("+")[0])


def with_older(tmp_path: Path, older: str) -> Path:
    """The sample entry with its real message moved to older_errors as `older`."""
    text = entry_text().replace(REAL, NEWER + "\nolder_errors:\n" + older, 1)
    path = tmp_path / "vector-backward.md"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("older", "ok"),
    [
        ('  - "grad can be implicitly created only for scalar outputs"', True),
        (
            f'  - text: "grad can be implicitly created only for scalar outputs"\n'
            f'    torch: ">={RUNNING}"',
            True,
        ),
        (
            f'  - text: "grad can be implicitly created only for scalar outputs"\n'
            f'    torch: "<{RUNNING}"',
            False,
        ),
    ],
)
def test_an_older_wording_proves_only_on_the_releases_it_applies_to(tmp_path, older, ok):
    entry = load_entry(with_older(tmp_path, older))
    verdict = verify(entry, "repro", "cpu")
    assert verdict.ok is ok
    if not ok:
        lines = [line.strip() for line in verdict.report().splitlines()]
        assert "raised RuntimeError: grad can be implicitly created" in lines[0]
        # What the report expects is what this release accepts: not the out-of-range wording.
        assert "grad can only be created implicitly for scalar outputs" in lines
        assert "grad can be implicitly created only for scalar outputs" not in lines


def test_ranged_wordings_are_searched_like_plain_ones(tmp_path):
    older = '  - text: "grad can be implicitly created only for scalar outputs"\n    torch: "<1.5"'
    entry = load_entry(with_older(tmp_path, older))
    assert entry.older_errors == ("grad can be implicitly created only for scalar outputs",)
    assert entry.older_ranges == ("<1.5",)


@pytest.mark.parametrize(
    ("older", "code"),
    [
        ('  - text: "grad can be implicitly"\n    torch: "old ones"', "KB009"),
        ('  - text: "grad can be implicitly"\n    since: "1.0"', "KB003"),
        ('  - torch: "<2.0"', "KB003"),
        ('  - text: "grad can be implicitly"\n    exception: 12', "KB003"),
        ("  - 12", "KB003"),
    ],
)
def test_lint_names_a_malformed_older_wording(tmp_path, older, code):
    problems = [f"{p.code}" for p in lint_paths([with_older(tmp_path, older)])]
    assert code in problems


def test_ranges():
    assert applies("", "1.0.0") and applies("<2.2", "2.1.2+cu121")
    assert not applies("<2.2", "2.2.0") and applies(">=2.2,<2.6", "2.4.1")
    assert older_items(["a", {"text": "b", "torch": "<2"}, {"text": ""}]) == [
        ("a", ""),
        ("b", "<2"),
    ]


def _script():
    import importlib.util
    import sys

    path = Path(__file__).resolve().parent.parent / "scripts" / "wording_ranges.py"
    spec = importlib.util.spec_from_file_location("wording_ranges", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["wording_ranges"] = module
    spec.loader.exec_module(module)
    return module


def test_a_range_is_measured_up_to_the_first_release_that_printed_otherwise():
    wr = _script()
    measured = ["1.13.1", "2.0.1", "2.2.2", "2.10.0", "2.15.0"]
    assert wr.measured_range(["1.13.1", "2.0.1"], measured) == "<2.2"
    assert wr.measured_range([], measured) == "<1.13"  # printed by no measured release
    assert wr.measured_range(measured, measured) == ""  # still printed: no bound
    assert wr.measured_range(["1.13.1", "2.10.0"], measured) is None  # came back: say nothing
    assert wr.measured_range(["2.0.1", "2.2.2"], measured) == ">=2.0,<2.10"
    assert wr.measured_range([], []) is None


def test_write_turns_plain_wordings_into_ranged_ones_and_keeps_the_rest(tmp_path):
    wr = _script()
    path = with_older(
        tmp_path,
        '  - "grad can be implicitly created only for scalar outputs"\n'
        "  - 'another old one: {x}'",
    )
    before = path.read_text(encoding="utf-8")
    ranges = {"grad can be implicitly created only for scalar outputs": "<2.2"}
    assert wr.write_ranges(path, {**ranges, "another old one: {x}": ""}) == 1
    after = path.read_text(encoding="utf-8")
    assert after == before.replace(
        '  - "grad can be implicitly created only for scalar outputs"\n',
        '  - text: "grad can be implicitly created only for scalar outputs"\n    torch: "<2.2"\n',
    )
    entry = load_entry(path)
    assert entry.older_ranges == ("<2.2", "")
    assert lint_paths([path]) == []


def test_show_reports_each_older_wordings_releases(tmp_path, monkeypatch):
    from kb.render import entry_markdown
    from kb.search import get_entry

    older = '  - text: "grad can be implicitly created only for scalar outputs"\n    torch: "<1.5"'
    folder = tmp_path / "entries"
    folder.mkdir()
    with_older(folder, older)
    monkeypatch.setenv("KB_BUNDLED", "0")
    monkeypatch.setenv("KB_ENTRIES", str(folder))
    monkeypatch.setenv("KB_DB", str(tmp_path / "index.db"))
    entry, _ = get_entry("vector-backward")
    assert entry["older_errors"] == ["grad can be implicitly created only for scalar outputs"]
    assert entry["older_ranges"] == ["<1.5"]
    assert "scalar outputs    (torch <1.5)" in entry_markdown(entry)


@pytest.mark.parametrize(
    ("older", "ok"),
    [
        # The release that printed the older wording raised it as another class.
        (
            f'  - text: "grad can be implicitly created only for scalar outputs"\n'
            f'    torch: ">={RUNNING}"\n    exception: RuntimeError',
            True,
        ),
        # Without the class, the older wording is held to the entry's ValueError.
        (
            f'  - text: "grad can be implicitly created only for scalar outputs"\n'
            f'    torch: ">={RUNNING}"',
            False,
        ),
        (
            f'  - text: "grad can be implicitly created only for scalar outputs"\n'
            f'    torch: "<{RUNNING}"\n    exception: RuntimeError',
            False,
        ),
    ],
)
def test_an_older_wording_may_name_the_class_its_releases_raised(tmp_path, older, ok):
    path = with_older(tmp_path, older)
    path.write_text(path.read_text().replace("exception: RuntimeError", "exception: ValueError", 1))
    entry = load_entry(path)
    assert entry.exception == "ValueError"
    verdict = verify(entry, "repro", "cpu")
    assert verdict.ok is ok, verdict.report()
    assert not lint_paths([path])
