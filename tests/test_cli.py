"""The command line as users and scripts call it: exit codes, one-line errors, JSON shapes."""

import io
import json
import subprocess
import sys

import pytest

from kb.cli import main


def run(capsys, *argv: str, stdin: bytes | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_search_prints_id_title_and_why(catalogue, capsys):
    code, out, _ = run(capsys, "search", "grad can be implicitly created only for scalar outputs")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("vector-backward") and "non-scalar" in first
    assert "message matches" in out.splitlines()[1]


def test_search_json_shape(catalogue, capsys):
    code, out, _ = run(capsys, "search", "--json", "scalar outputs")
    hits = json.loads(out)
    assert code == 0 and hits[0]["id"] == "vector-backward"
    assert {"id", "title", "kind", "score", "why"} <= set(hits[0])


def test_search_reads_a_paste_from_stdin_even_invalid_utf8(catalogue, capsys, monkeypatch):
    paste = b'junk \xff\xfe\n  File "x.py", line 1\nRuntimeError: grad can be implicitly created'
    code, out, _ = run(
        capsys, "search", "-", stdin=paste + b" only for scalar outputs\n", monkeypatch=monkeypatch
    )
    assert code == 0 and out.startswith("vector-backward")


def test_search_with_no_match_says_so(catalogue, capsys):
    code, out, err = run(capsys, "search", "zzzqqq")
    assert code == 1 and out == "" and err.startswith("kb: no entry matches")


def test_search_explain_shows_score_parts(catalogue, capsys):
    _, out, _ = run(capsys, "search", "--explain", "scalar outputs")
    assert "score" in out and "template=" in out and "text=" in out


def test_show_json_shape(catalogue, capsys):
    code, out, _ = run(capsys, "show", "--json", "vector-backward")
    entry = json.loads(out)
    assert code == 0
    required = {
        "id",
        "title",
        "kind",
        "errors",
        "symptom",
        "cause",
        "explanation",
        "repro",
        "fix",
        "tags",
        "zh",
        "path",
    }
    assert required <= set(entry)
    assert entry["zh"]["title"] and entry["repro"].startswith("import torch")


def test_show_renders_text(catalogue, capsys):
    code, out, _ = run(capsys, "show", "vector-backward")
    assert code == 0
    assert "Symptom" in out and "Explanation" in out and "(w * 2).sum().backward()" in out


def test_unknown_id_one_line_with_suggestion(catalogue, capsys):
    code, out, err = run(capsys, "show", "vector-backwrd")
    assert code == 1 and out == ""
    assert err == "kb: no entry 'vector-backwrd'; did you mean vector-backward?\n"


def test_list_json_shape_and_filters(catalogue, capsys):
    code, out, _ = run(capsys, "list", "--json")
    rows = json.loads(out)
    assert code == 0
    assert {"id", "title", "kind", "errors", "symptom", "tags", "zh", "links"} <= set(rows[0])
    _, out, _ = run(capsys, "list", "--json", "--tag", "no-such-tag")
    assert json.loads(out) == []
    code, out, _ = run(capsys, "list", "--kind", "error")
    assert code == 0 and out.startswith("vector-backward")


def test_lint_reports_and_exits_1(catalogue, capsys):
    assert run(capsys, "lint") == (0, "", "kb: 1 entry, no problems\n")
    (catalogue / "bad.md").write_text("---\nid: bad\n---\n", encoding="utf-8")
    code, out, _ = run(capsys, "lint")
    assert code == 1 and f"{catalogue / 'bad.md'}:1: KB003 missing front-matter key" in out


def test_new_writes_a_template_that_fails_lint_until_filled(catalogue, capsys):
    code, out, _ = run(capsys, "new", "my-new-entry")
    assert code == 0 and out.strip().endswith("my-new-entry.md")
    assert run(capsys, "new", "my-new-entry")[0] == 1  # never overwrites
    assert run(capsys, "new", "Bad Id")[0] == 1
    code, out, _ = run(capsys, "lint")
    assert code == 1 and "KB024" in out


def test_index_command_names_bad_entries(catalogue, capsys):
    (catalogue / "broken.md").write_text("---\nid: [\n---\n", encoding="utf-8")
    code, out, err = run(capsys, "index")
    assert code == 1 and "indexed 1 entries" in out and "broken.md:2: KB002" in err


def test_bad_limit_is_a_usage_error(catalogue, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["search", "--limit", "0", "x"])
    assert exc.value.code == 2


def test_search_imports_neither_torch_nor_textual(catalogue):
    code = (
        "import sys; from kb.cli import main; main(['search', 'scalar outputs']); "
        "bad = [m for m in ('torch', 'textual', 'rich') if m in sys.modules]; "
        "print('heavy:', bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "heavy: []" in out.stdout


def test_search_reads_a_traceback_without_heavy_imports(catalogue):
    # `re` and `functools` are each a tenth of a cold start (kb/lazyre.py, kb/db.py).
    subprocess.run([sys.executable, "-m", "kb", "index"], capture_output=True, check=True)
    paste = (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 12, in <module>\n'
        "    loss.backward()\n"
        "RuntimeError: grad can be implicitly created only for scalar outputs\n"
    )
    code = (
        "import sys; before = set(sys.modules); from kb.cli import main; "
        "main(['search', sys.argv[1]]); "
        "heavy = {'re', 'functools', 'torch', 'textual'}; "
        "print('loaded:', sorted(heavy & (set(sys.modules) - before)))"
    )
    for query in (paste, "scalar outputs", "RuntimeError: grad can be implicitly created"):
        out = subprocess.run(
            [sys.executable, "-c", code, query], capture_output=True, text=True, check=True
        )
        assert out.stdout.startswith("vector-backward"), out.stdout
        assert "loaded: []" in out.stdout, query


def test_python_dash_m_kb(catalogue):
    out = subprocess.run(
        [sys.executable, "-m", "kb", "search", "scalar outputs"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("vector-backward")


def test_broken_catalogue_path_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_ENTRIES", str(tmp_path / "missing"))
    monkeypatch.setenv("KB_DB", str(tmp_path / "x.db"))
    out = subprocess.run(
        [sys.executable, "-m", "kb", "search", "x"], capture_output=True, text=True
    )
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


@pytest.mark.parametrize("with_venv", [True, False])
def test_a_python_without_kbs_packages_gets_one_line_naming_what_to_run(
    tmp_path, monkeypatch, with_venv
):
    # A checkout's system `python3 -m kb lint` while kb was installed into its .venv.
    from kb.cli import missing_package

    monkeypatch.chdir(tmp_path)
    if with_venv:
        (tmp_path / ".venv").mkdir()
        (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    line = missing_package("markdown_it")
    assert "'markdown_it' is missing" in line and sys.executable in line
    assert ("activate" in line) is with_venv
    assert "\n" not in line


def test_missing_package_exits_1_without_a_traceback(monkeypatch, capsys):
    import kb.cli

    def lint(args):
        raise ModuleNotFoundError("No module named 'markdown_it'", name="markdown_it")

    monkeypatch.setattr(kb.cli, "cmd_lint", lint)
    assert main(["lint"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kb: the package 'markdown_it' is missing") and "Traceback" not in err
    assert err.count("\n") == 1
