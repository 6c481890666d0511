"""The training loop: zero_grad, backward, step, schedulers and what is kept across it."""

from __future__ import annotations

import ast

from kb.doctor.facts import FileFacts, dotted, statements
from kb.doctor.flow import flow_of
from kb.doctor.registry import rule

OPTIMIZER_NAMES = ("opt", "optim", "optimizer", "optimiser")


def _calls(node: ast.AST, method: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == method
    ]


def is_optimizer(ff: FileFacts, node: ast.AST) -> bool:
    """A name or attribute bound to a torch.optim optimizer, or named like one."""
    if isinstance(node, ast.Name):
        values = ff.values_of(node.id, node)
        if values and any(isinstance(v, ast.AST) and ff.is_optimizer_ctor(v) for v in values):
            return True
        if any(isinstance(v, ast.AST) and ff.is_scheduler_ctor(v) for v in values):
            return False
        return node.id.lower().rstrip(
            "_0123456789"
        ) in OPTIMIZER_NAMES or node.id.lower().startswith(("optimizer", "optimiser"))
    if isinstance(node, ast.Attribute) and dotted(node.value) == "self":
        cls = ff.enclosing_class(node)
        values = ff.self_attr_values(cls, node.attr) if cls else []
        if any(ff.is_optimizer_ctor(v) for v in values):
            return True
        if any(ff.is_scheduler_ctor(v) for v in values):
            return False
        return node.attr.lower() in OPTIMIZER_NAMES or node.attr.lower().startswith("optimizer")
    return False


def is_scheduler(ff: FileFacts, node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return ff.bound_to(node.id, node, ff.is_scheduler_ctor)
    if isinstance(node, ast.Attribute) and dotted(node.value) == "self":
        cls = ff.enclosing_class(node)
        values = ff.self_attr_values(cls, node.attr) if cls else []
        return bool(values) and all(ff.is_scheduler_ctor(v) for v in values)
    return False


def _optimizer_steps(ff: FileFacts, node: ast.AST) -> list[ast.Call]:
    return [c for c in _calls(node, "step") if is_optimizer(ff, c.func.value)]


def _clears_grads(ff: FileFacts) -> bool:
    """Anything in the file that resets gradients: zero_grad, `.grad = None`, grad.zero_()."""
    for node in ff.of(ast.Attribute, ast.Assign, ast.AugAssign, ast.Call, ast.Name):
        if isinstance(node, ast.Attribute) and node.attr in ("zero_grad", "zero_grad_"):
            return True
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) and t.attr == "grad" for t in targets):
                return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("zero_", "detach_", "fill_", "mul_")
            and "grad" in (dotted(node.func.value) or "").split(".")
        ):
            return True
        if isinstance(node, ast.Name) and node.id in ("set_to_none",):
            return True
    return False


@rule(
    "KBD016",
    "missing-zero-grad",
    "missing-zero-grad",
    "a training step with backward() and optimizer.step() and no zero_grad() in the file",
    """
    `backward()` *adds* to `.grad`. Without `optimizer.zero_grad()` (or `.grad = None`)
    each step applies the sum of every gradient so far, so the steps grow and training
    diverges or oscillates, with no error. Clear the gradients once per step, before
    `backward()`.
    """,
    """
    for x, y in loader:
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    """,
    """
    for x, y in loader:
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    """,
    needs=("backward",),
)
def missing_zero_grad(ff: FileFacts):
    if _clears_grads(ff):
        return
    # Loops and functions that run a backward() (distributed autograd keeps gradients per
    # context, so nothing accumulates in .grad there: not counted).
    units: set[ast.AST] = set()
    for call in ff.of(ast.Call):
        if (
            isinstance(call.func, ast.Attribute)
            and call.func.attr == "backward"
            and not (ff.qual(call.func) or "").startswith("torch.distributed.autograd.")
        ):
            units.update(u for u in _units_around(ff, call) if _repeats(ff, u))
    if not units:
        return
    for call in ff.of(ast.Call):
        if (
            isinstance(call.func, ast.Attribute)
            and call.func.attr == "step"
            and is_optimizer(ff, call.func.value)
            and units.intersection(_units_around(ff, call))
        ):
            yield call, "backward() and step() with no zero_grad(): gradients add up across steps"


