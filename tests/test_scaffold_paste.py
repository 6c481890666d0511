"""`kb new ID --from-paste`: an entry drafted from a real traceback, which `kb lint` then
walks the author through."""

import io
import sys

import pytest
import yaml

from kb.cli import main
from kb.lint import lint_paths
from kb.parse import parse_document
from kb.scaffold import ScaffoldError, draft_from_paste, new_entry
from kb.templates import fullmatch, template_from_message

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/home/me/proj/train.py", line 41, in <module>\n'
    "    model.head = torch.softmax(model.head, dim=0)\n"
    '  File "/usr/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1754, '
    "in __setattr__\n"
    "    raise TypeError(\n"
    "TypeError: cannot assign 'torch.FloatTensor' as parameter 'head' "
    "(torch.nn.Parameter or None expected)\n"
)


@pytest.mark.parametrize(
    ("message", "template"),
    [
        (
            "mat1 and mat2 shapes cannot be multiplied (64x512 and 256x10)",
            "mat1 and mat2 shapes cannot be multiplied ({shape} and {shape2})",
        ),
        (
            "Expected all tensors to be on the same device, but found at least two devices, "
            "cuda:0 and cpu!",
            "Expected all tensors to be on the same device, but found at least two devices, "
            "{device} and cpu!",
        ),
        (
            "shape '[16, 34, 34, 512]' is invalid for input of size 8921088",
            "shape '{shape}' is invalid for input of size {n}",
        ),
        (
            "Can't pickle local object 'BasicBlock.__init__.<locals>.<lambda>'",
            "Can't pickle local object '{name}'",
        ),
        (
            "Caught KeyError in DataLoader worker process 0.",
            "Caught KeyError in DataLoader worker process {n}.",
        ),
        (
            "CUDA out of memory. Tried to allocate 1.71 GiB (GPU 0; 6.00 GiB total capacity)",
            "CUDA out of memory. Tried to allocate {size} (GPU {n}; {size2} total capacity)",
        ),
        ("a dict {'lr': 3} is not a module", "a dict {{'{name}': {n}}} is not a module"),
        (
            "More information at https://github.com/openai/triton",
            "More information at https://github.com/openai/triton",
        ),
    ],
)
def test_variable_parts_of_a_message_are_marked(message, template):
    assert template_from_message(message) == template
    assert fullmatch(template, message)


def test_draft_holds_the_exception_template_failing_line_and_links(tmp_path):
    path = new_entry(tmp_path, "plain-tensor-assigned-to-parameter", TRACEBACK)
    doc = parse_document(path.read_text(encoding="utf-8"), str(path))
    meta = doc.meta
    assert meta["kind"] == "error" and meta["exception"] == "TypeError"
    assert meta["area"] == "modules"
    (template,) = meta["errors"]
    assert template == (
        "cannot assign '{tensor_type}' as parameter '{name}' (torch.nn.Parameter or None expected)"
    )
    assert fullmatch(
        template,
        "cannot assign 'torch.cuda.HalfTensor' as parameter 'w' "
        "(torch.nn.Parameter or None expected)",
    )
    assert "links" in meta
    repro = next(f for f in doc.fences if f.info == "python repro").code
    assert "model.head = torch.softmax(model.head, dim=0)" in repro
    assert "train.py, line 41" in repro


def test_lint_lists_what_is_left_and_nothing_structural(tmp_path):
    path = new_entry(tmp_path, "plain-tensor-assigned-to-parameter", TRACEBACK)
    codes = {p.code for p in lint_paths([path])}
    # Only what the author has to write: TODOs (and the placeholder link) remain.
    assert "KB024" in codes
    assert codes <= {"KB024", "KB021", "KB022"}


def test_a_paste_without_an_exception_line_is_refused():
    with pytest.raises(ScaffoldError, match="no exception line"):
        draft_from_paste("x", "the loss does not go down\n")


@pytest.mark.parametrize(
    "line",
    [
        "ValueError: bad \"quote\" and 'single' and {braces} and ``` fences: #x",
        "RuntimeError: \x1b[31mcoloured\x1b[0m message with a\ttab",
        "KeyError: 'label'",
    ],
)
def test_any_pasted_text_makes_a_valid_entry_file(tmp_path, line):
    path = new_entry(tmp_path, "drafted", f"{line}\n")
    text = path.read_text(encoding="utf-8")
    front = text.split("---\n")[1]
    meta = yaml.safe_load(front)
    assert meta["id"] == "drafted"
    assert fullmatch(
        meta["errors"][0], line.split(": ", 1)[1].replace("\x1b[31m", "").replace("\x1b[0m", "")
    )
    codes = {p.code for p in lint_paths([path])}
    assert codes <= {"KB024", "KB021", "KB022", "KB025"}


def test_cli_drafts_from_stdin_and_points_at_lint(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(TRACEBACK.encode())))
    code = main(
        ["new", "plain-tensor-assigned-to-parameter", "--from-paste", "--dir", str(tmp_path)]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert out.strip().endswith("plain-tensor-assigned-to-parameter.md")
    assert "kb lint" in err
    assert (tmp_path / "plain-tensor-assigned-to-parameter.md").is_file()


def test_cli_paste_without_exception_is_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"just words\n")))
    code = main(["new", "x", "--from-paste", "--dir", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 1 and err.startswith("kb: no exception line") and err.count("\n") == 1
    assert not (tmp_path / "x.md").exists()
