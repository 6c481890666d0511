"""How a module holds what it owns: containers, attributes, `__init__` and `forward`."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from kb.doctor.facts import FileFacts, dotted, is_true, keyword
from kb.doctor.registry import rule

CONTAINERS = ("torch.nn.ModuleList", "torch.nn.Sequential")


def _container_items(ff: FileFacts) -> Iterator[tuple[ast.Call, str, ast.AST]]:
    """(container call, container name, element) for every literal element given to an
    nn.ModuleList / nn.Sequential, or appended to or extending one held by a name."""
    for node in ff.of(ast.Call):
        if not isinstance(node, ast.Call):
            continue
        q = ff.call_qual(node)
        if q in CONTAINERS:
            short = q.rsplit(".", 1)[-1]
            if short == "ModuleList" and node.args and isinstance(node.args[0], ast.List):
                for elt in node.args[0].elts:
                    yield node, short, elt
            elif short == "Sequential":
                for arg in node.args:
                    yield node, short, arg
        elif (
            isinstance(node.func, ast.Attribute)
            and node.func.attr in ("append", "extend")
            and node.args
            and _is_module_list(ff, node.func.value)
        ):
            arg = node.args[0]
            elts = arg.elts if node.func.attr == "extend" and isinstance(arg, ast.List) else [arg]
            for elt in elts if node.func.attr == "extend" else [arg]:
                yield node, "ModuleList", elt


def _is_module_list(ff: FileFacts, node: ast.AST) -> bool:
    def made(v: ast.AST) -> bool:
        return ff.is_torch_call(v, "torch.nn.ModuleList")

    if isinstance(node, ast.Name):
        return ff.bound_to(node.id, node, made)
    if isinstance(node, ast.Attribute) and dotted(node.value) == "self":
        cls = ff.enclosing_class(node)
        values = ff.self_attr_values(cls, node.attr) if cls else []
        return bool(values) and all(made(v) for v in values)
    return False


def _strip_chain(node: ast.AST) -> ast.AST:
    """`torch.ones(3).to(device)` -> `torch.ones(3)`: the call that made the value."""
    while (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("to", "cuda", "cpu", "float", "double", "half", "requires_grad_")
        and isinstance(node.func.value, ast.Call)
    ):
        node = node.func.value
    return node


@rule(
    "KBD001",
    "tensor-in-module-container",
    "modulelist-tensor-not-module",
    "a tensor put into nn.ModuleList or nn.Sequential",
    """
    `nn.ModuleList` and `nn.Sequential` register every element as a child module with
    `add_module`, which refuses anything that is not an `nn.Module`: building the model
    raises `TypeError: torch.FloatTensor is not a Module subclass`. A constant tensor
    belongs in a buffer (`register_buffer`), a learned one in an `nn.Parameter` attribute.
    """,
    """
    layers = nn.ModuleList([nn.Linear(4, 8), torch.tensor(3.0)])
    """,
    """
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(4, 8)])
            self.register_buffer("scale", torch.tensor(3.0))
    """,
    needs=("ModuleList", "Sequential"),
)
def tensor_in_container(ff: FileFacts):
    for _call, kind, elt in _container_items(ff):
        made = _strip_chain(elt)
        if ff.is_tensor_factory(made):
            yield elt, f"a tensor inside nn.{kind}: it only holds modules; use register_buffer"


@rule(
    "KBD002",
    "parameter-in-module-container",
    "modulelist-parameter-not-module",
    "an nn.Parameter put into nn.ModuleList or nn.Sequential",
    """
    An `nn.Parameter` is a tensor, not a module. `nn.ModuleList` and `nn.Sequential` hand
    each element to `add_module`, which raises `TypeError: torch.FloatTensor is not a
    Module subclass`. Parameters have their own containers: `nn.ParameterList` and
    `nn.ParameterDict`, or a plain `nn.Parameter` attribute.
    """,
    """
    layers = nn.ModuleList([nn.Linear(4, 8), nn.Parameter(torch.ones(()))])
    """,
    """
    layers = nn.ModuleList([nn.Linear(4, 8)])
    scales = nn.ParameterList([nn.Parameter(torch.ones(()))])
    """,
    needs=("ModuleList", "Sequential"),
)
def parameter_in_container(ff: FileFacts):
    for _call, kind, elt in _container_items(ff):
        if ff.is_parameter_ctor(_strip_chain(elt)):
            yield elt, f"an nn.Parameter inside nn.{kind}: use nn.ParameterList"


def _plain_container_members(ff: FileFacts, value: ast.AST) -> list[ast.AST]:
    """Elements of a list/tuple/dict literal or comprehension that build a module or a
    Parameter (references to existing attributes are fine: they are registered already)."""
    if isinstance(value, ast.List | ast.Tuple):
        elts = list(value.elts)
    elif isinstance(value, ast.Dict):
        elts = [v for v in value.values if v is not None]
    elif isinstance(value, ast.ListComp):
        elts = [value.elt]
    elif isinstance(value, ast.DictComp):
        elts = [value.value]
    else:
        return []
    return [e for e in elts if ff.is_module_ctor(e) or ff.is_parameter_ctor(_strip_chain(e))]


@rule(
    "KBD003",
    "modules-in-plain-container",
    "parameters-in-python-list",
    "sub-modules or Parameters kept in a plain list or dict attribute of a module",
    """
    `nn.Module.__setattr__` registers a value only when it *is* a module or a Parameter.
    A Python list or dict of layers is neither, so the layers inside it are invisible to
    `parameters()`, `state_dict()`, `.to(device)` and `.train()/.eval()`: the optimizer
    never updates them and saving the model leaves them out, with no error.
    """,
    """
    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = [nn.Linear(3, 3) for _ in range(2)]
    """,
    """
    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.ModuleList(nn.Linear(3, 3) for _ in range(2))
    """,
    needs=("self.",),
)
def modules_in_plain_container(ff: FileFacts):
    for cls, method in ff.module_methods():
        if method.name != "__init__":
            continue
        plain: dict[str, ast.AST] = {}
        for node in ast.walk(method):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Attribute) and dotted(target.value) == "self":
                    members = _plain_container_members(ff, node.value)
                    kind = "dict" if isinstance(node.value, ast.Dict | ast.DictComp) else "list"
                    if members:
                        what = _what(ff, members[0])
                        yield (
                            node.value,
                            (
                                f"{what} in a plain {kind} 'self.{target.attr}': not registered; "
                                f"use nn.Module{kind.title()}"
                                if what == "modules"
                                else f"{what} in a plain {kind} 'self.{target.attr}': not "
                                f"registered; use nn.Parameter{kind.title()}"
                            ),
                        )
                    elif isinstance(node.value, ast.List | ast.Dict) and not (
                        node.value.elts if isinstance(node.value, ast.List) else node.value.keys
                    ):
                        plain[target.attr] = node.value
        # self.blocks = [] ... self.blocks.append(nn.Linear(...))
        for node in ast.walk(method):
            m = node.func if isinstance(node, ast.Call) else None
            if (
                isinstance(m, ast.Attribute)
                and m.attr == "append"
                and isinstance(m.value, ast.Attribute)
                and dotted(m.value.value) == "self"
                and m.value.attr in plain
                and node.args
                and (ff.is_module_ctor(node.args[0]) or ff.is_parameter_ctor(node.args[0]))
                and _only_plain(ff, cls, m.value.attr)
            ):
                what = _what(ff, node.args[0])
                fix = "nn.ModuleList" if what == "modules" else "nn.ParameterList"
                yield (
                    node,
                    (
                        f"{what} appended to a plain list 'self.{m.value.attr}': not registered; "
                        f"use {fix}"
                    ),
                )


def _what(ff: FileFacts, node: ast.AST) -> str:
    return "Parameters" if ff.is_parameter_ctor(_strip_chain(node)) else "modules"


def _only_plain(ff: FileFacts, cls: ast.ClassDef, attr: str) -> bool:
    values = ff.self_attr_values(cls, attr)
    return all(isinstance(v, ast.List | ast.Dict) for v in values)


@rule(
    "KBD004",
    "parameter-created-in-forward",
    "parameter-created-in-forward",
    "an nn.Parameter created inside forward()",
    """
    A Parameter made in `forward` is a new, freshly initialised leaf on every call. It was
    not registered when the optimizer collected `model.parameters()`, so the optimizer never
    updates it, `state_dict()` never saves it, and each forward pass uses new random
    weights. Create it once in `__init__` as an attribute.
    """,
    """
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 4)

        def forward(self, x):
            w = nn.Parameter(torch.randn(4, 1, device=x.device))
            return self.linear(x) @ w
    """,
    """
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 4)
            self.w = nn.Parameter(torch.randn(4, 1))

        def forward(self, x):
            return self.linear(x) @ self.w
    """,
    needs=("Parameter",),
)
def parameter_in_forward(ff: FileFacts):
    for node in ff.of(ast.Call):
        if not ff.is_parameter_ctor(node) or ff.method_of_module(node, "forward") is None:
            continue
        # `self.weight = nn.Parameter(...)` under a guard is lazy initialisation: the
        # Parameter is registered (once) on the first call.
        parent = ff.parents.get(node)
        if isinstance(parent, ast.Assign) and any(
            isinstance(t, ast.Attribute) and dotted(t.value) == "self" for t in parent.targets
        ):
            continue
        if isinstance(parent, ast.Call) and (ff.call_name(parent) or "").endswith(
            ("register_parameter", "setattr")
        ):
            continue
        yield node, "nn.Parameter created in forward(): a new unregistered weight every call"


TENSOR_ATTR_OK = ("to", "type_as", "cuda", "register_buffer")


def _tensor_attrs(ff: FileFacts, requires_grad: bool):
    for cls, method in ff.module_methods():
        if method.name != "__init__":
            continue
        for node in ast.walk(method):
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
                continue
            target = node.targets[0]
            if not (isinstance(target, ast.Attribute) and dotted(target.value) == "self"):
                continue
            value = _strip_chain(node.value)
            if not ff.is_tensor_factory(value):
                continue
            grad = is_true(keyword(value, "requires_grad")) or (
                isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr == "requires_grad_"
            )
            if grad != requires_grad:
                continue
            if len(ff.self_attr_values(cls, target.attr)) != 1:
                continue  # rebound elsewhere (often to a Parameter or buffer): not certain
            yield cls, target, node


@rule(
    "KBD005",
    "tensor-attribute-not-buffer",
    "tensor-attribute-not-buffer",
    "a plain tensor assigned as a module attribute in __init__",
    """
    `self.mean = torch.tensor(...)` stores an ordinary attribute: the tensor is not a
    buffer, so `model.to(device)` and `model.double()` leave it behind (device or dtype
    mismatch in `forward`) and `state_dict()` does not save it. Register it with
    `self.register_buffer("mean", ...)` (or `nn.Buffer` on torch 2.5+).
    """,
    """
    class Standardize(nn.Module):
        def __init__(self, mean):
            super().__init__()
            self.mean = torch.tensor(mean)
    """,
    """
    class Standardize(nn.Module):
        def __init__(self, mean):
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean))
    """,
    needs=("self.",),
)
def tensor_attribute_not_buffer(ff: FileFacts):
    for cls, target, node in _tensor_attrs(ff, requires_grad=False):
        if _moved_by_hand(cls, target.attr):
            continue
        yield (
            node.value,
            (
                f"tensor attribute 'self.{target.attr}' is not a buffer: .to()/state_dict() "
                "skip it; use register_buffer"
            ),
        )


def _moved_by_hand(cls: ast.ClassDef, attr: str) -> bool:
    """`self.mean.to(x.device)` or `.type_as(x)` in the class: the author moves it."""
    for node in ast.walk(cls):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in TENSOR_ATTR_OK
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == attr
            and dotted(node.func.value.value) == "self"
        ):
            return True
    return False


@rule(
    "KBD006",
    "requires-grad-tensor-attribute",
    "requires-grad-tensor-not-parameter",
    "a tensor with requires_grad=True assigned as a module attribute instead of a Parameter",
    """
    Only `nn.Parameter` attributes are registered. A plain tensor with
    `requires_grad=True` gets a `.grad` from `backward()`, but it is not in
    `model.parameters()`, so the optimizer never updates it and `state_dict()` never
    saves it.
    """,
    """
    class Gate(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.w = torch.ones(d, requires_grad=True)
    """,
    """
    class Gate(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.w = nn.Parameter(torch.ones(d))
    """,
    needs=("requires_grad",),
)
def requires_grad_attribute(ff: FileFacts):
    for _cls, target, node in _tensor_attrs(ff, requires_grad=True):
        yield (
            node.value,
            (
                f"'self.{target.attr}' requires grad but is not an nn.Parameter: the optimizer "
                "never sees it"
            ),
        )


@rule(
    "KBD007",
    "module-list-multiplied",
    "module-list-multiplication-shares-weights",
    "a list holding one module multiplied into nn.ModuleList / nn.Sequential",
    """
    `[nn.Linear(4, 4)] * 3` is a list of three references to *one* module. The container
    registers the same object three times: every "layer" shares one weight, and
    `parameters()` yields it once. Build each layer separately with a comprehension.
    """,
    """
    layers = nn.ModuleList([nn.Linear(4, 4)] * 3)
    """,
    """
    layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
    """,
    needs=("ModuleList", "Sequential"),
)
def module_list_multiplied(ff: FileFacts):
    for node in ff.of(ast.Call):
        q = ff.call_qual(node)
        if q not in CONTAINERS:
            continue
        args = [a.value if isinstance(a, ast.Starred) else a for a in node.args]
        for arg in args:
            if (
                isinstance(arg, ast.BinOp)
                and isinstance(arg.op, ast.Mult)
                and any(
                    isinstance(side, ast.List) and any(ff.is_module_ctor(e) for e in side.elts)
                    for side in (arg.left, arg.right)
                )
            ):
                yield arg, "[module] * n repeats one module: all copies share weights"


@rule(
    "KBD008",
    "module-init-not-called",
    "module-init-not-called",
    "an nn.Module subclass whose __init__ sets attributes without calling super().__init__()",
    """
    `nn.Module.__init__` creates the registries (`_parameters`, `_modules`, `_buffers`)
    that `__setattr__` writes into. Assigning a layer before it ran raises
    `AttributeError: cannot assign module before Module.__init__() call`.
    """,
    """
    class Net(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(4, 2)
    """,
    """
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)
    """,
    needs=("__init__",),
)
def module_init_not_called(ff: FileFacts):
    for _cls, method in ff.module_methods():
        if method.name != "__init__":
            continue
        calls_init = False
        first_set: ast.AST | None = None
        for node in ast.walk(method):
            if isinstance(node, ast.Call):
                f = node.func
                if (isinstance(f, ast.Attribute) and f.attr in ("__init__", "__setstate__")) or (
                    isinstance(f, ast.Name) and f.id == "super"
                ):
                    calls_init = True
            if first_set is None and isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Attribute) and dotted(t.value) == "self":
                        first_set = t
        if first_set is not None and not calls_init:
            yield first_set, "attribute set before nn.Module.__init__(): call super().__init__()"


def _near_forward(name: str) -> bool:
    if name == "forward" or name.startswith("_") or len(name) < 5:
        return False
    low = name.lower()
    if low == "forward":
        return True
    if low.startswith("forward") or low.endswith("forward"):
        return False  # forward_features, _forward, pre_forward: their own methods
    return _distance(low, "forward") <= 2


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@rule(
    "KBD009",
    "forward-misspelled",
    "forward-misspelled",
    "an nn.Module subclass with no forward() but a method named almost like it",
    """
    `Module.__call__` runs `self.forward`. A class whose method is `forwad` or `foward`
    inherits `Module.forward`, which raises `NotImplementedError: Module [Net] is missing
    the required "forward" function` on the first call.
    """,
    """
    class Net(nn.Module):
        def forwad(self, x):
            return self.linear(x)
    """,
    """
    class Net(nn.Module):
        def forward(self, x):
            return self.linear(x)
    """,
    needs=("Module",),
)
def forward_misspelled(ff: FileFacts):
    for name in sorted(ff.module_classes):
        cls = ff.classes[name]
        if not _inherits_forward_from_module(ff, cls):
            continue
        methods = [
            m
            for m in cls.body
            if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)
            or (isinstance(m, ast.Assign) and any(dotted(t) == "forward" for t in m.targets))
        ]
        if any(getattr(m, "name", "forward") in ("forward", "__call__") for m in methods):
            continue
        for m in methods:
            if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef) and _near_forward(m.name):
                yield m, f"'{m.name}' is not 'forward': nn.Module never calls it"


def _inherits_forward_from_module(ff: FileFacts, cls: ast.ClassDef) -> bool:
    """True when every base is nn.Module itself or a local class that defines no forward
    and is itself such a class: only then is the forward the call runs Module's."""
    if not cls.bases:
        return False
    for base in cls.bases:
        q = ff.qual(base)
        if q in ("torch.nn.Module", "torch.nn.modules.module.Module"):
            continue
        local = ff.classes.get(q or "")
        if local is None or local is cls:
            return False
        if any(
            isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef) and m.name == "forward"
            for m in local.body
        ):
            return False
        if not _inherits_forward_from_module(ff, local):
            return False
    return True
