"""Leaves, graphs and in-place writes: mistakes autograd pays for."""

from __future__ import annotations

import ast

from kb.doctor.facts import FileFacts, dotted, is_true, keyword, statements
from kb.doctor.flow import flow_of
from kb.doctor.registry import rule

MOVES = ("to", "cuda", "double", "float", "half", "bfloat16", "type", "cpu")
# In-place methods that are not about autograd's data (flags, memory placement).
NOT_DATA_INPLACE = {"requires_grad_", "share_memory_", "retain_grad", "record_stream"}


def _inplace_method(node: ast.AST) -> tuple[ast.AST, str] | None:
    """(receiver, method) for `x.method_(...)`: an in-place tensor method call."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr.endswith("_")
        and not node.func.attr.endswith("__")
        and node.func.attr not in NOT_DATA_INPLACE
    ):
        return node.func.value, node.func.attr
    return None


@rule(
    "KBD010",
    "torch-tensor-of-graph-tensors",
    "torch-tensor-cuts-graph",
    "torch.tensor([...]) / torch.Tensor([...]) over tensors that carry a graph",
    """
    `torch.tensor(list_of_tensors)` reads the *numbers* out of the elements and builds a
    new leaf tensor: the result has no `grad_fn`, so nothing computed from it reaches the
    parameters the elements came from. `backward()` then fails with `element 0 of
    tensors does not require grad`, or trains nothing. `torch.stack` (or `torch.cat`) is
    the differentiable way to combine tensors.
    """,
    """
    a = nn.Parameter(torch.rand(3))
    parts = [a[0] * 2, torch.log(a[1])]
    combined = torch.tensor(parts)
    """,
    """
    a = nn.Parameter(torch.rand(3))
    parts = [a[0] * 2, torch.log(a[1])]
    combined = torch.stack(parts)
    """,
    needs=("tensor(", "Tensor("),
)
def tensor_of_graph_tensors(ff: FileFacts):
    flow = flow_of(ff)
    for node in ff.of(ast.Call):
        q = ff.call_qual(node)
        if q not in ("torch.tensor", "torch.Tensor", "torch.FloatTensor") or not node.args:
            continue
        if ff.under_no_grad(node):
            continue
        arg = node.args[0]
        elts: list[ast.AST] = []
        if isinstance(arg, ast.List | ast.Tuple):
            elts = list(arg.elts)
        elif isinstance(arg, ast.Name):
            values = ff.values_of(arg.id, arg)
            if values and all(isinstance(v, ast.List | ast.Tuple) for v in values):
                elts = [e for v in values for e in v.elts]
        if any(flow.carries_graph(e) for e in elts):
            name = q.split(".", 1)[1]
            yield node, f"torch.{name}() copies the values and drops the graph: use torch.stack"


@rule(
    "KBD011",
    "requires-grad-then-moved",
    "requires-grad-then-to-non-leaf",
    "a tensor made with requires_grad=True, then moved or cast with .to()/.cuda()/.double()",
    """
    `.to(device)` on a tensor that requires grad is an operation autograd records: the
    result is a *copy* with a `grad_fn`, not a leaf. The name now points at the copy, so
    `.grad` stays None after `backward()` (the gradient goes to the unnamed original), and
    an optimizer refuses it (`can't optimize a non-leaf Tensor`). Create the tensor on
    its device and dtype directly, with `requires_grad=True` last.
    """,
    """
    w = torch.randn(3, requires_grad=True).to(device)
    """,
    """
    w = torch.randn(3, device=device, requires_grad=True)
    """,
    needs=("requires_grad", "Parameter"),
)
def requires_grad_then_moved(ff: FileFacts):
    for node in ff.of(ast.Call):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in MOVES
            and isinstance(node.func.value, ast.Call)
        ):
            continue
        made = node.func.value
        grad = (ff.is_tensor_factory(made) and is_true(keyword(made, "requires_grad"))) or (
            ff.is_parameter_ctor(made)
            and (len(made.args) < 2 and not _false(keyword(made, "requires_grad")))
        )
        if not grad or _rewrapped(ff, node):
            continue
        what = "nn.Parameter" if ff.is_parameter_ctor(made) else "requires_grad tensor"
        yield (
            node,
            (
                f"{what} moved with .{node.func.attr}(): the result is a non-leaf copy; create it "
                "on its device/dtype"
            ),
        )


def _false(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _rewrapped(ff: FileFacts, node: ast.AST) -> bool:
    """The moved copy is made a leaf again: `nn.Parameter(...)`, `.detach()`,
    `.requires_grad_()` around it, or it is only used under no_grad."""
    parent = ff.parents.get(node)
    while parent is not None:
        if ff.is_parameter_ctor(parent):
            return True
        if isinstance(parent, ast.Attribute) and parent.attr in ("detach", "requires_grad_"):
            return True
        if not isinstance(parent, ast.Call | ast.Attribute):
            break
        parent = ff.parents.get(parent)
    return ff.under_no_grad(node)


@rule(
    "KBD012",
    "parameter-rebound",
    "parameter-reassigned-non-leaf",
    "a name bound to a Parameter (or requires_grad leaf) re-bound to an expression of itself",
    """
    `p = p * 2` does not change the Parameter: it makes the name `p` refer to the product,
    a non-leaf tensor. The Parameter still exists (the optimizer and the module hold it)
    but this code can no longer reach it: `p.grad` is None after `backward()`, with a
    warning about reading `.grad` of a non-leaf. Give the computed tensor its own name.
    """,
    """
    p = nn.Parameter(torch.rand(3))
    p = p * 2
    p.sum().backward()
    """,
    """
    p = nn.Parameter(torch.rand(3))
    p2 = p * 2
    p2.sum().backward()
    """,
    needs=("requires_grad", "Parameter"),
)
def parameter_rebound(ff: FileFacts):
    flow = flow_of(ff)
    # Only names a leaf is assigned to, in the scopes that assign them.
    wanted: dict[ast.AST, set[str]] = {}
    for call in ff.of(ast.Call):
        parent = ff.parents.get(call)
        if isinstance(parent, ast.Assign) and (
            ff.is_parameter_ctor(call)
            or (ff.is_tensor_factory(call) and is_true(keyword(call, "requires_grad")))
        ):
            names = {t.id for t in parent.targets if isinstance(t, ast.Name)}
            wanted.setdefault(ff.scope_of(parent), set()).update(names)
    for scope, names in wanted.items():
        for name, values in ff.bindings(scope).items():
            if name not in names or len(values) < 2 or not isinstance(values[0], ast.AST):
                continue
            first = values[0]
            leaf = ff.is_parameter_ctor(first) or (
                ff.is_tensor_factory(first) and is_true(keyword(first, "requires_grad"))
            )
            if not leaf:
                continue
            for later in values[1:]:
                if not isinstance(later, ast.AST):
                    break  # a loop target or unknown: the name's story is not clear
                if ff.is_parameter_ctor(later) or ff.is_tensor_factory(later):
                    break
                if name in {n.id for n in ast.walk(later) if isinstance(n, ast.Name)} and (
                    isinstance(later, ast.BinOp | ast.UnaryOp | ast.Call)
                    and flow.carries_graph(later)
                    and not ff.under_no_grad(later)
                    and not _detached(later)
                ):
                    yield (
                        later,
                        (
                            f"'{name}' re-bound to an expression of itself: it no longer names the "
                            "leaf, and its .grad stays None"
                        ),
                    )
                    break


def _detached(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Attribute) and n.attr in ("detach", "detach_", "requires_grad_")
        for n in ast.walk(node)
    )


def _data_write(stmt: ast.stmt) -> str | None:
    """The tensor (dotted) whose `.data` this statement writes, else None."""
    node: ast.AST | None = None
    if isinstance(stmt, ast.Expr):
        found = _inplace_method(stmt.value)
        if found and isinstance(found[0], ast.Attribute) and found[0].attr == "data":
            node = found[0].value
    elif isinstance(stmt, ast.Assign | ast.AugAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for t in targets:
            t = t.value if isinstance(t, ast.Subscript) else t
            if isinstance(t, ast.Attribute) and t.attr == "data":
                node = t.value
    return dotted(node) if node is not None else None


def _backward_of(stmt: ast.stmt) -> str | None:
    """`loss` for a statement `loss.backward(...)`."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        f = stmt.value.func
        if isinstance(f, ast.Attribute) and f.attr == "backward":
            return dotted(f.value)
    return None


