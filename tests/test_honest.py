"""Honest answers: every hit says how it matched, and a pasted message that no entry
explains is reported as such instead of dressed up with a confident-looking guess."""

import pytest

from kb.cli import main
from kb.search import search, unexplained_message
from tests.conftest import entry_text

UNKNOWN = "RuntimeError: grad can not be computed for scalar outputs of kind qqq"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_each_hit_carries_its_match_strength(catalogue):
    whole, _ = search("RuntimeError: grad can be implicitly created only for scalar outputs")
    cut, _ = search("grad can be implicitly created only for scalar")
    words, _ = search("scalar outputs")
    assert [h.match for h in whole] == ["exact"]
    assert [h.match for h in cut] == ["partial"]
    assert [h.match for h in words] == ["related"]


def test_message_without_entry_is_named(catalogue):
    hits, _ = search(UNKNOWN)
    assert hits and all(h.match == "related" for h in hits)
    assert unexplained_message(UNKNOWN, hits) == UNKNOWN


def test_explained_message_and_symptom_words_are_not_flagged(catalogue):
    query = "RuntimeError: grad can be implicitly created only for scalar outputs"
    assert unexplained_message(query, search(query)[0]) is None
    # Typed symptom words hold no exception line: related hits are all there is to say.
    assert unexplained_message("scalar outputs", search("scalar outputs")[0]) is None


def test_the_last_exception_of_a_chained_traceback_is_named(catalogue):
    paste = (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 3, in <module>\n'
        "KeyError: 'label'\n\n"
        "During handling of the above exception, another exception occurred:\n\n"
        f"{UNKNOWN}\n"
    )
    assert unexplained_message(paste, search(paste)[0]) == UNKNOWN


def test_cli_says_no_entry_explains_it_then_lists_related_and_how_to_add(catalogue, capsys):
    code, out, _ = run(capsys, "search", UNKNOWN)
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "No entry explains this message yet:"
    assert lines[1].strip() == UNKNOWN
    assert lines[2].startswith("Related entries")
    assert lines[3].startswith("vector-backward") and lines[4].split()[0] == "related:"
    assert "kb new ID --from-paste" in out


def test_cli_prints_the_match_strength_and_no_warning_for_a_known_message(catalogue, capsys):
    code, out, _ = run(capsys, "search", "grad can be implicitly created only for scalar outputs")
    assert code == 0
    assert out.splitlines()[1].split()[0] == "exact:"
    assert "No entry explains" not in out and "--from-paste" not in out


def test_echoed_message_cannot_drive_the_terminal(catalogue, capsys):
    code, out, _ = run(capsys, "search", UNKNOWN + " \x07\x1b]0;title\x07 \x08")
    assert code == 0
    assert "\x07" not in out and "\x08" not in out and "\x1b" not in out


def test_message_with_no_hit_at_all_still_says_how_to_add_it(catalogue, capsys):
    code, out, err = run(capsys, "search", "ZzzError: qqqq wwww")
    assert code == 1 and err.startswith("kb: no entry matches")
    assert out.startswith("No entry explains this message yet:") and "--from-paste" in out


HEADER = (
    entry_text("state-header")
    .replace(
        '"grad can be implicitly created only for scalar outputs"',
        '"Error(s) in loading state_dict for {ClassName}:"',
    )
    .replace("on a non-scalar: grad can be implicitly created only for scalar outputs", "keys")
)
BOUNDS = (
    entry_text("target-bounds")
    .replace(
        '"grad can be implicitly created only for scalar outputs"', '"Target {n} is out of bounds."'
    )
    .replace("exception: RuntimeError", "exception: IndexError")
    .replace("on a non-scalar: grad can be implicitly created only for scalar outputs", "labels")
)


@pytest.fixture
def three(catalogue):
    (catalogue / "state-header.md").write_text(HEADER, encoding="utf-8")
    (catalogue / "target-bounds.md").write_text(BOUNDS, encoding="utf-8")
    return catalogue