def _repeats(ff: FileFacts, unit: ast.AST) -> bool:
    """A loop, or a function this file calls inside a loop (a train_step called per batch):
    only a step that repeats accumulates gradients."""
    if not isinstance(unit, ast.FunctionDef):
        return True
    for call in ff.of(ast.Call):
        name = dotted(call.func) or ""
        if name.rsplit(".", 1)[-1] == unit.name and _loop_scope(ff, call) is not None:
            return True
    return False


def _units_around(ff: FileFacts, node: ast.AST) -> list[ast.AST]:
    out = []
    current = ff.parents.get(node)
    while current is not None:
        if isinstance(current, ast.For | ast.While | ast.AsyncFor | ast.FunctionDef):
            out.append(current)
        current = ff.parents.get(current)
    return out


def _expr_call(stmt: ast.stmt, method: str) -> ast.Call | None:
    if (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Call)
        and isinstance(stmt.value.func, ast.Attribute)
        and stmt.value.func.attr == method
    ):
        return stmt.value
    return None


@rule(
    "KBD017",
    "zero-grad-between-backward-and-step",
    "zero-grad-between-backward-and-step",
    "zero_grad() called after backward() and before step()",
    """
    `zero_grad()` clears what `backward()` just computed, so the following `step()` has
    no gradient to apply (with `set_to_none=True`, the default, it skips every parameter)
    and the model never changes. Clear gradients at the start of the step.
    """,
    """
    loss.backward()
    opt.zero_grad()
    opt.step()
    """,
    """
    opt.zero_grad()
    loss.backward()
    opt.step()
    """,
    needs=("zero_grad",),
)
def zero_grad_between(ff: FileFacts):
    for scope in ff.scopes():
        for block in statements(scope.body):
            after_backward = False
            zeroed: ast.Call | None = None
            for stmt in block:
                if _expr_call(stmt, "backward") is not None:
                    after_backward, zeroed = True, None
                    continue
                call = _expr_call(stmt, "zero_grad")
                if call is not None:
                    zeroed = call if after_backward else None
                    continue
                step = _expr_call(stmt, "step")
                if step is not None and is_optimizer(ff, step.func.value):
                    if zeroed is not None:
                        yield (
                            zeroed,
                            "zero_grad() between backward() and step(): step() has "
                            "no gradient to apply",
                        )
                    after_backward, zeroed = False, None


def _loop_scope(ff: FileFacts, node: ast.AST) -> ast.AST | None:
    """The innermost loop around `node` within its function."""
    current = ff.parents.get(node)
    while current is not None and not isinstance(
        current, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
    ):
        if isinstance(current, ast.For | ast.While | ast.AsyncFor):
            return current
        current = ff.parents.get(current)
    return None


COMBINE = {"sum", "torch.stack", "torch.cat", "torch.sum", "torch.mean", "torch.autograd.grad",
           "torch.autograd.backward", "torch.hstack", "torch.vstack"}  # fmt: skip


@rule(
    "KBD018",
    "loss-tensor-kept",
    "loss-history-keeps-graph",
    "a loss tensor appended to a list inside a loop, without .item() or .detach()",
    """
    A loss tensor holds its `grad_fn`, and through it the whole graph of the step: every
    saved activation. Appending it to a list keeps one graph alive per iteration (or, for
    a loss that is never backpropagated, every activation), so memory grows each step
    until CUDA runs out. Record `loss.item()` (a Python float) or `loss.detach()`.
    """,
    """
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        losses.append(loss)
    """,
    """
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        losses.append(loss.item())
    """,
    needs=("append",),
)
def loss_tensor_kept(ff: FileFacts):
    flow = flow_of(ff)
    for node in ff.of(ast.Call):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "append"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Name)
        ):
            continue
        loop = _loop_scope(ff, node) or _outliving_call(ff, node)
        if loop is None or ff.under_no_grad(node):
            continue
        name = node.args[0].id
        backpropagated = any(
            isinstance(c.func.value, ast.Name) and c.func.value.id == name
            for c in _calls(loop, "backward")
        )
        values = ff.values_of(name, node)
        is_loss = bool(values) and all(
            isinstance(v, ast.AST) and flow.is_loss_call(v) and flow.carries_graph(v)
            for v in values
        )
        if not (backpropagated or is_loss):
            continue
        holder = dotted(node.func.value)
        if holder and _combined(ff, holder, ff.scope_of(node)):
            continue  # the list is summed or stacked: kept on purpose, for one backward
        yield node, f"'{name}' appended with its graph: append {name}.item() or {name}.detach()"