@rule(
    "KBD013",
    "data-written-before-backward",
    "data-inplace-corrupts-gradient",
    "a write through .data between computing a loss from a tensor and calling backward()",
    """
    Writes through `.data` bypass autograd's version counter. When the loss was computed
    from the tensor, its backward uses the saved values, which the write has just
    changed: the gradient is computed from numbers the forward pass never saw, and no
    error says so. Do the write after `backward()` (after `optimizer.step()` in a
    training loop), under `torch.no_grad()`.
    """,
    """
    w = nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))
    loss = (w ** 2).sum()
    w.data.clamp_(max=2.0)
    loss.backward()
    """,
    """
    w = nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))
    loss = (w ** 2).sum()
    loss.backward()
    with torch.no_grad():
        w.clamp_(max=2.0)
    """,
    needs=(".data",),
)
def data_written_before_backward(ff: FileFacts):
    scopes = ff.scopes()
    for scope in scopes:
        for block in statements(scope.body):
            computed: dict[str, set[str]] = {}  # loss name -> root names it was computed from
            pending: list[tuple[ast.stmt, str, str]] = []  # (write, tensor, loss)
            for stmt in block:
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                    target = stmt.targets[0]
                    if isinstance(target, ast.Name):
                        computed[target.id] = {
                            n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)
                        }
                        pending = [p for p in pending if p[2] != target.id]
                written = _data_write(stmt)
                if written:
                    root = written.split(".")[0]
                    for loss, roots in computed.items():
                        if root in roots:
                            pending.append((stmt, written, loss))
                loss = _backward_of(stmt)
                if loss:
                    for write, tensor, of in pending:
                        if of == loss:
                            yield (
                                write,
                                (
                                    f"'{tensor}.data' written after '{loss}' was computed from it "
                                    "and before its backward(): the gradient uses the new values"
                                ),
                            )
                    pending = [p for p in pending if p[2] != loss]
                    computed.pop(loss, None)


