"""Verification records: what counts as proof of an entry as it is now, and how it is shown."""

import json

from kb.proof import proof_digest, verification, verification_lines
from tests.conftest import entry_text


def digest_after(tmp_path, old: str, new: str) -> str | None:
    path = tmp_path / "vector-backward.md"
    text = entry_text()
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return proof_digest(path)


def test_digest_ignores_prose_and_other_keys_but_not_what_the_proof_runs(tmp_path):
    base = digest_after(tmp_path, "", "")
    assert base is not None
    # Prose, titles, tags and new front-matter keys leave the proof as it was.
    assert digest_after(tmp_path, "The output is a vector.", "The output has 3 items.") == base
    assert digest_after(tmp_path, "tags: [autograd]", "tags: [autograd]\nlinks: []") == base
    assert digest_after(tmp_path, "tags: [autograd]", "tags: [autograd, backward]") == base
    # The message, the torch range, the devices and the code change it.
    assert digest_after(tmp_path, 'for scalar outputs"\ntags', 'for scalars"\ntags') != base
    assert digest_after(tmp_path, 'torch: ">=1.0"', 'torch: ">=2.0"') != base
    assert digest_after(tmp_path, "devices: [cpu, cuda]", "devices: [cpu]") != base
    assert digest_after(tmp_path, "(w * 2).backward()", "(w * 3).backward()") != base
    assert digest_after(tmp_path, 'torch: ">=1.0"', 'torch: ">=1.0"\nneeds: [no-cuda]') != base
    # Any runnable block counts, whatever its role.
    extra = "## Fix\n\n```python bandaid\nprint(1)\n```\n\n"
    assert digest_after(tmp_path, "## Fix\n", extra + "More:\n") != base


def matrix(digest: str, outcome: str = "passed", detail: str = "") -> dict:
    phase = {"outcome": outcome, "detail": detail} if detail else {"outcome": outcome}
    skip = {"outcome": "skipped", "detail": "e no CUDA device available (torch 2.0.1+cu117, ...)"}
    return {
        "environments": {
            "torch2.0.1-py3.11": {"torch": "2.0.1+cu117", "python": "3.11.7", "build": "cuda 11.7"}
        },
        "entries": {
            "e": {
                "torch2.0.1-py3.11": {
                    "digest": digest,
                    "cpu": {"repro": phase, "fix": {"outcome": "passed"}},
                    "cuda": {"repro": skip, "fix": skip},
                }
            }
        },
    }


def test_current_results_prove_and_changed_entries_are_stale():
    proven = verification("e", "d1", matrix("d1"), {})
    assert proven["status"] == "proven"
    assert [(r["torch"], r["device"]) for r in proven["proven"]] == [("2.0.1+cu117", "cpu")]
    assert proven["skipped"][0]["why"].startswith("e no CUDA device available")
    lines = verification_lines(proven, "e")
    assert lines[0] == "proven on cpu: torch 2.0.1 (cuda build); Python 3.11"
    assert (
        lines[1]
        == "skipped on cuda, torch 2.0.1 (cuda build); Python 3.11: no CUDA device available"
    )

    stale = verification("e", "d2", matrix("d1"), {})
    assert stale["status"] == "stale" and not stale["proven"] and len(stale["stale"]) == 2
    assert verification_lines(stale, "e")[0].startswith("stale: 2 results for an earlier version")

    failed = verification("e", "d1", matrix("d1", "failed", "raised ValueError: x"), {})
    assert failed["status"] == "failed"
    assert failed["failed"][0]["phase"] == "repro" and "ValueError" in failed["failed"][0]["why"]
    assert verification_lines(failed, "e")[0].startswith("FAILED on cpu: torch 2.0.1+cu117")

    assert verification("e", "d1", {}, {})["status"] == "unverified"


def test_local_record_counts_only_for_the_same_proof():
    local = {
        "e": {
            "cpu": {
                "phases": {"repro": "passed", "fix": "passed"},
                "torch": "2.13.0+cpu",
                "python": "3.11.7",
                "build": "cpu",
                "date": "2026-12-01",
                "digest": "d1",
            }
        }
    }
    assert verification("e", "d1", {}, local)["proven"][0]["source"] == "local"
    assert verification("e", "d2", {}, local)["status"] == "stale"


def test_kb_show_reports_the_matrix_record(catalogue, tmp_path, monkeypatch, capsys):
    from kb.cli import main

    record = tmp_path / "matrix.json"
    digest = proof_digest(catalogue / "vector-backward.md")
    data = matrix(digest)
    data["entries"]["vector-backward"] = data["entries"].pop("e")
    record.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setenv("KB_MATRIX_RECORD", str(record))
    assert main(["show", "--json", "vector-backward"]) == 0
    verified = json.loads(capsys.readouterr().out)["verified"]
    assert verified["status"] == "proven" and verified["proven"][0]["torch"] == "2.0.1+cu117"
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "proven 1/1" in out and "proven on cpu, torch 2.0.1+cu117 (cuda 11.7 build)" in out
    # Editing what the proof runs makes the record stale, never proven.
    path = catalogue / "vector-backward.md"
    path.write_text(path.read_text().replace("(w * 2)", "(w * 3)"), encoding="utf-8")
    assert main(["show", "vector-backward"]) == 0
    assert "stale: 2 results for an earlier version" in capsys.readouterr().out
