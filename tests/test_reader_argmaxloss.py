"""The argmax reader of the shared "element 0 of tensors" message."""

from pathlib import Path

import pytest

from kb.entries import load_catalogue
from kb.paths import entry_files
from kb.readers import READERS, argmaxloss
from kb.search import search

ROOT = Path(__file__).resolve().parent.parent
ELEMENT_0 = "RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn"


def test_the_reader_is_registered_and_names_an_entry():
    assert READERS["argmaxloss"] == argmaxloss.TRIGGER
    ids = {e.id for e in load_catalogue([Path(p) for p in entry_files(ROOT / "entries")])}
    assert argmaxloss.ARGMAX in ids


@pytest.mark.parametrize(
    "context",
    [
        "    pred = logits.argmax(1).float()\n",
        "    pred = torch.max(output, 1)[1]\n",
        "    idx = torch.argmax(out_x, axis=0)\n",
    ],
)
def test_element_0_with_an_argmax_in_the_paste_points_to_its_entry(context):
    hits, _ = search(context + ELEMENT_0)
    assert hits[0].id == "loss-through-argmax"
    assert hits[0].parts["reader"] > 0


@pytest.mark.parametrize(
    "context",
    ["", '  File "train.py", line 80, in <module>\n    loss = criterion(out.max(), y)\n'],
)
def test_element_0_without_an_argmax_makes_that_cause_less_likely(context):
    hits, _ = search(context + ELEMENT_0)
    argmax = next(h for h in hits if h.id == "loss-through-argmax")
    assert argmax.parts["reader"] < 0 and hits[0].id != argmax.id
