"""The entry format: every rule reports `path:line: KBnnn`, and a valid entry is clean."""

from pathlib import Path

import pytest

from kb.lint import RULES, lint_paths
from tests.conftest import entry_text


def lint_text(tmp_path: Path, text: str, name: str = "vector-backward.md") -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return [f"{p.line}:{p.code}" for p in lint_paths([path])]


def test_valid_entry_is_clean(tmp_path):
    assert lint_text(tmp_path, entry_text()) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("---\nid:", "id:", "1:KB001"),
        ("kind: error", "kind: [unclosed", "4:KB002"),
        ("id: vector-backward", "id: Vector_Backward", "2:KB004"),
        ("id: vector-backward", "id: other-name", "2:KB004"),
        ("kind: error", "kind: crash", "4:KB005"),
        ("exception: RuntimeError\n", "", "4:KB007"),
        ("devices: [cpu, cuda]", "devices: [tpu]", "10:KB008"),
        ('torch: ">=1.0"', 'torch: "newest"', "11:KB009"),
        ('title: "对非标量调用 backward"', 'title: "no chinese"', "12:KB010"),
        ("## Cause", "## Reason", "1:KB011"),
        ("tags: [autograd]", "tags: [Auto Grad]", "9:KB021"),
        ('  - "grad can', '  - "{grad can', "7:KB020"),
        ("tags: [autograd]", "tags: [autograd]\nflavour: sweet", "10:KB018"),
        ("```python repro", "```python", "1:KB014"),
        ("(w * 2).backward()", "(w * 2).backward(", "35:KB015"),
        ("Autograd needs a starting gradient; it only makes one up for scalars.", "", "25:KB019"),
        ("tags: [autograd]", "tags: [autograd]\nsee_also: [no-such-entry]", "10:KB016"),
        ("tags: [autograd]", "tags: [autograd]\nlinks: [not a url]", "10:KB022"),
        ("tags: [autograd]", "tags: [autograd]\nneeds: [a-big-gpu]", "10:KB003"),
        ("## Symptom", "# Big title\n\n## Symptom", "17:KB013"),
    ],
)
def test_each_rule_names_the_line(tmp_path, old, new, expected):
    text = entry_text()
    assert old in text
    assert expected in lint_text(tmp_path, text.replace(old, new, 1))


def test_sections_out_of_order(tmp_path):
    text = entry_text()
    cause = "## Cause\n\nThe output is a vector.\n\n"
    text = text.replace(cause, "").replace("## Repro", cause + "## Repro")
    assert any(p.endswith("KB012") for p in lint_text(tmp_path, text))


def test_duplicate_ids_across_files(tmp_path):
    (tmp_path / "a").mkdir()
    first = tmp_path / "vector-backward.md"
    first.write_text(entry_text(), encoding="utf-8")
    second = tmp_path / "a" / "vector-backward.md"
    second.write_text(entry_text(), encoding="utf-8")
    assert any(p.code == "KB017" for p in lint_paths([first, second]))


def test_not_utf8_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "bad.md"
    path.write_bytes(b"---\nid: \xff\xfe\n---\n")
    problems = lint_paths([path])
    assert [p.code for p in problems] == ["KB002"]


def test_every_rule_has_a_description():
    assert all(code.startswith("KB") and text for code, text in RULES.items())
