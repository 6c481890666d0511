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
