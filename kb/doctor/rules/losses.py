"""What goes into a loss: losses that apply their own softmax or sigmoid."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from kb.doctor.facts import UNKNOWN, FileFacts, dotted
from kb.doctor.registry import rule


def _is_activation(ff: FileFacts, node: ast.AST, names: tuple[str, ...], depth: int = 0) -> bool:
    """`node` is certainly the output of one of the activations `names` (softmax...)."""
    if depth > 4:
        return False
    if isinstance(node, ast.Name):
        values = ff.values_of(node.id, node)
        return bool(values) and all(
            v is not UNKNOWN and _is_activation(ff, v, names, depth + 1) for v in values
        )
    if not isinstance(node, ast.Call):
        return False
    q = ff.call_qual(node) or ""
    if q in {f"torch.{n}" for n in names} | {f"torch.nn.functional.{n}" for n in names}:
        return True
    if (
        isinstance(node.func, ast.Attribute)
        and node.func.attr in names
        and not _is_self_attr(node.func)
    ):
        # x.softmax(dim=1), the tensor method; not np.softmax or another library's function
        root = (dotted(node.func.value) or "").split(".")[0]
        return root not in ff.aliases
    modules = {"Softmax" if n == "softmax" else "Sigmoid" for n in names}
    if _module_of_kind(ff, node.func, modules):
        return True
    return _model_returns(ff, node, names, depth)


def _is_self_attr(node: ast.Attribute) -> bool:
    return isinstance(node.value, ast.Name) and node.value.id == "self"


def _module_of_kind(ff: FileFacts, func: ast.AST, kinds: set[str]) -> bool:
    """`self.softmax(x)` / `act(x)` where the callee is bound to nn.Softmax()/nn.Sigmoid()."""

    def made(v: object) -> bool:
        q = ff.call_qual(v) if isinstance(v, ast.AST) else None
        return q is not None and q.startswith("torch.nn.") and q.rsplit(".", 1)[-1] in kinds

    if isinstance(func, ast.Name):
        return ff.bound_to(func.id, func, made)
    if isinstance(func, ast.Attribute) and _is_self_attr(func):
        cls = ff.enclosing_class(func)
        values = ff.self_attr_values(cls, func.attr) if cls else []
        return bool(values) and all(made(v) for v in values)
    return False


def _model_returns(ff: FileFacts, call: ast.Call, names: tuple[str, ...], depth: int) -> bool:
    """`model(x)` where model's class is in this file and every return of its forward is
    one of the activations."""
    func = call.func
    cls_name = None
    if isinstance(func, ast.Name):
        values = ff.values_of(func.id, func)
        ctors = [_unchain(v) for v in values if isinstance(v, ast.AST)]
        if values and len(ctors) == len(values):
            names_ = {
                c.func.id for c in ctors if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
            }
            if len(names_) == 1 and len(ctors) == len(values):
                cls_name = names_.pop()
    if cls_name is None or cls_name not in ff.module_classes:
        return False
    cls = ff.classes[cls_name]
    forward = next(
        (m for m in cls.body if isinstance(m, ast.FunctionDef) and m.name == "forward"), None
    )
    if forward is None:
        return False
    returns = [n for n in ast.walk(forward) if isinstance(n, ast.Return) and n.value is not None]
    return bool(returns) and all(_is_activation(ff, r.value, names, depth + 1) for r in returns)


def _unchain(node: ast.AST) -> ast.AST:
    while (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("to", "cuda", "cpu", "train", "eval", "double", "float")
        and isinstance(node.func.value, ast.Call)
    ):
        node = node.func.value
    return node


def _loss_inputs(ff: FileFacts, functional: str, module: str) -> Iterator[ast.AST]:
    """The first argument of every call of F.<functional> or of an nn.<module>() object."""

    def made(v: object) -> bool:
        return isinstance(v, ast.AST) and ff.call_qual(v) == f"torch.nn.{module}"

    holders = {  # names some assignment binds to the loss module: only those are looked up
        t.id
        for a in ff.of(ast.Assign)
        if made(a.value)
        for t in a.targets
        if isinstance(t, ast.Name)
    }
    for node in ff.of(ast.Call):
        if not node.args:
            continue
        q = ff.call_qual(node)
        if (
            q == f"torch.nn.functional.{functional}"
            or made(node.func)
            or (
                isinstance(node.func, ast.Name)
                and node.func.id in holders
                and ff.bound_to(node.func.id, node.func, made)
            )
        ):
            yield node.args[0]
        elif isinstance(node.func, ast.Attribute) and _is_self_attr(node.func):
            cls = ff.enclosing_class(node)
            values = ff.self_attr_values(cls, node.func.attr) if cls else []
            if values and all(made(v) for v in values):
                yield node.args[0]


@rule(
    "KBD025",
    "softmax-into-cross-entropy",
    "softmax-before-cross-entropy",
    "probabilities from softmax passed to CrossEntropyLoss / F.cross_entropy",
    """
    `CrossEntropyLoss` expects raw logits: it applies `log_softmax` itself. Fed with
    softmax outputs it applies softmax twice; the probabilities are squashed into
    [0, 1], the loss cannot go much below log(C) - 1 and the gradients shrink, so the
    model learns slowly or stalls. No error is raised. Return logits from the model and
    apply softmax only for predictions.
    """,
    """
    probs = F.softmax(model(x), dim=1)
    loss = F.cross_entropy(probs, y)
    """,
    """
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    """,
    needs=("cross_entropy", "CrossEntropyLoss"),
)
def softmax_into_cross_entropy(ff: FileFacts):
    for arg in _loss_inputs(ff, "cross_entropy", "CrossEntropyLoss"):
        if _is_activation(ff, arg, ("softmax",)):
            yield (
                arg,
                "softmax output fed to cross_entropy, which applies log_softmax itself: "
                "pass logits",
            )


@rule(
    "KBD026",
    "sigmoid-into-bce-with-logits",
    "sigmoid-before-bce-with-logits",
    "sigmoid outputs passed to BCEWithLogitsLoss / F.binary_cross_entropy_with_logits",
    """
    `BCEWithLogitsLoss` applies the sigmoid itself (in a numerically stable form).
    Given probabilities, it squashes them a second time into [0.5, 0.73]: the loss never
    gets near zero and the gradients are small, so training stalls without an error.
    Pass logits, or use `BCELoss` on probabilities.
    """,
    """
    probs = torch.sigmoid(model(x))
    loss = F.binary_cross_entropy_with_logits(probs, y)
    """,
    """
    logits = model(x)
    loss = F.binary_cross_entropy_with_logits(logits, y)
    """,
    needs=("with_logits", "WithLogits"),
)
def sigmoid_into_bce_with_logits(ff: FileFacts):
    for arg in _loss_inputs(ff, "binary_cross_entropy_with_logits", "BCEWithLogitsLoss"):
        if _is_activation(ff, arg, ("sigmoid",)):
            yield (
                arg,
                "sigmoid output fed to a *WithLogits loss, which applies sigmoid itself: "
                "pass logits",
            )
