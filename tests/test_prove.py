"""`kb verify ID` and kb.prove: one entry's proof in a child process, outcome by outcome."""

from __future__ import annotations

import json

from conftest import FIX, REPRO, entry_text

from kb.cli import main


def test_show_prints_only_the_fix_or_the_repro(catalogue, capsys):
    assert main(["show", "--fix", "vector-backward"]) == 0
    assert capsys.readouterr().out == FIX + "\n"
    assert main(["show", "--repro", "vector-backward"]) == 0
    assert capsys.readouterr().out == REPRO + "\n"


def test_verify_ids_reports_each_phase_as_json(catalogue, capsys):
    # One entry that holds, and one whose fix kills its interpreter (as a segfault would).
    crash = "import os\nimport torch\n\nos._exit(7)"
    (catalogue / "fix-crashes.md").write_text(entry_text("fix-crashes", fix=crash), "utf-8")
    code = main(["verify", "vector-backward", "fix-crashes", "--device", "cpu", "--json"])
    report = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert code == 1
    good = report["vector-backward"]
    assert good["outcome"] == "passed" and good["torch"]
    phases = {p["phase"]: p for p in good["phases"]}
    assert phases["repro"]["status"] == "passed"
    assert "RuntimeError" in phases["repro"]["summary"]
    assert phases["fix"]["status"] == "passed"
    bad = {p["phase"]: p for p in report["fix-crashes"]["phases"]}
    assert report["fix-crashes"]["outcome"] == "failed"
    # The repro was judged before the crash; the fix is reported, not lost.
    assert bad["repro"]["status"] == "passed"
    assert bad["fix"]["status"] == "error" and "exit status 7" in bad["fix"]["summary"]


def test_verify_unknown_id_is_one_line(catalogue, capsys):
    assert main(["verify", "vector-backwrd"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kb: no entry 'vector-backwrd'; did you mean vector-backward")
    assert len(err.splitlines()) == 1


def test_verify_json_without_ids_says_what_it_needs(catalogue, capsys):
    assert main(["verify", "--json"]) == 1
    assert "kb verify ID... --json" in capsys.readouterr().err
