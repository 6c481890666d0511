"""Entries as the proof of kb doctor rules: `doctor: [KBDnnn]` in front matter makes
`pytest entries/` check that the rule flags the repro and spares the fix."""

from tests.conftest import entry_text

FLAGGED = "import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.eval\nmodel(torch.ones(2, 2))"
CLEAN = "import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.eval()\nmodel(torch.ones(2, 2))"


def _with_rule(text: str, code: str = "KBD019") -> str:
    return text.replace("tags:", f"doctor: [{code}]\ntags:", 1)


def test_doctor_items_pass_and_fail_with_file_and_line(pytester):
    pytester.makeini("[pytest]\nkb_entries = entries\n")
    base = pytester.mkdir("entries")
    proves = _with_rule(entry_text("proves-it", repro=FLAGGED, fix=CLEAN))
    misses = _with_rule(entry_text("misses-it", repro=CLEAN, fix=FLAGGED))
    (base / "proves-it.md").write_text(proves, encoding="utf-8")
    (base / "misses-it.md").write_text(misses, encoding="utf-8")
    result = pytester.runpytest_subprocess("entries", "-k", "doctor", "--kb-no-record")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*misses-it.md:33: KBD019 does not flag the repro block*",
            "*misses-it.md:44: KBD019 flags the fix block (line 3, col 1)*not called*",
        ]
    )


def test_lint_accepts_the_key_and_refuses_unknown_rules(catalogue, capsys):
    from kb.cli import main

    (catalogue / "good-one.md").write_text(
        _with_rule(entry_text("good-one", repro=FLAGGED, fix=CLEAN)), encoding="utf-8"
    )
    (catalogue / "bad-one.md").write_text(
        _with_rule(entry_text("bad-one"), "KBD999"), encoding="utf-8"
    )
    assert main(["lint", str(catalogue / "good-one.md")]) == 0
    assert main(["lint", str(catalogue / "bad-one.md")]) == 1
    assert "KB003 doctor names unknown rule(s) KBD999" in capsys.readouterr().out
