"""What one file says about itself, read with `ast` only: imports, module classes, bindings.

Rules ask these questions instead of walking the tree themselves, so every rule resolves
`nn.Linear`, `torch.nn.Linear` and `from torch.nn import Linear` the same way, and agrees on
what "a name bound to a module" means. Facts are local and certain on purpose: a name bound
in two places to two different things is unknown, and an unknown never fires a rule.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

# Names that mean torch modules when a notebook cell or snippet uses them without an import
# of its own (an earlier cell, a star import). An explicit import always wins.
DEFAULT_ALIASES = {
    "torch": "torch",
    "nn": "torch.nn",
    "F": "torch.nn.functional",
    "optim": "torch.optim",
}

# torch.nn members that are capitalised but are not modules.
NOT_MODULES = {"Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"}
NOT_MODULE_PACKAGES = {"functional", "init", "utils", "parameter", "grad", "attention"}

TENSOR_FACTORIES = {
    "tensor", "Tensor", "as_tensor", "from_numpy", "ones", "zeros", "empty", "full",
    "rand", "randn", "randint", "randperm", "arange", "linspace", "logspace", "eye",
    "ones_like", "zeros_like", "empty_like", "full_like", "rand_like", "randn_like",
    "FloatTensor", "LongTensor", "DoubleTensor", "IntTensor", "BoolTensor", "HalfTensor",
}  # fmt: skip

# Methods that return the module itself (or a module), so a chain keeps its kind.
MODULE_CHAIN = {"to", "cuda", "cpu", "double", "float", "half", "bfloat16", "train", "eval",
                "requires_grad_", "type", "share_memory", "to_empty"}  # fmt: skip

FOREIGN = {"mxnet", "tensorflow", "jax", "flax", "paddle", "mindspore", "oneflow", "keras",
           "chainer", "theano"}  # fmt: skip

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
ScopeNode = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
UNKNOWN = object()  # a binding whose value the file does not show (loop target, parameter)


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of attributes on a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def call_name(node: ast.AST) -> str | None:
    """The dotted name a call calls (`opt.step` for `opt.step()`), else None."""
    return dotted(node.func) if isinstance(node, ast.Call) else None


def method_of(node: ast.AST) -> tuple[ast.AST, str] | None:
    """(receiver, method) for `receiver.method(...)`, else None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.value, node.func.attr
    return None


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


