# ruff: noqa: E501  (the pastes are verbatim tracebacks; their lines stay as printed)
"""The shipped catalogue: clean under lint, and found from the error texts it grew from.

The pastes below are the error output recorded in the project's original bug notes
(torch's own messages and tracebacks, as users saw them), plus the symptoms those notes
describe, as a user would type them.
"""

from pathlib import Path

import pytest

from kb import paths
from kb.lint import lint_paths
from kb.search import search

SEED_BACKWARD_TWICE = (
    "RuntimeError: Trying to backward through the graph a second time (or directly access saved "
    "tensors after they have already been freed). Saved intermediate values of the graph are "
    "freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need "
    "to backward through the graph a second time or if you need to access saved tensors after "
    "calling backward"
)

SEED_ELEMENT_0 = """\
RuntimeError                                Traceback (most recent call last)
Input In [29], in <cell line: 1>()
----> 1 A1.sum().backward()

File ~/miniconda3/envs/ML/lib/python3.8/site-packages/torch/_tensor.py:363, in Tensor.backward(self, gradient, retain_graph, create_graph, inputs)
    354 if has_torch_function_unary(self):
--> 363 torch.autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

File ~/miniconda3/envs/ML/lib/python3.8/site-packages/torch/autograd/__init__.py:173, in backward(tensors, grad_tensors, retain_graph, create_graph, grad_variables, inputs)
--> 173 Variable._execution_engine.run_backward( # Calls into the C++ engine to run the backward pass
    174     tensors, grad_tensors, retain_graph, create_graph, inputs,
    175     allow_unreachable=True, accumulate_grad=True)

RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn
"""

SEED_INPLACE = """\
RuntimeError                                Traceback (most recent call last)
Input In [71], in <cell line: 1>()
----> 1 test.Param.sum().backward()

File ~/miniconda3/envs/ML/lib/python3.8/site-packages/torch/autograd/__init__.py:173, in backward(tensors, grad_tensors, retain_graph, create_graph, grad_variables, inputs)
--> 173 Variable._execution_engine.run_backward( # Calls into the C++ engine to run the backward pass
    174     tensors, grad_tensors, retain_graph, create_graph, inputs,
    175     allow_unreachable=True, accumulate_grad=True)

RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation: [torch.FloatTensor [1]], which is output 0 of AsStridedBackward0, is at version 1; expected version 0 instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, with torch.autograd.set_detect_anomaly(True).
"""

SEED_NON_LEAF = (
    "/Users/haibinzhao/miniconda3/envs/ML/lib/python3.8/site-packages/torch/_tensor.py:1104: "
    "UserWarning: The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
    "Its .grad attribute won't be populated during autograd.backward(). If you indeed want the "
    ".grad field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf "
    "Tensor. If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead. See github.com/pytorch/pytorch/pull/30531 for more informations. (Triggered "
    "internally at  /Users/distiller/project/conda/conda-bld/pytorch_1646755922314/work/build/"
    "aten/src/ATen/core/TensorBody.h:475.)\n  return self._grad"
)

NON_LEAF = {"parameter-reassigned-non-leaf", "parameter-view-non-leaf", "non-leaf-grad-retain-grad"}
# Entries that share "element 0 of tensors does not require grad and does not have a grad_fn".
ELEMENT_0 = {
    "torch-tensor-cuts-graph",
    "loss-computed-under-no-grad",
    "all-parameters-frozen",
    "activation-checkpoint-no-input-requires-grad",
}

# (paste, the entries that are right answers for it: the top hit must be one of them)
CASES = [
    (
        SEED_BACKWARD_TWICE,
        {
            "backward-twice-retain-graph",
            "backward-twice-reused-tensor",
            "rnn-hidden-state-not-detached",
        },
    ),
    (
        "TypeError: torch.FloatTensor is not a Module subclass",
        {"modulelist-tensor-not-module", "modulelist-parameter-not-module"},
    ),
    ("NotImplementedError exception: no description", {"forward-misspelled"}),
    (
        "TypeError: default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
        "lists; found <class 'markov_lm.util_html.Vocab'>",
        {"default-collate-custom-class"},
    ),
    (SEED_NON_LEAF, NON_LEAF),
    (SEED_ELEMENT_0, ELEMENT_0),
    (SEED_INPLACE, {"inplace-modified-saved-tensor"}),
    (
        "Sequential.forward() takes 2 positional arguments but 3 were given",
        {"sequential-multiple-inputs"},
    ),
    ("grad can be implicitly created only for scalar outputs", {"backward-non-scalar"}),
    ("TestLoss和TrainLoss相同", {"train-test-loss-identical"}),
    ("训练过程中出现了NaN", {"nan-from-undefined-op"}),
    ("恢复模型后，损失函数和保存前不一样", {"checkpoint-restore-weights-differ"}),
    ("does not require grad", ELEMENT_0),
]


def test_catalogue_is_lint_clean():
    problems = lint_paths(Path(p) for p in paths.entry_files())
    assert [str(p) for p in problems] == []


def test_catalogue_covers_the_seed_notes():
    ids = {Path(p).stem for p in paths.entry_files()}
    assert {next(iter(ok)) for _, ok in CASES} <= ids


@pytest.mark.parametrize(("paste", "expected"), CASES, ids=[sorted(e)[0] for _, e in CASES])
def test_seed_error_text_finds_its_entry_first(paste, expected):
    hits, problems = search(paste, limit=max(3, len(expected)))
    assert problems == []
    assert hits and hits[0].id in expected, [h.id for h in hits]
    if len(expected) > 1:
        # Look-alikes sharing one message all come before anything else.
        assert {h.id for h in hits[: len(expected)]} == expected