@rule(
    "KBD014",
    "leaf-updated-in-place-with-grad",
    "leaf-inplace-update",
    "`w -= lr * w.grad` (or `w.sub_(...)`) outside torch.no_grad()",
    """
    A hand-written update is an in-place operation on a leaf that requires grad. Outside
    `torch.no_grad()` autograd would have to record it, and refuses: `a leaf Variable
    that requires grad is being used in an in-place operation`. The update is not part of
    the model; run it under `torch.no_grad()`.
    """,
    """
    loss.backward()
    w -= 0.1 * w.grad
    """,
    """
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
    """,
    needs=(".grad",),
)
def leaf_updated_in_place(ff: FileFacts):
    for node in ff.of(ast.AugAssign, ast.Call):
        target: ast.AST | None = None
        value: ast.AST | None = None
        if isinstance(node, ast.AugAssign):
            target, value = node.target, node.value
        else:
            found = _inplace_method(node)
            if found and found[1] in ("sub_", "add_", "addcmul_", "addcdiv_"):
                target, value = found[0], node
        if target is None or value is None:
            continue
        name = dotted(target)
        if name is None or name.endswith(".data"):
            continue
        uses_grad = any(
            isinstance(n, ast.Attribute) and n.attr == "grad" and dotted(n.value) == name
            for n in ast.walk(value)
        )
        if uses_grad and not ff.under_no_grad(node) and _backward_in_scope(ff, node):
            yield node, f"in-place update of '{name}' from its .grad outside torch.no_grad()"


def _backward_in_scope(ff: FileFacts, node: ast.AST) -> bool:
    """The update sits in the code that runs backward(): a helper (an optimizer's step) may
    be called under torch.no_grad() by its caller, which this file may not show."""
    from kb.doctor.facts import walk_scope

    scope = ff.scope_of(node)
    return any(isinstance(n, ast.Attribute) and n.attr == "backward" for n in walk_scope(scope))


# Operations whose backward uses their own *output*: changing it in place breaks backward.
SAVES_OUTPUT = {"sigmoid", "tanh", "exp", "softmax", "log_softmax", "relu", "sqrt", "rsqrt",
                "elu", "selu", "celu", "relu6", "hardtanh", "exp2"}  # fmt: skip