class FileFacts:
    """One parsed file and the facts rules share about it."""

    def __init__(self, tree: ast.Module, source: str = "") -> None:
        self.tree = tree
        self.source = source
        self.parents: dict[ast.AST, ast.AST] = {}
        # Every node once, in one walk: rules filter this list instead of walking again.
        self.nodes: list[ast.AST] = [tree]
        self.by_type: dict[type, list[ast.AST]] = {}
        parents, nodes, by_type = self.parents, self.nodes, self.by_type
        for parent in nodes:  # grows as it goes: a breadth-first walk, as ast.walk's
            by_type.setdefault(type(parent), []).append(parent)
            for child in ast.iter_child_nodes(parent):
                parents[child] = parent
                nodes.append(child)
        self.aliases = self._imports()
        self.classes = {n.name: n for n in self.of(ast.ClassDef)}
        self._attrs: dict[ast.ClassDef, dict[str, list[ast.AST]]] = {}
        self.module_classes = self._module_classes()
        # Code for another framework (MXNet's gluon also has nn, Trainer.step...): skipped.
        self.foreign = not any(v.split(".")[0] == "torch" for v in self._imported) and any(
            v.split(".")[0] in FOREIGN for v in self._imported
        )
        self._bindings: dict[ast.AST, dict[str, list[object]]] = {}

    def of(self, *types: type) -> list:
        """Every node of these exact types (ast.Call, ast.Assign...), in walk order."""
        if len(types) == 1:
            return self.by_type.get(types[0], [])
        return [n for t in types for n in self.by_type.get(t, [])]

    def scopes(self) -> list:
        """The module and every function: the units `statements()` reads block by block."""
        return [self.tree, *self.of(ast.FunctionDef, ast.AsyncFunctionDef)]

    # -- names -------------------------------------------------------------------------
    def _imports(self) -> dict[str, str]:
        aliases: dict[str, str] = {}
        self._imported: list[str] = []
        for node in self.of(ast.Import, ast.ImportFrom):
            if isinstance(node, ast.Import):
                self._imported.extend(a.name for a in node.names)
                for a in node.names:
                    if a.asname:
                        aliases[a.asname] = a.name
                    else:
                        root = a.name.split(".")[0]
                        aliases[root] = root
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                self._imported.append(node.module)
                for a in node.names:
                    if a.name != "*":
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        for name, target in DEFAULT_ALIASES.items():
            aliases.setdefault(name, target)
        return aliases

    def qual(self, node: ast.AST) -> str | None:
        """The dotted name with its import resolved: `nn.Linear` -> `torch.nn.Linear`."""
        name = dotted(node)
        if name is None:
            return None
        root, _, rest = name.partition(".")
        target = self.aliases.get(root)
        if target is None:
            return name
        return f"{target}.{rest}" if rest else target

    def call_qual(self, node: ast.AST) -> str | None:
        return self.qual(node.func) if isinstance(node, ast.Call) else None

    def is_torch_call(self, node: ast.AST, *names: str) -> bool:
        """A call of one of `names`, given as full torch names (`torch.nn.Parameter`)."""
        q = self.call_qual(node)
        return q is not None and q in names

    # -- modules -----------------------------------------------------------------------
    def _is_module_base(self, base: ast.AST, local: set[str]) -> bool:
        q = self.qual(base)
        if q is None:
            return False
        if q in local:
            return True
        return self._is_nn_module_name(q)

    @staticmethod
    def _is_nn_module_name(q: str) -> bool:
        if not q.startswith("torch.nn."):
            return False
        parts = q.split(".")
        last = parts[-1]
        return (
            last[:1].isupper()
            and last not in NOT_MODULES
            and not any(p in NOT_MODULE_PACKAGES for p in parts[2:-1])
        )

    def _module_classes(self) -> set[str]:
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, cls in self.classes.items():
                if name not in found and any(self._is_module_base(b, found) for b in cls.bases):
                    found.add(name)
                    changed = True
        return found

    def is_module_class(self, cls: ast.ClassDef) -> bool:
        return cls.name in self.module_classes and self.classes.get(cls.name) is cls

    def is_module_ctor(self, node: ast.AST) -> bool:
        """A call that certainly builds a module: `nn.Linear(...)`, `Net()`, `Net().to(d)`."""
        while (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in MODULE_CHAIN
            and isinstance(node.func.value, ast.Call)
        ):
            node = node.func.value
        if not isinstance(node, ast.Call):
            return False
        q = self.qual(node.func)
        if q is None:
            return False
        if isinstance(node.func, ast.Name) and node.func.id in self.module_classes:
            return True
        return self._is_nn_module_name(q)

    def is_parameter_ctor(self, node: ast.AST) -> bool:
        return self.is_torch_call(node, "torch.nn.Parameter", "torch.nn.parameter.Parameter")

    def is_tensor_factory(self, node: ast.AST) -> bool:
        q = self.call_qual(node)
        return q is not None and q.startswith("torch.") and q[6:] in TENSOR_FACTORIES

    def enclosing_class(self, node: ast.AST) -> ast.ClassDef | None:
        node = self.parents.get(node)
        while node is not None and not isinstance(node, ast.ClassDef):
            node = self.parents.get(node)
        return node

    def enclosing_function(self, node: ast.AST) -> FunctionNode | None:
        node = self.parents.get(node)
        while node is not None and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node = self.parents.get(node)
        return node

    def method_of_module(self, node: ast.AST, *names: str) -> FunctionNode | None:
        """The method (one of `names`) of an nn.Module subclass that `node` sits in."""
        func = self.enclosing_function(node)
        while func is not None:
            cls = self.parents.get(func)
            if isinstance(cls, ast.ClassDef):
                if func.name in names and self.is_module_class(cls):
                    return func
                return None
            func = self.enclosing_function(func)
        return None

    def module_methods(self) -> Iterator[tuple[ast.ClassDef, FunctionNode]]:
        for name in sorted(self.module_classes):
            cls = self.classes[name]
            for item in cls.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield cls, item

    def inside(self, node: ast.AST, kinds: tuple[type, ...], stop: tuple[type, ...] = ()) -> bool:
        """Whether an ancestor of `node` is one of `kinds` (not looking past `stop`)."""
        node = self.parents.get(node)
        while node is not None:
            if isinstance(node, kinds):
                return True
            if isinstance(node, stop):
                return False
            node = self.parents.get(node)
        return False

    def in_loop(self, node: ast.AST) -> bool:
        return self.inside(
            node,
            (ast.For, ast.While, ast.AsyncFor),
            stop=(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef),
        )

    def under_no_grad(self, node: ast.AST) -> bool:
        """Inside `with torch.no_grad()` / `inference_mode()` or a function decorated so."""
        current = self.parents.get(node)
        while current is not None:
            if isinstance(current, ast.With | ast.AsyncWith):
                for item in current.items:
                    q = self.call_qual(item.context_expr) or self.qual(item.context_expr) or ""
                    if q.rsplit(".", 1)[-1] in ("no_grad", "inference_mode"):
                        return True
            if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef):
                for deco in current.decorator_list:
                    q = self.call_qual(deco) or self.qual(deco) or ""
                    if q.rsplit(".", 1)[-1] in ("no_grad", "inference_mode"):
                        return True
            current = self.parents.get(current)
        return False

    # -- bindings ----------------------------------------------------------------------
    def scope_of(self, node: ast.AST) -> ScopeNode:
        current = self.parents.get(node)
        while current is not None and not isinstance(
            current, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.Module
        ):
            current = self.parents.get(current)
        return current or self.tree

    def bindings(self, scope: ScopeNode) -> dict[str, list[object]]:
        """name -> every value bound to it in this scope (UNKNOWN where the file can't say)."""
        cached = self._bindings.get(scope)
        if cached is not None:
            return cached
        out: dict[str, list[object]] = {}

        def bind(target: ast.AST, value: object) -> None:
            if isinstance(target, ast.Name):
                out.setdefault(target.id, []).append(value)
            elif isinstance(target, ast.Tuple | ast.List):
                values = (
                    value.elts
                    if isinstance(value, ast.Tuple | ast.List)
                    and len(value.elts) == len(target.elts)
                    else [UNKNOWN] * len(target.elts)
                )
                for t, v in zip(target.elts, values, strict=True):
                    bind(t, v)
            elif isinstance(target, ast.Starred):
                bind(target.value, UNKNOWN)

        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            a = scope.args
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
                if arg is not None:
                    out.setdefault(arg.arg, []).append(UNKNOWN)
        for node in walk_scope(scope):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    bind(target, node.value)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                bind(node.target, node.value)
            elif isinstance(node, ast.AugAssign | ast.For | ast.AsyncFor):
                bind(node.target, UNKNOWN)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                bind(node.optional_vars, UNKNOWN)
            elif isinstance(node, ast.NamedExpr):
                bind(node.target, node.value)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for a in node.names:
                    out.setdefault((a.asname or a.name).split(".")[0], []).append(UNKNOWN)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or (
                isinstance(node, ast.ExceptHandler) and node.name
            ):
                out.setdefault(node.name, []).append(UNKNOWN)
            elif isinstance(node, ast.Global | ast.Nonlocal):
                for name in node.names:
                    out.setdefault(name, []).append(UNKNOWN)
        self._bindings[scope] = out
        return out

    def values_of(self, name: str, at: ast.AST) -> list[object]:
        """Every value `name` is bound to where `at` reads it: its scope, else the module's."""
        scope = self.scope_of(at)
        while True:
            found = self.bindings(scope).get(name)
            if found:
                return found
            if isinstance(scope, ast.Module):
                return []
            scope = self.scope_of(scope)

    def bound_to(self, name: str, at: ast.AST, pred: Callable[[ast.AST], bool]) -> bool:
        """True when every binding of `name` visible at `at` is known and satisfies `pred`."""
        values = self.values_of(name, at)
        return bool(values) and all(v is not UNKNOWN and pred(v) for v in values)

    def self_attr_values(self, cls: ast.ClassDef, attr: str) -> list[ast.AST]:
        """Values assigned to `self.attr` anywhere in the class's methods."""
        table = self._attrs.get(cls)
        if table is None:
            table = self._attrs[cls] = self._self_attrs(cls)
        return table.get(attr, [])

    def _self_attrs(self, cls: ast.ClassDef) -> dict[str, list[ast.AST]]:
        table: dict[str, list[ast.AST]] = {}
        for node in ast.walk(cls):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and dotted(target.value) == "self":
                        table.setdefault(target.attr, []).append(node.value)
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                t = node.target
                if isinstance(t, ast.Attribute) and dotted(t.value) == "self":
                    value = node.value if isinstance(node, ast.AnnAssign) else node
                    if value is not None:
                        table.setdefault(t.attr, []).append(value)
        return table

    def is_module_value(self, node: ast.AST) -> bool:
        """A name or `self.x` certainly bound to a module, or a module constructor call."""
        if self.is_module_ctor(node):
            return True
        if isinstance(node, ast.Name):
            return self.bound_to(node.id, node, self.is_module_ctor)
        if isinstance(node, ast.Attribute) and dotted(node.value) == "self":
            cls = self.enclosing_class(node)
            if cls is not None:
                values = self.self_attr_values(cls, node.attr)
                return bool(values) and all(self.is_module_ctor(v) for v in values)
        return False

    def is_optimizer_ctor(self, node: ast.AST) -> bool:
        q = self.call_qual(node)
        return (
            q is not None
            and q.startswith("torch.optim.")
            and q.rsplit(".", 1)[-1][:1].isupper()
            and ".lr_scheduler." not in q
            and not q.endswith("Optimizer")
        )

    def is_scheduler_ctor(self, node: ast.AST) -> bool:
        q = self.call_qual(node)
        return q is not None and q.startswith("torch.optim.lr_scheduler.")


def walk_scope(scope: ast.AST) -> Iterator[ast.AST]:
    """Every node in a scope's own body, not descending into nested functions or classes
    (their names are yielded, their bodies are not)."""
    body = scope.body if isinstance(scope.body, list) else [scope.body]
    stack = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def statements(body: list[ast.stmt]) -> Iterator[list[ast.stmt]]:
    """Every statement list (block) under `body`, itself first, nested ones after; not the
    bodies of nested functions and classes (each function is a scope of its own)."""
    yield body
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                yield from statements(inner)
        for handler in getattr(stmt, "handlers", []):
            yield from statements(handler.body)
        for case in getattr(stmt, "cases", []):
            yield from statements(case.body)