def _outliving_call(ff: FileFacts, node: ast.Call) -> ast.AST | None:
    """The function around an `append` whose list it did not create (a global, a closure's
    or an attribute's list): each call adds to what the last one left, as in a loop."""
    scope = ff.scope_of(node)
    if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    holder = node.func.value
    if isinstance(holder, ast.Name):
        return None if holder.id in ff.bindings(scope) else scope
    return scope if dotted(holder) and dotted(holder).startswith("self.") else None


def _combined(ff: FileFacts, holder: str, scope: ast.AST) -> bool:
    for n in ast.walk(scope):
        if (
            isinstance(n, ast.Call)
            and (ff.qual(n.func) in COMBINE or dotted(n.func) in COMBINE)
            and any(dotted(a) == holder for a in n.args)
        ):
            return True
    return False


NO_OP_METHODS = {"eval", "train", "zero_grad", "step", "backward"}


@rule(
    "KBD019",
    "method-not-called",
    "model-eval-without-parentheses",
    "`model.eval`, `model.train`, `opt.zero_grad`... as a statement, without parentheses",
    """
    `model.eval` on its own line only looks the method up; nothing calls it, so dropout
    and batch norm stay in training mode (and `opt.zero_grad` without `()` clears
    nothing). Python raises no error for an expression statement that does nothing.
    """,
    """
    model.eval
    """,
    """
    model.eval()
    """,
    needs=(".eval", ".train", "zero_grad", ".step", ".backward"),
)
def method_not_called(ff: FileFacts):
    for node in ff.of(ast.Expr):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr in NO_OP_METHODS
            and dotted(node.value) is not None
        ):
            yield node.value, f"'{dotted(node.value)}' is not called: add ()"


def _parameters_of(ff: FileFacts, call: ast.Call) -> str | None:
    """`model` for `SGD(model.parameters(), ...)`."""
    if not call.args:
        return None
    arg = call.args[0]
    if (
        isinstance(arg, ast.Call)
        and isinstance(arg.func, ast.Attribute)
        and arg.func.attr in ("parameters", "named_parameters")
    ):
        return dotted(arg.func.value)
    return None


@rule(
    "KBD020",
    "layer-replaced-after-optimizer",
    "layer-replaced-after-optimizer",
    "a layer of the model replaced after the optimizer took model.parameters()",
    """
    The optimizer keeps the Parameter objects it was given. A layer assigned afterwards
    (`model.fc = nn.Linear(...)`, `model[2] = ...`) brings new Parameters the optimizer
    has never seen: they get gradients but are never updated, while the optimizer keeps
    stepping the replaced layer's weights. Change the model first, then build the
    optimizer.
    """,
    """
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.fc = nn.Linear(8, 3)
    """,
    """
    model.fc = nn.Linear(8, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    """,
    needs=("parameters",),
)
def layer_replaced_after_optimizer(ff: FileFacts):
    for scope in ff.scopes():
        for block in statements(scope.body):
            owners: dict[str, str] = {}  # model -> optimizer name
            for stmt in block:
                if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
                    continue
                target = stmt.targets[0]
                if isinstance(target, ast.Name) and ff.is_optimizer_ctor(stmt.value):
                    model = _parameters_of(ff, stmt.value)
                    owners = {m: o for m, o in owners.items() if o != target.id}
                    if model:
                        owners[model] = target.id
                    continue
                if not ff.is_module_ctor(stmt.value):
                    continue
                inner = target
                while isinstance(inner, ast.Subscript | ast.Attribute):
                    inner = inner.value
                    name = dotted(inner)
                    if name in owners:
                        yield (
                            stmt,
                            (
                                f"'{name}' changed after optimizer '{owners[name]}' took its "
                                "parameters: the new layer is never updated"
                            ),
                        )
                        break


@rule(
    "KBD021",
    "optimizer-given-module",
    "sgd-given-module-not-parameters",
    "an optimizer constructed with the module itself instead of module.parameters()",
    """
    An optimizer takes an iterable of tensors (or of parameter-group dicts). A module is
    neither: `TypeError: params argument given to the optimizer should be an iterable of
    Tensors or dicts, but got Linear`.
    """,
    """
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model, lr=0.1)
    """,
    """
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    """,
    needs=("optim",),
)
def optimizer_given_module(ff: FileFacts):
    for node in ff.of(ast.Call):
        if ff.is_optimizer_ctor(node) and node.args and ff.is_module_value(node.args[0]):
            yield node.args[0], "the optimizer is given a module: pass module.parameters()"


