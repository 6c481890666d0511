"""Team and private catalogues: folders that add to the bundled catalogue, searched,
shown, linted, scaffolded and proven beside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb import paths
from kb.cli import main
from tests.conftest import entry_text

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "entries"
# A real bundled entry a team overrides in these tests.
OVERRIDDEN = "all-parameters-frozen"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def team(tmp_path, monkeypatch) -> Path:
    """A team's entries folder added to the bundled catalogue through KB_ENTRIES."""
    folder = tmp_path / "team" / "entries"
    folder.mkdir(parents=True)
    (folder / "team-backward.md").write_text(entry_text("team-backward"), encoding="utf-8")
    monkeypatch.setenv("KB_ENTRIES", str(folder))
    monkeypatch.setenv("KB_DB", str(tmp_path / "index.db"))
    monkeypatch.chdir(tmp_path)
    return folder


def test_team_entries_add_to_the_bundled_catalogue(team, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # the folder's name on one line
    code, out, _ = run(capsys, "list", "--json")
    ids = {row["id"] for row in json.loads(out)}
    assert code == 0 and "team-backward" in ids and OVERRIDDEN in ids
    assert len(ids) == len(paths.entry_files(BUNDLED)) + 1
    code, out, _ = run(capsys, "search", "--json", "grad can be implicitly created only")
    assert "team-backward" in [hit["id"] for hit in json.loads(out)]
    code, out, _ = run(capsys, "show", "team-backward")
    assert code == 0 and f"from {team}" in out


def test_a_team_entry_overrides_a_bundled_one_and_says_so(team, capsys, monkeypatch):
    monkeypatch.setattr("kb.index.RECHECK_SECONDS", 0)
    monkeypatch.setenv("COLUMNS", "300")
    mine = team / f"{OVERRIDDEN}.md"
    mine.write_text(entry_text(OVERRIDDEN).replace("on a non-scalar", "our way"), "utf-8")
    code, out, _ = run(capsys, "show", "--json", OVERRIDDEN)
    entry = json.loads(out)
    assert "our way" in entry["title"]
    assert entry["folder"] == str(team)
    assert entry["overrides"] == str(BUNDLED.resolve() / f"{OVERRIDDEN}.md")
    code, out, _ = run(capsys, "list", "--json")
    assert [r["id"] for r in json.loads(out)].count(OVERRIDDEN) == 1
    code, out, _ = run(capsys, "show", OVERRIDDEN)
    assert "(overrides " in out
    code, _, err = run(capsys, "lint")
    assert code == 0 and "KB017" not in err
    # The team's copy gone, kb's own entry is back.
    mine.unlink()
    code, out, _ = run(capsys, "show", "--json", OVERRIDDEN)
    entry = json.loads(out)
    assert entry["folder"] == str(BUNDLED.resolve()) and entry["overrides"] is None


def test_one_id_twice_in_one_team_folder_is_a_lint_problem(team, capsys):
    (team / "copy.md").write_text(entry_text("team-backward"), encoding="utf-8")
    code, out, _ = run(capsys, "lint", str(team))
    assert code == 1 and "KB017 id 'team-backward' is also used by" in out


def test_tool_kb_in_pyproject_is_found_from_a_subfolder(tmp_path, monkeypatch, capsys):
    project = tmp_path / "project"
    (project / "src" / "deep").mkdir(parents=True)
    (project / "kb-entries").mkdir()
    (project / "kb-entries" / "team-backward.md").write_text(
        entry_text("team-backward"), encoding="utf-8"
    )
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.kb]\nentries = ["kb-entries"]\nbundled = false\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(project / "src" / "deep")
    monkeypatch.setenv("KB_DB", str(tmp_path / "index.db"))
    assert paths.catalogue_dirs() == [str((project / "kb-entries").resolve())]
    code, out, _ = run(capsys, "list", "--json")
    assert [r["id"] for r in json.loads(out)] == ["team-backward"]
    # KB_ENTRIES comes first, then the project's folders, then (here left out) kb's.
    monkeypatch.setenv("KB_ENTRIES", str(tmp_path))
    assert paths.catalogue_dirs() == [str(tmp_path.resolve()), str(project / "kb-entries")]


