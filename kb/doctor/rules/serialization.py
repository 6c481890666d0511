"""Saving and loading."""

from __future__ import annotations

import ast

from kb.doctor.facts import FileFacts
from kb.doctor.registry import rule


def _module_inside(ff: FileFacts, node: ast.AST) -> ast.AST | None:
    """The module object `node` is, or holds in a tuple/list/dict literal."""
    if ff.is_module_value(node):
        return node
    if isinstance(node, ast.Name) and node.id == "self":
        cls = ff.enclosing_class(node)
        return node if cls is not None and ff.is_module_class(cls) else None
    elts: list[ast.AST] = []
    if isinstance(node, ast.Tuple | ast.List):
        elts = list(node.elts)
    elif isinstance(node, ast.Dict):
        elts = [v for v in node.values if v is not None]
    for elt in elts:
        found = _module_inside(ff, elt)
        if found is not None:
            return found
    return None


@rule(
    "KBD029",
    "whole-module-saved",
    "cached-model-weights-only-load",
    "torch.save of a module object (the whole model) instead of its state_dict()",
    """
    `torch.save(model)` pickles the module object: its class is stored by reference
    (module path and name) along with every attribute, lambdas and local functions
    included. Loading it needs the same code at the same import path, fails for lambdas
    (`Can't pickle local object`), and on torch 2.6+ `torch.load` refuses it by default
    (`weights_only=True`: `Unsupported global`). Save `model.state_dict()` and rebuild
    the model from code when loading.
    """,
    """
    model = nn.Sequential(nn.Linear(4, 2))
    torch.save(model, "model.pt")
    """,
    """
    model = nn.Sequential(nn.Linear(4, 2))
    torch.save(model.state_dict(), "model.pt")
    """,
    needs=("save",),
)
def whole_module_saved(ff: FileFacts):
    for node in ff.of(ast.Call):
        if ff.call_qual(node) != "torch.save" or not node.args:
            continue
        found = _module_inside(ff, node.args[0])
        if found is not None:
            yield (
                node.args[0],
                "torch.save of a whole module pickles the object: save its state_dict()",
            )