def match_of(query: str, entry_id: str) -> str:
    hits, _ = search(query)
    return next(h.match for h in hits if h.id == entry_id)


@pytest.mark.parametrize(
    "query",
    [
        "IndexError: Target 63 is out of bounds",  # the full stop lost in copying
        "IndexError: Target 63 is out of bounds.",
        "RuntimeError: grad can be implicitly created only for scalar outputs。",
        '"RuntimeError: grad can be implicitly created only for scalar outputs"',
    ],
)
def test_final_punctuation_lost_or_added_in_copying_is_still_exact(three, query):
    entry = "target-bounds" if "Target" in query else "vector-backward"
    assert match_of(query, entry) == "exact"


def test_a_message_a_logger_wrapped_onto_two_lines_is_exact(three):
    paste = (
        "2024-01-01 12:00:00 ERROR grad can be implicitly created\n    only for scalar outputs\n"
    )
    assert match_of(paste, "vector-backward") == "exact"


def test_a_header_whose_detail_lines_follow_is_only_partial(three):
    alone = "RuntimeError: Error(s) in loading state_dict for Net:"
    with_detail = alone + '\n\tUnexpected key(s) in state_dict: "config_dict", "state_dict".'
    assert match_of(alone, "state-header") == "exact"
    # The lines under the header tell one cause from another; the header alone does not.
    assert match_of(with_detail, "state-header") == "partial"


def test_a_detail_line_an_entry_documents_makes_it_exact_under_the_header(three):
    sizes = HEADER.replace(
        '  - "Error(s) in loading state_dict for {ClassName}:"\n',
        '  - "Error(s) in loading state_dict for {ClassName}:"\n'
        '  - "size mismatch for {name}: copying a param with shape {shape} from checkpoint,'
        ' the shape in current model is {shape2}."\n',
    )
    assert sizes != HEADER
    (three / "state-sizes.md").write_text(sizes.replace("state-header", "state-sizes"), "utf-8")
    paste = (
        "RuntimeError: Error(s) in loading state_dict for Net:\n"
        "\tsize mismatch for fc.weight: copying a param with shape torch.Size([10, 4]) from "
        "checkpoint, the shape in current model is torch.Size([3, 4]).\n"
    )
    # Both messages of the paste are the entry's, whole; the header alone stays partial.
    assert match_of(paste, "state-sizes") == "exact"
    assert match_of(paste, "state-header") == "partial"


def test_typed_prose_sharing_most_words_with_a_message_is_related(three):
    # No exception type, one word in five not the template's: prose, not a cut message.
    assert match_of("grad created only for scalars today", "vector-backward") == "related"
    assert match_of("grad can be implicitly created only for scalar", "vector-backward") == (
        "partial"
    )


def test_code_a_description_quotes_becomes_phrases():
    from kb.search import _code_phrases

    text = "It seems `out = F.dropout(out, p=0.1)` and model.eval() and torch.rand(3), self.w"
    assert _code_phrases(text) == ["f dropout", "model eval"]


TRITON = (
    entry_text("no-triton")
    .replace(
        '"grad can be implicitly created only for scalar outputs"',
        '"Cannot find a working triton installation. Either the package is not installed '
        'or it is too old."',
    )
    .replace("on a non-scalar: grad can be implicitly created only for scalar outputs", "triton")
)


def test_a_long_message_quoted_to_its_first_full_stop_is_partial(catalogue):
    (catalogue / "no-triton.md").write_text(TRITON, encoding="utf-8")
    quoted = "RuntimeError: Cannot find a working triton installation in train.py on Windows"
    assert match_of(quoted, "no-triton") == "partial"
    # A first sentence too short to tell one message from another is only words.
    assert match_of("RuntimeError: Cannot find it in train.py", "no-triton") == "related"