@rule(
    "KBD022",
    "parameters-generator-reused",
    "parameters-generator-reused",
    "model.parameters() kept in a name and iterated more than once",
    """
    `model.parameters()` returns a generator, which can be iterated once. The first user
    (usually the optimizer) exhausts it; the next one (`clip_grad_norm_`, a second
    optimizer, a loop) sees an empty sequence and silently does nothing. Keep
    `list(model.parameters())`.
    """,
    """
    params = model.parameters()
    opt = torch.optim.SGD(params, lr=0.01)
    torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)
    """,
    """
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=0.01)
    torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)
    """,
    needs=("parameters(", "buffers(", "children("),
)
def parameters_generator_reused(ff: FileFacts):
    def is_generator(v: ast.AST) -> bool:
        return (
            isinstance(v, ast.Call)
            and isinstance(v.func, ast.Attribute)
            and v.func.attr in ("parameters", "named_parameters", "buffers", "children")
            and not v.args
            and _is_model(ff, v.func.value)  # other APIs' parameters() return lists
        )

    scopes = {
        ff.scope_of(call)
        for call in ff.of(ast.Call)
        if is_generator(call) and isinstance(ff.parents.get(call), ast.Assign)
    }
    for scope in scopes:
        for name, values in ff.bindings(scope).items():
            if not values or not all(isinstance(v, ast.AST) and is_generator(v) for v in values):
                continue
            from kb.doctor.facts import walk_scope

            loads = [
                n
                for n in walk_scope(scope)
                if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
            ]
            if len(loads) >= 2:
                yield (
                    loads[1],
                    (
                        f"'{name}' is a generator already used once: it is empty now; keep "
                        "list(...parameters())"
                    ),
                )


@rule(
    "KBD023",
    "scheduler-step-before-optimizer-step",
    "scheduler-step-before-optimizer",
    "lr_scheduler.step() called before optimizer.step() in the same loop",
    """
    Since torch 1.1 a scheduler's `step()` ends a period: called before the optimizer's
    first `step()`, it moves to the next learning rate before the first one is ever
    used, so the whole schedule runs one period early (torch warns once, easy to miss).
    Call `scheduler.step()` after `optimizer.step()`.
    """,
    """
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for epoch in range(3):
        sched.step()
        F.mse_loss(model(x), y).backward()
        opt.step()
    """,
    """
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for epoch in range(3):
        F.mse_loss(model(x), y).backward()
        opt.step()
        sched.step()
    """,
    needs=("step",),
)
def scheduler_before_optimizer(ff: FileFacts):
    for loop in ff.of(ast.For, ast.While, ast.AsyncFor):
        sched: ast.Call | None = None
        for stmt in loop.body:
            call = _expr_call(stmt, "step")
            if call is not None and sched is None and is_scheduler(ff, call.func.value):
                sched = call
                continue
            if _optimizer_steps(ff, stmt):
                if sched is not None:
                    yield (
                        sched,
                        "scheduler.step() before optimizer.step(): the schedule "
                        "runs one step early",
                    )
                break


@rule(
    "KBD024",
    "state-dict-kept-by-reference",
    "state-dict-snapshot-reference",
    "`best = model.state_dict()` kept inside a training loop without a copy",
    """
    `state_dict()` returns references to the live parameter tensors, not a copy. The
    optimizer updates those tensors in place, so the "best" weights kept this way keep
    changing and end up equal to the last ones. Keep `copy.deepcopy(model.state_dict())`,
    or save it to a file at once.
    """,
    """
    for epoch in range(5):
        val_loss = train_one_epoch(model)
        if val_loss < best_loss:
            best_state = model.state_dict()
    """,
    """
    for epoch in range(5):
        val_loss = train_one_epoch(model)
        if val_loss < best_loss:
            best_state = copy.deepcopy(model.state_dict())
    """,
    needs=("state_dict",),
)
def state_dict_by_reference(ff: FileFacts):
    for node in ff.of(ast.Assign):
        if not isinstance(node, ast.Assign) or not isinstance(ff.parents.get(node), ast.If):
            continue
        loop = _outer_loop(ff, node)
        if loop is None or not _trains(loop):
            continue  # weights that never change make a reference as good as a copy
        pairs: list[tuple[ast.AST, ast.AST]] = []
        for target in node.targets:
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                pairs.extend(zip(target.elts, node.value.elts, strict=False))
            else:
                pairs.append((target, node.value))
        for target, value in pairs:
            if (
                isinstance(target, ast.Name | ast.Attribute)
                and isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and value.func.attr == "state_dict"
                and not value.args
                and _is_model(ff, value.func.value)
                and not _saved_at_once(ff, node, dotted(target))
            ):
                yield (
                    value,
                    (
                        f"'{dotted(target)}' keeps references to the live weights: later steps "
                        "change it; use copy.deepcopy(...state_dict())"
                    ),
                )


