"""Ranking and the traceback reader, on a small catalogue built in tmp."""

import pytest

from kb.search import search
from kb.tb import read_paste
from tests.conftest import entry_text

OTHER = (
    entry_text("batch-mismatch")
    .replace(
        '"grad can be implicitly created only for scalar outputs"',
        '"Expected input batch_size ({n}) to match target batch_size ({m})."',
    )
    .replace("exception: RuntimeError", "exception: ValueError")
    .replace(
        "on a non-scalar: grad can be implicitly created only for scalar outputs",
        "input and target batch sizes differ",
    )
    .replace('title: "对非标量调用 backward"', 'title: "输入与目标的批大小不一致"')
)


@pytest.fixture
def two(catalogue):
    (catalogue / "batch-mismatch.md").write_text(OTHER, encoding="utf-8")
    return catalogue


def top(query: str) -> str:
    hits, _ = search(query)
    return hits[0].id if hits else ""


def test_message_with_other_values_matches_its_template(two):
    hits, _ = search("ValueError: Expected input batch_size (17) to match target batch_size (4).")
    assert hits[0].id == "batch-mismatch"
    assert hits[0].why.startswith("message matches")


def test_whole_traceback_finds_the_exception_line(two):
    paste = """\
Traceback (most recent call last):
  File "/home/me/train.py", line 40, in <module>
    loss = criterion(out, target)
  File "/usr/lib/python3/site-packages/torch/nn/modules/loss.py", line 1188, in forward
    return F.cross_entropy(input, target)
ValueError: Expected input batch_size (64) to match target batch_size (32).
"""
    assert top(paste) == "batch-mismatch"


def test_words_and_chinese_queries(two):
    assert top("implicitly created scalar") == "vector-backward"
    assert top("批大小") == "batch-mismatch"
    assert top("非标量") == "vector-backward"


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced quote',
        "NEAR(a b) AND OR NOT",
        "title:scalar",
        "* ( ) [ ] { } ^ - + :",
        "\x1b[31mRuntimeError\x1b[0m: grad can be \x1b[1mimplicitly\x1b[0m created",
        "nul\x00byte",
        "",
        "   \n\t  ",
        "x" * 3_000_000,
        "RuntimeError: " + "word " * 200_000,
        "\ufffd\ufffd invalid utf8 replaced",
        "{n} {{ }} \\ ' ; -- drop table entries",
    ],
)
def test_hostile_queries_are_searched_safely(two, query):
    hits, _ = search(query)
    assert isinstance(hits, list)


def test_ansi_coloured_traceback(two):
    paste = "\x1b[0;31mRuntimeError\x1b[0m: grad can be implicitly created only for scalar outputs"
    hits, _ = search(paste)
    assert hits[0].id == "vector-backward" and hits[0].why.startswith("message matches")


def test_reader_handles_jupyter_pytest_chained_and_logs():
    jupyter = """\
RuntimeError                              Traceback (most recent call last)
Input In [29], in <cell line: 1>()
----> 1 A1.sum().backward()
RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn"""
    paste = read_paste(jupyter)
    assert [(r.type, r.message) for r in paste.raised] == [
        ("RuntimeError", "element 0 of tensors does not require grad and does not have a grad_fn")
    ]
    pytest_out = "E   RuntimeError: grad can be implicitly created only for scalar outputs"
    assert read_paste(pytest_out).raised[0].message.startswith("grad can be")
    log = "2024-05-01 12:00:03,114 ERROR torch.OutOfMemoryError: CUDA out of memory. Tried"
    assert read_paste(log).raised[0].type == "OutOfMemoryError"
    warning = "/x/y.py:8: UserWarning: The .grad attribute of a Tensor that is not a leaf"
    assert read_paste(warning).raised[0].warning
    chained = """\
Traceback (most recent call last):
  File "a.py", line 1, in <module>
KeyError: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "a.py", line 3, in <module>
RuntimeError: boom"""
    assert [r.type for r in read_paste(chained).raised] == ["KeyError", "RuntimeError"]


def test_reader_tells_user_frames_from_library_ones():
    terminal = """\
Traceback (most recent call last):
  File "/home/me/proj/train.py", line 41, in <module>
    main()
  File "/home/me/proj/train.py", line 30, in main
    loss = criterion(out, y)
  File "/opt/conda/lib/python3.11/site-packages/torch/nn/modules/loss.py", line 1295, in forward
    return F.cross_entropy(input, target, weight=self.weight,
  File "C:\\Users\\me\\Lib\\site-packages\\torch\\nn\\functional.py", line 3494, in cross_entropy
    return torch._C._nn.cross_entropy_loss(
RuntimeError: expected scalar type Long but found Float"""
    paste = read_paste(terminal)
    assert [(f.line, f.library) for f in paste.frames] == [
        (41, False), (30, False), (1295, True), (3494, True)
    ]  # fmt: skip
    # From the user's last line down to where torch gave up; `main()` above it is not it.
    assert paste.operations() == [
        "main",
        "loss = criterion(out, y)",
        "forward",
        "return F.cross_entropy(input, target, weight=self.weight,",
        "cross_entropy",
        "return torch._C._nn.cross_entropy_loss(",
    ]


