"""What a new user meets at the edges: narrow terminals, closed pipes and stdin, odd
files, hostile front matter, damaged records, pathological pastes, long skip lists."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from kb.cli import main
from kb.lint import lint_paths
from kb.render import render_entry
from kb.search import get_entry
from kb.textnorm import MAX_LINE_CHARS, MAX_PASTE_CHARS, MAX_PASTE_LINES, bounded
from tests.conftest import FIX, entry_text

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _render(entry: dict, width: int = 80) -> list[str]:
    buf = io.StringIO()
    render_entry(entry, Console(file=buf, width=width, soft_wrap=False, color_system=None))
    return buf.getvalue().split("\n")


def test_show_at_80_columns_never_wraps_code_into_the_margin(catalogue):
    long_line = "w = torch.ones(3, device=device, requires_grad=True)  # " + "x" * 60
    fix = FIX.replace("w = torch.ones(3, device=device, requires_grad=True)", long_line)
    (catalogue / "vector-backward.md").write_text(entry_text(fix=fix), encoding="utf-8")
    entry, _ = get_entry("vector-backward")
    lines = _render(entry)
    assert all(len(line) <= 80 for line in lines)
    cut = [line for line in lines if line.startswith(" w = torch.ones(3") and "#" in line]
    assert len(cut) == 1 and cut[0].rstrip().endswith("…")
    assert not any(line.lstrip().startswith("xxxx") for line in lines)  # no wrapped tail


def test_every_entry_shows_its_code_whole_at_80_columns():
    # kb lint keeps code within 79 columns (KB031): at 80, each line shows as written.
    entry, _ = get_entry("batchnorm-batch-size-one")
    lines = _render(entry)
    for code_line in entry["repro"].rstrip().split("\n"):
        if code_line.strip():
            assert any(line.rstrip() == f" {code_line}".rstrip() for line in lines), code_line


def test_show_into_a_closed_pipe_exits_0(catalogue):
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb", "show", "vector-backward"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    proc.stdout.close()  # `| head` that has read enough before kb writes
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (0, b"")


def test_closed_stdin_is_one_line(catalogue):
    done = subprocess.run(
        [sys.executable, "-m", "kb", "search", "-"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        preexec_fn=lambda: os.close(0),
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (1, "kb: stdin is closed: there is no paste to read\n")


def test_a_folder_or_broken_link_named_md_is_one_line(catalogue, capsys):
    (catalogue / "folder.md").mkdir()
    (catalogue / "dangling.md").symlink_to(catalogue / "nowhere.md")
    code, out, err = run(capsys, "lint")
    assert code == 1 and "internal error" not in err
    assert f"{catalogue / 'dangling.md'}:1: KB001 cannot read: No such file or directory" in out
    assert f"{catalogue / 'folder.md'}:1: KB001 cannot read: Is a directory" in out
    code, _, err = run(capsys, "lint", str(catalogue / "folder.md"))
    assert (code, err) == (1, f"kb: {catalogue / 'folder.md'}: a folder, not an entry file\n")
    code, out, err = run(capsys, "search", "implicitly created only for scalar outputs")
    assert code == 0 and out.startswith("vector-backward")
    assert err == (
        f"kb: entry skipped: {catalogue / 'folder.md'}:1: KB001 cannot read: Is a directory\n"
    )


def test_a_malformed_verification_record_is_a_warning(catalogue, capsys, tmp_path, monkeypatch):
    record = tmp_path / "verified.json"
    monkeypatch.setenv("KB_RECORD", str(record))
    for text in ('{"entries": []}', '{"entries": {"vector-backward": "passed"}}', "{oops"):
        record.write_text(text, encoding="utf-8")
        code, out, err = run(capsys, "show", "--json", "vector-backward")
        verified = json.loads(out)["verified"]
        assert code == 0 and verified["status"] == "unverified" and not verified["proven"]
        assert err.startswith("kb: warning: ") and err.count("\n") == 1
        assert str(record) in err
        assert run(capsys, "list")[0] == 0


def test_nested_yaml_aliases_are_refused_at_once(tmp_path):
    # "Billion laughs": each level repeats the last nine times; loading would expand it.
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, 12):
        refs = ", ".join([f"*a{n - 1}"] * 9)
        levels.append(f"a{n}: &a{n} [{refs}]")
    text = entry_text().replace("---\nid:", "---\n" + "\n".join(levels) + "\nid:", 1)
    path = tmp_path / "vector-backward.md"
    path.write_text(text, encoding="utf-8")
    [problem] = lint_paths([path])
    assert problem.code == "KB002" and "anchor or alias" in problem.message
    assert problem.line == 2


def test_control_characters_in_an_entry_are_linted(tmp_path):
    text = entry_text().replace("The output is a vector.", "The output is \x1b[31ma vector\x07.")
    path = tmp_path / "vector-backward.md"
    path.write_text(text, encoding="utf-8")
    problems = lint_paths([path])
    assert [(p.code, p.message) for p in problems] == [
        ("KB030", "control character '\\x1b': remove it")
    ]
    assert problems[0].line == text.split("\n").index("The output is \x1b[31ma vector\x07.") + 1


def test_code_wider_than_79_columns_is_linted(tmp_path):
    fix = FIX + "  # " + "x" * 60  # its last line: 88 columns
    path = tmp_path / "vector-backward.md"
    path.write_text(entry_text(fix=fix), encoding="utf-8")
    [problem] = lint_paths([path])
    assert problem.code == "KB031" and problem.message.startswith("code line of 88 columns")


def test_search_says_where_it_stops(catalogue, capsys):
    code, _, err = run(capsys, "search", "-n", "200", "implicitly created")
    assert code == 0 and err == "kb: showing at most 50 hits (-n 200 asks for more)\n"


def test_a_huge_paste_is_read_within_bounds():
    line = "memory grows every epoch " * 200_000  # 5 MB on one line
    cut = bounded(line)
    assert len(cut) == MAX_LINE_CHARS and cut in line
    many = "\n".join(["short line"] * 200_000) + "\nRuntimeError: the end\n"
    cut = bounded(many)
    assert cut.count("\n") == MAX_PASTE_LINES - 1 and cut.endswith("RuntimeError: the end\n")
    wide = "\n".join(["x" * 1000] * 2000)
    assert len(bounded(wide)) == MAX_PASTE_CHARS
    assert bounded("RuntimeError: small") == "RuntimeError: small"


def test_skipped_cuda_variants_are_one_line(pytester):
    pytester.makeini("[pytest]\nkb_entries = entries\n")
    base = pytester.mkdir("entries")
    for name in ("one-entry", "two-entry"):
        (base / f"{name}.md").write_text(entry_text(name), encoding="utf-8")
    # Only the cuda variants, which skip here: nothing runs but collection.
    result = pytester.runpytest_subprocess("entries", "--kb-no-record", "--device", "cuda")
    result.assert_outcomes(skipped=4)
    result.stdout.fnmatch_lines(["kb: 4 entry variants skipped: no CUDA device available*"])
    assert "SKIPPED [" not in result.stdout.str()
    result = pytester.runpytest_subprocess("entries", "--kb-no-record", "--device", "cuda", "-rs")
    result.stdout.fnmatch_lines(["SKIPPED [[]2[]] entries/one-entry.md*no CUDA device*"])
    result.stdout.fnmatch_lines(["SKIPPED [[]2[]] entries/two-entry.md*no CUDA device*"])