def _saves_output(ff: FileFacts, node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    q = ff.call_qual(node) or ""
    if q in {f"torch.{n}" for n in SAVES_OUTPUT} | {
        f"torch.nn.functional.{n}" for n in SAVES_OUTPUT
    }:
        return bool(node.args) and flow_of(ff).carries_graph(node.args[0])
    if isinstance(node.func, ast.Attribute) and node.func.attr in SAVES_OUTPUT:
        return flow_of(ff).carries_graph(node.func.value)
    return False


@rule(
    "KBD015",
    "inplace-on-saved-output",
    "inplace-activation-modifies-saved-output",
    "an in-place change to the output of sigmoid/tanh/exp/softmax that backward needs",
    """
    `sigmoid`, `tanh`, `exp`, `softmax` and `relu` save their *output* for backward.
    Changing that tensor in place (`p.clamp_()`, `p.mul_()`, `p[mask] = 0`) bumps its
    version counter, and `backward()` refuses: `one of the variables needed for gradient
    computation has been modified by an inplace operation`. Use the out-of-place form
    (`p = p.clamp(...)`).
    """,
    """
    lin = nn.Linear(3, 1)
    p = torch.sigmoid(lin(x))
    p.clamp_(1e-6, 1 - 1e-6)
    F.binary_cross_entropy(p, y).backward()
    """,
    """
    lin = nn.Linear(3, 1)
    p = torch.sigmoid(lin(x)).clamp(1e-6, 1 - 1e-6)
    F.binary_cross_entropy(p, y).backward()
    """,
    needs=("backward",),
)
def inplace_on_saved_output(ff: FileFacts):
    if not any(isinstance(n, ast.Attribute) and n.attr == "backward" for n in ff.of(ast.Attribute)):
        return  # nothing in this file runs backward: the saved output is never read
    scopes = ff.scopes()
    for scope in scopes:
        for block in statements(scope.body):
            saved: dict[str, ast.AST] = {}
            for stmt in block:
                hit = None
                if isinstance(stmt, ast.Expr):
                    found = _inplace_method(stmt.value)
                    if found and isinstance(found[0], ast.Name) and found[0].id in saved:
                        hit = found[0].id
                elif isinstance(stmt, ast.AugAssign | ast.Assign):
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                    for t in targets:
                        if (
                            isinstance(t, ast.Subscript)
                            and isinstance(t.value, ast.Name)
                            and t.value.id in saved
                        ) or (
                            isinstance(stmt, ast.AugAssign)
                            and isinstance(t, ast.Name)
                            and t.id in saved
                        ):
                            hit = t.value.id if isinstance(t, ast.Subscript) else t.id
                if hit and not ff.under_no_grad(stmt):
                    yield (
                        stmt,
                        (
                            f"'{hit}' is changed in place, but the op that made it saved it for "
                            "backward: use the out-of-place form"
                        ),
                    )
                    saved.pop(hit)
                if isinstance(stmt, ast.Assign):
                    for t in stmt.targets:
                        if isinstance(t, ast.Name):
                            saved.pop(t.id, None)
                            if _saves_output(ff, stmt.value) and not ff.under_no_grad(stmt):
                                saved[t.id] = stmt.value


HOST_CHAIN = ("cpu", "cuda", "to", "float", "double", "half", "contiguous", "squeeze")


@rule(
    "KBD030",
    "numpy-of-graph-tensor",
    "numpy-on-tensor-requiring-grad",
    ".numpy() on a tensor that is part of the graph (a model output), without .detach()",
    """
    `.numpy()` shares memory with the tensor, and NumPy knows nothing of autograd: a
    tensor that requires grad refuses (`Can't call numpy() on Tensor that requires grad.
    Use tensor.detach().numpy() instead.`). Detach first, or compute it under
    `torch.no_grad()`.
    """,
    """
    model = nn.Linear(3, 2)
    pred = model(x)
    pred_np = pred.cpu().numpy()
    """,
    """
    model = nn.Linear(3, 2)
    pred = model(x)
    pred_np = pred.detach().cpu().numpy()
    """,
    needs=(".numpy(",),
)
def numpy_of_graph_tensor(ff: FileFacts):
    flow = flow_of(ff)
    for node in ff.of(ast.Call):
        if not (
            isinstance(node.func, ast.Attribute) and node.func.attr == "numpy" and not node.args
        ):
            continue
        receiver = node.func.value
        while (
            isinstance(receiver, ast.Call)
            and isinstance(receiver.func, ast.Attribute)
            and receiver.func.attr in HOST_CHAIN
        ):
            receiver = receiver.func.value
        if ff.under_no_grad(node) or _detached(receiver):
            continue
        if flow.carries_graph(receiver):
            yield node, ".numpy() on a tensor that requires grad: call .detach() first"