def test_a_broken_tool_kb_table_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text("[tool.kb]\nentries = 3\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "search", "anything")
    assert code == 1
    assert err == (
        f"kb: {tmp_path / 'pyproject.toml'}: [tool.kb] entries must be a folder or a list "
        "of folders\n"
    )


def test_new_writes_into_the_team_folder(team, capsys):
    code, out, err = run(capsys, "new", "our-first-entry")
    assert code == 0 and out.strip() == str(team / "our-first-entry.md")
    assert err == ""


def test_new_to_a_folder_kb_does_not_search_says_how_to_add_it(team, tmp_path, capsys):
    code, out, err = run(capsys, "new", "elsewhere-entry", "--to", str(tmp_path / "notes"))
    assert code == 0 and (tmp_path / "notes" / "elsewhere-entry.md").is_file()
    assert "is not a catalogue folder yet; add it to KB_ENTRIES" in err


def test_new_never_writes_into_the_installed_copy(tmp_path, monkeypatch, capsys):
    # As from a wheel: the bundled catalogue is kb's installed copy, and no team folder.
    monkeypatch.setattr(paths, "is_installed_copy", lambda folder: True)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "new", "my-entry")
    assert code == 1
    assert err.startswith("kb: no catalogue folder to write to: pass --to DIR")
    code, _, err = run(capsys, "new", "my-entry", "--to", str(BUNDLED))
    assert code == 1 and "installed copy" in err
    assert not (BUNDLED / "my-entry.md").exists()


def test_catalogue_write_indexes_the_team_folder(team, capsys):
    code, out, _ = run(capsys, "catalogue", "--write")
    assert code == 0 and out.startswith(f"wrote {team / 'README.md'} (1 entries)")
    text = (team / "README.md").read_text(encoding="utf-8")
    assert "[team-backward](team-backward.md)" in text
    assert OVERRIDDEN not in text
    assert run(capsys, "catalogue", "--check")[0] == 0


def test_pytest_proves_team_entries_named_in_pyproject(pytester):
    pytester.makepyprojecttoml('[tool.kb]\nentries = ["team/entries"]\n')
    folder = pytester.mkdir("team").joinpath("entries")
    folder.mkdir()
    (folder / "team-backward.md").write_text(entry_text("team-backward"), encoding="utf-8")
    # One file of the folder, as `pytest entries/x.md` runs one of kb's (one subprocess:
    # each imports torch).
    result = pytester.runpytest_subprocess("team/entries/team-backward.md", "--kb-no-record")
    result.assert_outcomes(passed=2, skipped=2)


def test_kb_verify_uses_its_own_settings_whatever_lies_above(tmp_path):
    # A project whose pytest settings would turn verification into something else.
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\naddopts = --co --no-such-option\n", encoding="utf-8"
    )
    (tmp_path / "conftest.py").write_text("raise SystemExit('not ours to run')\n", "utf-8")
    team = tmp_path / "team"
    team.mkdir()
    (team / "team-backward.md").write_text(entry_text("team-backward"), encoding="utf-8")
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        KB_ENTRIES=str(team),
        KB_BUNDLED="0",
        KB_DB=str(tmp_path / "index.db"),
        KB_RECORD=str(tmp_path / "verified.json"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "kb", "verify", "--device", "cpu"],
        cwd=team,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    record = json.loads((tmp_path / "verified.json").read_text(encoding="utf-8"))
    assert record["entries"]["team-backward"]["cpu"]["outcome"] == "passed"


def test_only_a_tool_kb_table_counts(tmp_path, monkeypatch):
    # Mentioned in a comment or a string, the table is not there.
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"  # see [tool.kb] in the docs\ndescription = "[tool.kb]"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    assert paths.project_config() == {}
    assert paths.catalogue_dirs() == [str(BUNDLED.resolve())]
