"""Which expressions certainly carry an autograd graph, as far as one file shows.

A value carries a graph when it is a Parameter, a tensor made with `requires_grad=True`,
the output of a module, or a differentiable operation on one of those. Anything the file
does not show (a function argument, a call into unknown code) does not count: rules built
on this stay quiet rather than guess.
"""

from __future__ import annotations

import ast

from kb.doctor.facts import UNKNOWN, FileFacts, is_true, keyword

# Tensor methods whose result carries the receiver's graph.
GRAD_METHODS = {
    "sum", "mean", "pow", "exp", "log", "abs", "sqrt", "rsqrt", "view", "reshape", "squeeze",
    "unsqueeze", "t", "transpose", "permute", "matmul", "mm", "bmm", "clamp", "clip",
    "sigmoid", "tanh", "relu", "softmax", "log_softmax", "norm", "mul", "add", "sub", "div",
    "flatten", "expand", "contiguous", "to", "cuda", "float", "double", "half", "prod",
    "max", "min", "std", "var", "neg", "square", "sin", "cos", "exp2", "log1p", "expm1",
    "clone", "masked_fill", "gather", "index_select", "repeat", "narrow", "select",
}  # fmt: skip
# torch functions whose result never carries a graph, or is not a tensor.
NO_GRAD_FUNCTIONS = {
    "tensor", "as_tensor", "Tensor", "from_numpy", "argmax", "argmin", "argsort", "is_tensor",
    "numel", "no_grad", "enable_grad", "inference_mode", "zeros_like", "ones_like",
    "empty_like", "full_like", "rand_like", "randn_like", "randint_like", "eq", "ne", "gt",
    "lt", "ge", "le", "isnan", "isinf", "isfinite", "equal", "allclose", "sign", "floor",
    "ceil", "round", "is_floating_point", "bucketize", "searchsorted", "nonzero", "where",
}  # fmt: skip
LOSS_WORDS = ("loss", "cross_entropy", "nll", "kl_div", "binary_cross_entropy")


class Flow:
    def __init__(self, ff: FileFacts) -> None:
        self.ff = ff
        self._names: dict[tuple[str, int], bool] = {}

    def carries_graph(self, node: ast.AST, depth: int = 0) -> bool:
        """`node` certainly evaluates to a tensor with a grad_fn (or a leaf needing grad)."""
        ff = self.ff
        if depth > 8:
            return False
        if isinstance(node, ast.Name):
            key = (node.id, id(ff.scope_of(node)))
            if key in self._names:
                return self._names[key]
            self._names[key] = False  # cycles (x = x * 2) resolve to "not known"
            values = ff.values_of(node.id, node)
            known = [v for v in values if v is not UNKNOWN]
            result = (
                bool(known)
                and len(known) == len(values)
                and all(self.carries_graph(v, depth + 1) for v in known)
            )
            # x = x * 2 after x = nn.Parameter(...): the first binding decides.
            if not result and known and values[0] is not UNKNOWN:
                first = values[0]
                result = self.carries_graph(first, depth + 1) and all(
                    node.id in _names(v) for v in known[1:]
                )
            self._names[key] = result
            return result
        if isinstance(node, ast.BinOp):
            return self.carries_graph(node.left, depth + 1) or self.carries_graph(
                node.right, depth + 1
            )
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not):
            return self.carries_graph(node.operand, depth + 1)
        if isinstance(node, ast.List | ast.Tuple):
            return any(self.carries_graph(e, depth + 1) for e in node.elts)
        if isinstance(node, ast.Subscript):
            return self.carries_graph(node.value, depth + 1)
        if not isinstance(node, ast.Call):
            return False
        if ff.is_parameter_ctor(node):
            return True
        if ff.is_tensor_factory(node):
            return is_true(keyword(node, "requires_grad"))
        q = ff.call_qual(node) or ""
        if q.startswith("torch."):
            name = q.rsplit(".", 1)[-1]
            direct = q.count(".") == 1 or q.startswith("torch.nn.functional.")
            if not direct or name in NO_GRAD_FUNCTIONS:
                return False
            args = [a.value if isinstance(a, ast.Starred) else a for a in node.args]
            return any(self.carries_graph(a, depth + 1) for a in args)
        if isinstance(node.func, ast.Attribute):
            if node.func.attr in GRAD_METHODS:
                return self.carries_graph(node.func.value, depth + 1)
            if node.func.attr == "requires_grad_":
                return True
        if self.is_module_call(node) and not ff.under_no_grad(node):
            return True
        if self.is_loss_call(node) and not ff.under_no_grad(node):
            return any(self.carries_graph(a, depth + 1) for a in node.args)
        return False

    def is_module_call(self, node: ast.AST) -> bool:
        """`model(x)` or `self.fc(x)` where the callee is certainly a module."""
        return isinstance(node, ast.Call) and self.ff.is_module_value(node.func)

    def is_loss_call(self, node: ast.AST) -> bool:
        """`F.mse_loss(...)`, or a call of a name bound to `nn.MSELoss()`."""
        ff = self.ff
        q = ff.call_qual(node)
        if q and q.startswith("torch.nn.functional."):
            return any(w in q.rsplit(".", 1)[-1] for w in LOSS_WORDS)
        if isinstance(node, ast.Call) and ff.is_module_value(node.func):
            return self.is_loss_module(node.func)
        return False

    def is_loss_module(self, node: ast.AST) -> bool:
        ff = self.ff

        def is_loss_ctor(v: ast.AST) -> bool:
            q = ff.call_qual(v) or ""
            return q.startswith("torch.nn.") and q.endswith("Loss")

        if isinstance(node, ast.Name):
            return ff.bound_to(node.id, node, is_loss_ctor)
        if isinstance(node, ast.Attribute):
            cls = ff.enclosing_class(node)
            values = ff.self_attr_values(cls, node.attr) if cls else []
            return bool(values) and all(is_loss_ctor(v) for v in values)
        return is_loss_ctor(node)


def _names(node: object) -> set[str]:
    if not isinstance(node, ast.AST):
        return set()
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def flow_of(ff: FileFacts) -> Flow:
    """The file's Flow, made once (its answers are cached per name)."""
    found = getattr(ff, "_flow", None)
    if found is None:
        found = Flow(ff)
        ff._flow = found  # type: ignore[attr-defined]
    return found
