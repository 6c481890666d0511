"""Which cause the in-place error shows in the operation it names.

"one of the variables needed for gradient computation has been modified by an inplace
operation: [torch.FloatTensor [4, 1]], which is output 0 of Sigmoid, is at version 1"
names the node whose output was saved for backward and then written. Functions whose
backward needs their own result (sigmoid, tanh, exp, relu, softmax, ...) save that
result, so when the node is one of them the tensor that was modified is an activation's
output: `inplace-activation-modifies-saved-output`. `T` (`TBackward0`) is the transpose a
Linear layer saves of its weight: a weight changed between forward and backward, which
is what optimizer.step() does when it runs before a second backward through the same
graph: `gan-step-between-backwards`. Other nodes decide nothing: a slice, a view or a
division saved and then written is the general entry's case, among others.
"""

from __future__ import annotations

TRIGGER = "modified by an inplace operation"

# Forward functions whose backward formula reads their output (derivatives.yaml: `result`),
# by the names the message uses: the function (2.x) or its backward node (`SigmoidBackward0`,
# older releases; `SigmoidBackward` before 1.10).
SAVE_THEIR_OUTPUT = frozenset(
    "Sigmoid Tanh Exp Exp2 Expm1 Relu Softmax LogSoftmax Sqrt Rsqrt Reciprocal".split()
)
# A Linear layer saves its weight transposed (`weight.t()`) for the input's gradient.
WEIGHT_TRANSPOSE = frozenset({"T"})

ACTIVATION = "inplace-activation-modifies-saved-output"
WEIGHT_STEPPED = "gan-step-between-backwards"


def operation(text: str) -> str | None:
    """The forward function the message names (`Sigmoid` for `SigmoidBackward0`)."""
    at = text.find(TRIGGER)
    if at < 0:
        return None
    marker = "which is output "
    start = text.find(marker, at)
    if start < 0:
        return None
    rest = text[start + len(marker) :]
    of = rest.find(" of ")
    if of < 0 or not rest[:of].strip().isdigit():
        return None
    words = rest[of + 4 :].split(",", 1)[0].split()
    name = words[0] if words else ""
    for suffix in ("Backward0", "Backward1", "Backward"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name if name.isidentifier() else None


def diagnose(text: str) -> tuple[str, str] | None:
    """(entry id, why) when the named operation points to one cause; None otherwise."""
    name = operation(text)
    if name in SAVE_THEIR_OUTPUT:
        return ACTIVATION, f"{name} saves its own output for backward, and that output was written"
    if name in WEIGHT_TRANSPOSE:
        return (
            WEIGHT_STEPPED,
            f"{name} is a Linear layer's saved weight: the weight changed before backward",
        )
    return None
