"""How modules and functional ops are called."""

from __future__ import annotations

import ast

from kb.doctor.facts import FileFacts, dotted, keyword
from kb.doctor.registry import rule


def _is_sequential(ff: FileFacts, func: ast.AST) -> bool:
    def made(v: object) -> bool:
        node = v
        while (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("to", "cuda", "cpu", "train", "eval", "double", "float")
            and isinstance(node.func.value, ast.Call)
        ):
            node = node.func.value
        return isinstance(node, ast.Call) and ff.call_qual(node) == "torch.nn.Sequential"

    if isinstance(func, ast.Name):
        return ff.bound_to(func.id, func, made)
    if isinstance(func, ast.Attribute) and dotted(func.value) == "self":
        cls = ff.enclosing_class(func)
        values = ff.self_attr_values(cls, func.attr) if cls else []
        return bool(values) and all(made(v) for v in values)
    return made(func)


@rule(
    "KBD027",
    "sequential-several-inputs",
    "sequential-multiple-inputs",
    "an nn.Sequential called with more than one input",
    """
    `nn.Sequential.forward(input)` takes exactly one input and passes each layer's
    output to the next. Called as `model(x, edge_index)` it raises `TypeError:
    Sequential.forward() takes 2 positional arguments but 3 were given`. A model with
    several inputs needs its own `nn.Module` with a `forward(self, x, edge_index)`.
    """,
    """
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
    model(x, edge_index)
    """,
    """
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
    model(x)
    """,
    needs=("Sequential",),
)
def sequential_several_inputs(ff: FileFacts):
    for node in ff.of(ast.Call):
        if not isinstance(node, ast.Call):
            continue
        many = len(node.args) >= 2 or node.keywords
        starred = any(isinstance(a, ast.Starred) for a in node.args)
        if many and not starred and _is_sequential(ff, node.func):
            count = len(node.args) + len(node.keywords)
            yield node, f"nn.Sequential takes one input; called with {count}"


DROPOUTS = ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
            "feature_alpha_dropout")  # fmt: skip


@rule(
    "KBD028",
    "functional-dropout-always-on",
    "functional-dropout-ignores-eval",
    "F.dropout(...) in forward() without training=self.training",
    """
    `F.dropout` is a function: it knows nothing of the module's mode, and its
    `training` argument defaults to True. Called in `forward` without
    `training=self.training`, it keeps dropping activations after `model.eval()`, so
    evaluation is random and worse than it should be. Pass `training=self.training`, or
    use an `nn.Dropout` layer.
    """,
    """
    class Net(nn.Module):
        def forward(self, x):
            return F.dropout(self.fc(x), p=0.5)
    """,
    """
    class Net(nn.Module):
        def forward(self, x):
            return F.dropout(self.fc(x), p=0.5, training=self.training)
    """,
    needs=("dropout",),
)
def functional_dropout(ff: FileFacts):
    names = {f"torch.nn.functional.{n}" for n in DROPOUTS}
    for node in ff.of(ast.Call):
        if ff.call_qual(node) not in names:
            continue
        if keyword(node, "training") is not None or len(node.args) >= 3:
            continue
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            continue
        if ff.method_of_module(node, "forward") is None:
            continue
        yield node, "F.dropout without training=self.training stays on after model.eval()"
