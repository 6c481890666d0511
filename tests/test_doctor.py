"""kb doctor: findings, output formats, suppression, settings and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from kb.cli import main

TRAIN = textwrap.dedent(
    """\
    import torch
    from torch import nn
    import torch.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = [nn.Linear(4, 4) for _ in range(2)]

        def forward(self, x):
            return x

    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for x, y in []:
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss)
    model.eval
    """
)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(TRAIN, encoding="utf-8")
    return tmp_path


def test_text_output_names_rule_entry_and_place(project, capsys):
    assert main(["doctor", "train.py"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "train.py:8:23: KBD003 modules in a plain list 'self.blocks': not registered; "
        "use nn.ModuleList (kb show parameters-in-python-list)",
        "train.py:19:5: KBD016 backward() and step() with no zero_grad(): gradients add up "
        "across steps (kb show missing-zero-grad)",
        "train.py:20:5: KBD018 'loss' appended with its graph: append loss.item() or "
        "loss.detach() (kb show loss-history-keeps-graph)",
        "train.py:21:1: KBD019 'model.eval' is not called: add () "
        "(kb show model-eval-without-parentheses)",
    ]


def test_clean_file_exits_zero(project, capsys):
    (project / "train.py").write_text("import torch\nx = torch.ones(3)\n", encoding="utf-8")
    assert main(["doctor", "."]) == 0
    assert capsys.readouterr().out == ""


def test_doctor_does_not_import_torch(project):
    code = (
        "import sys; from kb.cli import main; main(['doctor', 'train.py']); "
        "sys.stderr.write(str(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'textual', 'numpy'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stderr.rstrip().endswith("[]"), out.stderr


def test_json_shape(project, capsys):
    assert main(["doctor", "--json", "--select", "KBD019"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["files"] == 1 and data["errors"] == []
    (finding,) = data["findings"]
    assert finding["code"] == "KBD019"
    assert finding["entry"] == "model-eval-without-parentheses"
    assert (finding["path"], finding["line"], finding["col"]) == ("train.py", 21, 1)


def test_noqa_silences_the_named_code_or_all(project, capsys):
    text = TRAIN.replace("losses.append(loss)", "losses.append(loss)  # noqa: KBD018")
    text = text.replace("model.eval\n", "model.eval  # noqa\n")
    (project / "train.py").write_text(text, encoding="utf-8")
    main(["doctor", "train.py"])
    codes = [line.split()[1] for line in capsys.readouterr().out.splitlines()]
    assert codes == ["KBD003", "KBD016"]


def test_select_and_ignore_take_codes_and_prefixes(project, capsys):
    main(["doctor", "--select", "KBD01", "--ignore", "KBD016"])
    codes = [line.split()[1] for line in capsys.readouterr().out.splitlines()]
    assert codes == ["KBD018", "KBD019"]
    assert main(["doctor", "--select", "KBD9"]) == 1
    assert "no rule matches 'KBD9'" in capsys.readouterr().err


def test_pyproject_settings(project, capsys):
    (project / "pyproject.toml").write_text(
        '[tool.kb.doctor]\nignore = ["KBD003", "KBD019"]\nexclude = ["skip_*.py"]\n',
        encoding="utf-8",
    )
    (project / "skip_me.py").write_text(TRAIN, encoding="utf-8")
    main(["doctor"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["KBD016", "KBD018"]
    assert all(line.startswith("train.py:") for line in lines)
    (project / "pyproject.toml").write_text('[tool.kb.doctor]\nselct = ["KBD001"]\n')
    assert main(["doctor"]) == 1
    assert "unknown key 'selct' in [tool.kb.doctor]" in capsys.readouterr().err


def test_sarif_output(project, capsys):
    assert main(["doctor", "--format", "sarif", "--select", "KBD019"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["KBD019"]
    (result,) = run["results"]
    assert result["ruleId"] == "KBD019" and result["ruleIndex"] == 0
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "train.py"
    assert location["region"]["startLine"] == 21
    assert "kb show model-eval-without-parentheses" in result["message"]["text"]


def _notebook(cells: list[tuple[str, str]]) -> str:
    return json.dumps(
        {
            "cells": [
                {"cell_type": kind, "source": src.splitlines(keepends=True), "metadata": {}}
                for kind, src in cells
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def test_notebook_cells_are_checked_together_and_located_by_cell(project, capsys):
    (project / "train.py").unlink()
    (project / "nb.ipynb").write_text(
        _notebook(
            [
                ("markdown", "# notes\nmodel.eval\n"),
                ("code", "%matplotlib inline\nimport torch\nmodel = torch.nn.Linear(2, 2)\n"),
                ("code", "%%bash\nls\n"),
                ("code", "x = torch.ones(2, 2)\nmodel.eval\n!nvidia-smi\n"),
            ]
        ),
        encoding="utf-8",
    )
    assert main(["doctor", "."]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "nb.ipynb:cell 3:2:1: KBD019 'model.eval' is not called: add () "
        "(kb show model-eval-without-parentheses)"
    ]


def test_bad_input_is_one_line_per_file_and_the_run_goes_on(project, capsys):
    (project / "broken.py").write_text("def f(:\n", encoding="utf-8")
    (project / "latin1.py").write_bytes(b"x = '\xe9'\n")
    (project / "bad.ipynb").write_text("{not json", encoding="utf-8")
    (project / "odd.ipynb").write_text('{"cells": 3}', encoding="utf-8")
    assert main(["doctor", ".", "missing.py"]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 4  # train.py was still checked
    errors = [line for line in err.splitlines() if "finding" not in line]
    assert errors == [
        "kb doctor: missing.py: no such file or folder",
        "kb doctor: bad.ipynb: not a notebook: invalid JSON (Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1))",
        "kb doctor: broken.py:1:7: syntax error: invalid syntax",
        "kb doctor: latin1.py: not UTF-8 text (invalid continuation byte at byte 5)",
        "kb doctor: odd.ipynb: not a notebook: no 'cells' list",
    ]
    assert "Traceback" not in err


def test_explain_and_rules(capsys):
    assert main(["doctor", "--explain", "kbd016"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("# KBD016 missing-zero-grad\n\nEntry: `kb show missing-zero-grad`")
    for heading in ("## What it flags", "## Why is this bad?", "## Example", "## Use instead"):
        assert heading in page
    assert main(["doctor", "--explain", "KBD999"]) == 1
    assert "no rule 'KBD999'" in capsys.readouterr().err
    assert main(["doctor", "--rules"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) >= 15 and listed[0].startswith("KBD001  tensor-in-module-container")


def test_pre_commit_hook_definition(project):
    from pathlib import Path

    clientlib = pytest.importorskip("pre_commit.clientlib")
    identify = pytest.importorskip("identify.identify")
    root = Path(__file__).resolve().parent.parent
    (hook,) = clientlib.load_manifest(str(root / ".pre-commit-hooks.yaml"))
    assert hook["id"] == "kb-doctor" and hook["language"] == "python"
    (project / "nb.ipynb").write_text(_notebook([("code", "x = 1\n")]), encoding="utf-8")
    (project / "notes.md").write_text("model.eval\n", encoding="utf-8")
    # the files pre-commit would pass: those whose tags meet types_or
    files = sorted(
        p.name for p in project.iterdir() if set(hook["types_or"]) & identify.tags_from_path(str(p))
    )
    assert files == ["nb.ipynb", "train.py"]
    # pre-commit runs `entry` with the hook's args and the file names, from the repo root,
    # in an environment where the package is installed (its console script is on PATH).
    entry = hook["entry"].split()
    assert entry[0] == "kb"
    command = [sys.executable, "-m", "kb", *entry[1:], *hook["args"], *files]
    done = subprocess.run(command, capture_output=True, text=True, cwd=project)
    assert done.returncode == 1 and "train.py:21:1: KBD019" in done.stdout
    clean = subprocess.run(command[:-1], capture_output=True, text=True, cwd=project)
    assert clean.returncode == 0, clean.stderr
