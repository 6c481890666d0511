"""kb.readers.statedict: the cause a load_state_dict error shows in its key lists."""

from pathlib import Path

import pytest

from kb.entries import load_catalogue
from kb.paths import entry_files
from kb.readers.statedict import ENTRY_FOR, key_lists
from kb.readers.statedict import read_cause as diagnose
from kb.search import search

HEADER = "RuntimeError: Error(s) in loading state_dict for Net:\n\t"


def test_key_lists_reads_each_list():
    text = (
        HEADER + 'Missing key(s) in state_dict: "fc.weight", "fc.bias". \n\t'
        'Unexpected key(s) in state_dict: "head.weight", "head.bias". \n\t'
        "size mismatch for conv.weight: copying a param with shape torch.Size([8]) from "
        "checkpoint, the shape in current model is torch.Size([4])."
    )
    assert key_lists(text) == (
        ["fc.weight", "fc.bias"],
        ["head.weight", "head.bias"],
        ["conv.weight"],
    )


@pytest.mark.parametrize(
    "lists, cause",
    [
        # DataParallel's prefix on the checkpoint's side, then on the model's side
        (
            'Missing key(s) in state_dict: "conv1.weight", "bn1.weight". Unexpected key(s) in '
            'state_dict: "module.conv1.weight", "module.bn1.weight".',
            "prefix",
        ),
        (
            'Missing key(s) in state_dict: "module.conv1.weight". Unexpected key(s) in '
            'state_dict: "conv1.weight".',
            "prefix",
        ),
        # a paste cut short after the first list: only a wrapper's prefix counts
        ('Unexpected key(s) in state_dict: "module.bn1.weight", "module.bn1.bias", ', "prefix"),
        ('Unexpected key(s) in state_dict: "_orig_mod.fc.weight".', "prefix"),
        (
            'Missing key(s) in state_dict: "conv1.weight", "fc.bias". Unexpected key(s) in '
            'state_dict: "epoch", "state_dict", "optimizer".',
            "container",
        ),
        (
            'Missing key(s) in state_dict: "classifier.weight", "classifier.bias". Unexpected '
            'key(s) in state_dict: "fc.weight", "fc.bias".',
            "renamed",
        ),
        (
            "size mismatch for fc.weight: copying a param with shape torch.Size([1000, 512]) from "
            "checkpoint, the shape in current model is torch.Size([10, 512]).",
            "size",
        ),
    ],
)
def test_each_cause_is_read_from_the_keys(lists, cause):
    got = diagnose(HEADER + lists)
    assert got is not None and got[0] == cause


@pytest.mark.parametrize(
    "lists",
    [
        # top-level parameters without a dot are not a checkpoint dict
        'Unexpected key(s) in state_dict: "cls_token", "pos_embed".',
        # names without a dot mixed with layer names: not a pattern the reader knows
        'Missing key(s) in state_dict: "fc.weight". Unexpected key(s) in state_dict: "scale".',
    ],
)
def test_lists_that_fit_no_cause_decide_nothing(lists):
    assert diagnose(HEADER + lists) is None


def test_text_without_key_lists_decides_nothing():
    assert diagnose("RuntimeError: Error(s) in loading state_dict for Net:") is None
    assert diagnose('KeyError: "fc.weight"') is None


def test_every_cause_names_an_entry_of_the_catalogue():
    root = Path(__file__).resolve().parent.parent / "entries"
    ids = {e.id for e in load_catalogue([Path(p) for p in entry_files(root)])}
    assert set(ENTRY_FOR.values()) <= ids


@pytest.mark.parametrize(
    "lists, expected",
    [
        (
            'Missing key(s) in state_dict: "conv.weight", "fc.weight". Unexpected key(s) in '
            'state_dict: "module.conv.weight", "module.fc.weight".',
            "state-dict-module-prefix",
        ),
        (
            'Missing key(s) in state_dict: "conv.weight", "fc.weight". Unexpected key(s) in '
            'state_dict: "epoch", "model_state_dict".',
            "checkpoint-dict-passed-to-load-state-dict",
        ),
        (
            'Missing key(s) in state_dict: "classifier.weight". Unexpected key(s) in state_dict: '
            '"fc.weight".',
            "state-dict-renamed-keys",
        ),
    ],
)
def test_search_puts_the_entry_the_keys_show_first_and_says_why(lists, expected):
    hits, _ = search(HEADER + lists)
    assert hits[0].id == expected
    assert hits[0].parts.get("reader", 0) > 0
    assert "key" in hits[0].why