def _entry_with(entry_id: str, template: str, exception: str = "RuntimeError") -> str:
    """A valid entry whose one message is `template` (and whose title names only its id)."""
    return (
        entry_text(entry_id)
        .replace('"grad can be implicitly created only for scalar outputs"', '"' + template + '"')
        .replace(
            "on a non-scalar: grad can be implicitly created only for scalar outputs", entry_id
        )
        .replace("exception: RuntimeError", f"exception: {exception}")
    )


KERNEL = _entry_with(
    "no-kernel", "CUDA error: no kernel image is available for execution on the device"
)


@pytest.mark.parametrize(
    "paste",
    [
        "cudaCheckError() failed : no kernel image is available for execution on the device",
        "THCudaCheck FAIL file=/pytorch/aten/src/THC/generic/THCTensorMath.cu line=15 error=209 :"
        " no kernel image is available for execution on the device",
    ],
)
def test_a_runtime_message_under_another_layers_prefix_is_partial(catalogue, paste):
    # The telling part comes from the CUDA runtime; torch's "CUDA error: " is one of
    # several prefixes a wrapper or an older release prints before it.
    (catalogue / "no-kernel.md").write_text(KERNEL, encoding="utf-8")
    assert match_of(paste, "no-kernel") == "partial"
    assert match_of("CUDA error: no kernel image is available", "no-kernel") == "partial"
    # A short rest ("out of memory") would be any allocator's words: never more than that.
    assert match_of("cudaCheckError() failed : no kernel image", "no-kernel") == "related"


INIT = _entry_with("fork-init", "cuda runtime error ({code}) : initialization error at {where}")


def test_a_shared_wrapper_opening_alone_is_not_a_partial_match(catalogue):
    (catalogue / "fork-init.md").write_text(INIT, encoding="utf-8")
    same = "RuntimeError: cuda runtime error (3) : initialization error at THCGeneral.c:70"
    other = "RuntimeError: cuda runtime error (30) : unknown error at THCGeneral.c:70"
    assert match_of(same, "fork-init") == "exact"
    # Every old CUDA error opens with "cuda runtime error (": the reason after it is
    # what the template documents, and here it is another one.
    assert match_of(other, "fork-init") == "related"


def test_an_older_wording_carries_the_class_it_was_raised_as(catalogue):
    # The same generic template, raised as AttributeError, would win the exception-type
    # bonus over a specific older wording if that one were indexed under the entry's
    # current class.
    generic = (
        entry_text("class-missing")
        .replace(
            '"grad can be implicitly created only for scalar outputs"',
            "\"Can't get attribute '{name}' on {module}\"",
        )
        .replace("exception: RuntimeError", "exception: AttributeError")
    )
    specific = entry_text("newer-file").replace(
        '  - "grad can be implicitly created only for scalar outputs"\n',
        '  - "grad can be implicitly created only for scalar outputs"\n'
        "older_errors:\n"
        "  - text: \"Can't get attribute '_rebuild_tensor_v2' on {module}\"\n"
        '    torch: "<0.4"\n'
        "    exception: AttributeError\n",
    )
    (catalogue / "class-missing.md").write_text(generic, encoding="utf-8")
    (catalogue / "newer-file.md").write_text(specific, encoding="utf-8")
    hits, _ = search("AttributeError: Can't get attribute '_rebuild_tensor_v2' on <module 'x'>")
    assert hits[0].id == "newer-file"


