"""The pytest plugin, run as a user would run it (pytester)."""

from tests.conftest import FIX, entry_text


def write_catalogue(pytester, folder="entries", **entries):
    base = pytester.mkdir(folder)
    for name, text in entries.items():
        (base / f"{name}.md").write_text(text, encoding="utf-8")
    return base


def test_collects_entries_per_phase_and_device(pytester):
    pytester.makeini("[pytest]\nkb_entries = entries\n")
    write_catalogue(pytester, **{"vector-backward": entry_text()})
    result = pytester.runpytest_subprocess("entries", "-ra", "--kb-no-record")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*SKIPPED*entries/vector-backward.md*no CUDA device available*"])


def test_device_option_restricts(pytester):
    pytester.makeini("[pytest]\nkb_entries = entries\n")
    write_catalogue(pytester, **{"vector-backward": entry_text()})
    result = pytester.runpytest_subprocess("entries", "--device", "cpu", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["*vector-backward.md::repro?cpu?", "*vector-backward.md::fix?cpu?"]
    )
    assert "cuda" not in result.stdout.str()


def test_other_markdown_is_never_collected(pytester):
    # A user's project with kb installed: no kb_entries setting, Markdown everywhere.
    pytester.makefile(".md", notes="# notes\n", **{"vector-backward": entry_text()})
    result = pytester.runpytest_subprocess("--collect-only", "-q")
    assert ".md" not in result.stdout.str()


def test_failure_report_is_actionable(pytester):
    pytester.makeini("[pytest]\nkb_entries = entries\n")
    write_catalogue(pytester, **{"vector-backward": entry_text(repro=FIX)})
    result = pytester.runpytest_subprocess("entries", "--device", "cpu", "--kb-no-record")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*vector-backward.md:32: repro on cpu: ran without raising; expected RuntimeError*",
            "*grad can be implicitly created only for scalar outputs",
        ]
    )


def test_malformed_entry_fails_with_file_and_line(pytester):
    pytester.makeini("[pytest]\nkb_entries = entries\n")
    bad = entry_text().replace("kind: error", "kind: oops")
    write_catalogue(pytester, **{"vector-backward": bad})
    result = pytester.runpytest_subprocess("entries", "--kb-no-record")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*vector-backward.md:4: KB005 kind 'oops'*"])


def test_record_is_written_for_kb_show(pytester, tmp_path, monkeypatch):
    import json

    record = tmp_path / "record.json"
    monkeypatch.setenv("KB_RECORD", str(record))
    pytester.makeini("[pytest]\nkb_entries = entries\n")
    write_catalogue(pytester, **{"vector-backward": entry_text()})
    pytester.runpytest_subprocess("entries", "--device", "cpu").assert_outcomes(passed=2)
    data = json.loads(record.read_text())
    cpu = data["entries"]["vector-backward"]["cpu"]
    assert cpu["outcome"] == "passed" and cpu["phases"] == {"repro": "passed", "fix": "passed"}
    assert cpu["torch"] and cpu["date"] and len(cpu["digest"]) == 16