def test_reader_reads_ipython_8_cell_frames():
    notebook = """\
Cell In[2], line 1
----> 1 trainer.test(ckpt_path="best")

File ~/venv/lib/python3.11/site-packages/lightning/trainer.py:706, in Trainer.test(self)
--> 706 return call._call_and_handle_interrupt(

RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn"""
    paste = read_paste(notebook)
    assert [(f.file, f.line, f.library) for f in paste.frames] == [
        ("Cell In[2]", 1, False),
        ("~/venv/lib/python3.11/site-packages/lightning/trainer.py", 706, True),
    ]
    assert paste.operations()[0] == 'trainer.test(ckpt_path="best")'
    older = read_paste("Input In [29], in <cell line: 1>()\n----> 1 A1.sum().backward()\n")
    assert older.frames[0].file == "Input In [29]" and older.operations() == ["A1.sum().backward()"]


def test_large_catalogue_path_keeps_up_with_edits(two, monkeypatch, tmp_path):
    # The in-memory template index and word pruning normally start at 2,000 entries.
    monkeypatch.setattr("kb.search.PRUNE_FROM", 0)
    monkeypatch.setattr("kb.index.RECHECK_SECONDS", 0)
    monkeypatch.setattr("kb.index.recheck_seconds", lambda files: 0)
    assert top("ValueError: Expected input batch_size (3) to match target batch_size (4).") == (
        "batch-mismatch"
    )
    path = two / "batch-mismatch.md"
    path.write_text(
        OTHER.replace("to match target batch_size ({m}).", "to equal target batch_size ({m})."),
        encoding="utf-8",
    )
    import os

    os.utime(path, ns=(1, 1))
    hits, _ = search("ValueError: Expected input batch_size (3) to equal target batch_size (4).")
    assert hits[0].id == "batch-mismatch" and hits[0].why.startswith("message matches")
    path.unlink()
    hits, _ = search("ValueError: Expected input batch_size (3) to equal target batch_size (4).")
    assert all(h.id != "batch-mismatch" for h in hits)


def test_searches_from_several_threads():
    # The TUI searches a typed query on its event loop and a paste in its search thread;
    # the scratch SQLite that stems words (used by long pastes) must not belong to the
    # first thread that searched.
    from concurrent.futures import ThreadPoolExecutor

    from kb.search import _stems

    assert _stems(["gradients"]) == {"gradients": "gradient"}
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(_stems, ["tensors"]).result() == {"tensors": "tensor"}


def test_grammar_words_of_a_description_do_not_outvote_its_subject(catalogue):
    # A paragraph holds a dozen words of grammar; one entry's text happening to hold
    # several of them must not outrank the entry that names what the paragraph is about.
    (catalogue / "vector-backward.md").write_text(
        entry_text().replace(
            "`backward()` raises.", "These outputs should however stay within what they would be."
        ),
        encoding="utf-8",
    )
    (catalogue / "dropout-at-inference.md").write_text(
        entry_text("dropout-at-inference").replace(
            "`backward()` raises.", "Predictions change between runs: dropout is active."
        ),
        encoding="utf-8",
    )
    query = (
        "I think these predictions should not change between two runs, however they do; "
        "it would seem that dropout stays active within the model at inference."
    )
    assert top(query) == "dropout-at-inference"


def test_the_last_line_of_a_long_story_is_read_as_a_message(catalogue):
    # A log or a report told line by line ends with the error it ran into; a paste
    # without a traceback is read from both ends.
    story = [f"step {i}: configured the run, nothing unusual in line {i}" for i in range(10)]
    hits, _ = search("\n".join(story + ["grad can be implicitly created only for scalar outputs"]))
    assert hits[0].id == "vector-backward"
    assert hits[0].match == "exact"


def test_the_words_shown_as_matched_are_words_of_the_entry_not_parts_of_words():
    from kb.search import _word_in

    assert _word_in("predict", "the model predicts one class")  # an ending, as stemmed
    assert _word_in("grad", "optimizer.zero_grad() was never called")
    assert _word_in("pre", "a pre-trained model")
    assert not _word_in("re", "the model predicts one class")  # inside another word
    assert not _word_in("re", "checkpoint read with torch.load")  # short words take no ending
    assert not _word_in("train", "constrained optimisation")