@pytest.mark.parametrize(
    ("template", "exception", "message"),
    [
        # The quoted name is what tells this message from others worded alike.
        (
            "'NoneType' object has no attribute 'zero_'",
            "AttributeError",
            "AttributeError: 'NoneType' object has no attribute 'named_modules'",
        ),
        # Python's own message: its first word is no word of the template's.
        ("index out of range at {location}", "IndexError", "IndexError: list index out of range"),
        # A file name before ": " is no wrapper to look past: it names the library.
        (
            "libc10.so: cannot open shared object file: No such file or directory",
            "ImportError",
            "ImportError: libGL.so.1: cannot open shared object file: No such file or directory",
        ),
        # Four common words of a long template are not most of it.
        (
            "Cannot copy out of meta tensor; no data! Please use torch.nn.Module.to_empty() "
            "instead of torch.nn.Module.to() when moving module from meta to a different device.",
            "NotImplementedError",
            "ModuleNotFoundError: No module named 'torch.nn'",
        ),
    ],
)
def test_most_of_a_template_is_not_claimed_when_its_telling_part_differs(
    catalogue, template, exception, message
):
    (catalogue / "look-alike.md").write_text(
        _entry_with("look-alike", template, exception), encoding="utf-8"
    )
    assert match_of(message, "look-alike") == "related"


def test_a_long_message_cut_after_its_own_long_opening_is_partial(catalogue):
    template = (
        "CUDA out of memory. Tried to allocate {size}. GPU {index} has a total capacity of "
        "{total} of which {free} is free. Of the allocated memory {allocated} is allocated "
        "by PyTorch, and {reserved} is reserved by PyTorch but unallocated. If reserved but "
        "unallocated memory is large try setting {advice}"
    )
    (catalogue / "oom.md").write_text(_entry_with("oom", template), encoding="utf-8")
    cut = "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 192.00 MiB. GPU"
    assert match_of(cut, "oom") == "partial"
    quoted = "Expected object of scalar type {a} but got scalar type {b} for argument #{n} 'mat1'"
    (catalogue / "mat1.md").write_text(_entry_with("mat1", quoted), encoding="utf-8")
    # The same long opening, but the message names another argument than the template.
    other = "RuntimeError: Expected object of scalar type Float but got scalar type Double for "
    assert match_of(other + "argument #2 'other'", "mat1") == "related"


FILES = _entry_with(
    "open-files",
    "Too many open files. Communication with the workers is no longer possible. Please"
    " increase the limit using `ulimit -n` in the shell or change the sharing strategy by"
    " calling `torch.multiprocessing.set_sharing_strategy('file_system')`",
)


def test_a_message_cut_within_the_template_s_opening_is_partial(catalogue):
    (catalogue / "open-files.md").write_text(FILES, encoding="utf-8")
    cut = "RuntimeError: Too many open files. Communication with the workers is no longer possible."
    assert match_of(cut, "open-files") == "partial"
    # (Cut before the name the template quotes, 'file_system': "most of" cannot hold.)
    # A few words of the opening are what many messages share: words only.
    assert match_of("RuntimeError: Too many open files", "open-files") == "related"


def test_the_message_copied_above_a_wrapping_traceback_is_read(three):
    paste = (
        "Target 3 is out of bounds.\n"
        "RuntimeError: Caught IndexError in DataLoader worker process 0.\n"
        "Original Traceback (most recent call last):\n"
        '  File "/x/torch/utils/data/_utils/worker.py", line 308, in _worker_loop\n'
    )
    # The wrapper's line explains nothing; the title line above it is the message.
    assert match_of(paste, "target-bounds") == "exact"


def test_every_entry_sharing_the_best_message_is_ranked_by_the_paste_s_words(catalogue):
    # Five entries document one message; the words around it name the fifth's cause.
    shared = "grad can be implicitly created only for scalar outputs"
    for i in range(4):
        text = _entry_with(f"shared-{i}", shared)
        (catalogue / f"shared-{i}.md").write_text(text, encoding="utf-8")
    told = _entry_with("shared-told", shared).replace(
        "tags: [", "tags: [quaternionic, hyperbolic, "
    )
    assert told != _entry_with("shared-told", shared)
    (catalogue / "shared-told.md").write_text(told, encoding="utf-8")
    paste = (
        "quaternionic hyperbolic layer\n"
        "RuntimeError: grad can be implicitly created only for scalar outputs"
    )
    hits, _ = search(paste)
    assert hits[0].id == "shared-told"