MODEL_WORDS = ("model", "net", "module", "encoder", "decoder", "generator", "discriminator",
               "policy", "actor", "critic", "classifier", "backbone")  # fmt: skip


def _is_model(ff: FileFacts, node: ast.AST) -> bool:
    """A module, by binding or by the name people give models (a DataLoader or a scheduler
    has a state_dict() too, and copies it)."""
    if ff.is_module_value(node):
        return True
    name = (dotted(node) or "").rsplit(".", 1)[-1].lower()
    return any(word in name for word in MODEL_WORDS)


def _outer_loop(ff: FileFacts, node: ast.AST) -> ast.AST | None:
    """The outermost loop around `node` within its function."""
    found = None
    current = ff.parents.get(node)
    while current is not None and not isinstance(
        current, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
    ):
        if isinstance(current, ast.For | ast.While | ast.AsyncFor):
            found = current
        current = ff.parents.get(current)
    return found


def _trains(loop: ast.AST) -> bool:
    """The loop visibly changes weights: an optimizer step, a backward, or a call of
    something named train (train_one_epoch(...), trainer.train())."""
    for n in ast.walk(loop):
        if isinstance(n, ast.Call):
            name = (dotted(n.func) or "").rsplit(".", 1)[-1].lower()
            if name in ("step", "backward") or name.startswith("train") or "_train" in name:
                return True
    return False


def _saved_at_once(ff: FileFacts, assign: ast.Assign, name: str | None) -> bool:
    """The kept state_dict is written out right away in the same block (torch.save)."""
    block = ff.parents.get(assign)
    for n in ast.walk(block):
        if (
            isinstance(n, ast.Call)
            and (ff.call_qual(n) or "").endswith("save")
            and any(dotted(a) == name for a in n.args)
        ):
            return True
    return False


CLIPS = ("clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "clip_grads_with_norm_")


def _scaled_backward(stmt: ast.stmt) -> str | None:
    """`scaler` for a statement `scaler.scale(loss).backward()`."""
    call = _expr_call(stmt, "backward")
    if call is None:
        return None
    inner = call.func.value
    if (
        isinstance(inner, ast.Call)
        and isinstance(inner.func, ast.Attribute)
        and inner.func.attr == "scale"
    ):
        return dotted(inner.func.value)
    return None


@rule(
    "KBD031",
    "clip-before-unscale",
    "clip-grad-before-unscale",
    "gradients clipped after scaler.scale(loss).backward() without scaler.unscale_(opt) first",
    """
    With a `GradScaler`, `backward()` leaves gradients multiplied by the loss scale
    (65536 at first). Clipping them then compares the *scaled* norm with `max_norm`, so
    clipping cuts far too much, and `scaler.step()` divides the clipped gradients by the
    scale again: the update is tiny. Call `scaler.unscale_(optimizer)` before clipping.
    """,
    """
    scaler.scale(loss).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    scaler.step(opt)
    """,
    """
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    scaler.step(opt)
    """,
    needs=("clip_grad",),
)
def clip_before_unscale(ff: FileFacts):
    for scope in ff.scopes():
        for block in statements(scope.body):
            scaler: str | None = None
            for stmt in block:
                found = _scaled_backward(stmt)
                if found:
                    scaler = found
                    continue
                if scaler is None:
                    continue
                calls = [n for n in ast.walk(stmt) if isinstance(n, ast.Call)]
                if any(
                    isinstance(c.func, ast.Attribute)
                    and c.func.attr == "unscale_"
                    and dotted(c.func.value) == scaler
                    for c in calls
                ):
                    scaler = None
                    continue
                clip = next(
                    (c for c in calls if (dotted(c.func) or "").rsplit(".", 1)[-1] in CLIPS), None
                )
                if clip is not None:
                    yield (
                        clip,
                        (
                            f"gradients clipped while still scaled by '{scaler}': call "
                            f"{scaler}.unscale_(optimizer) first"
                        ),
                    )
                    scaler = None
