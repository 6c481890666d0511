"""Find tensors, Parameters and modules a Module holds that it does not register.

Paste-alone helper from kb (`kb show --snippet unregistered`); needs only torch.

    print(find_unregistered(model))           # or find_unregistered(model).as_dict()

`model.parameters()`, `buffers()`, `children()`, `state_dict()`, `.to()` and the optimizer
only see what nn.Module registered: Parameters and Modules assigned as attributes,
containers built with nn.ModuleList/ModuleDict/ParameterList/ParameterDict, and tensors
given to register_buffer. Anything else (a plain list or dict of layers, a tensor with
requires_grad=True, a constant tensor attribute) is invisible to all of them. This walks
every submodule's attributes, one container level after another, and names what it finds
by qualified path (`encoder.layers[1]`), with the fix and the catalogue entry.
"""

from __future__ import annotations

import dataclasses

import torch

# Attributes every nn.Module has; their contents are registration's own bookkeeping.
_MODULE_INTERNALS = frozenset(vars(torch.nn.Module()))

ADVICE = {
    "module": (
        "a Module inside a plain container: its parameters are not in model.parameters(), "
        "so the optimizer never updates them; use nn.ModuleList / nn.ModuleDict",
        "parameters-in-python-list",
    ),
    "parameter": (
        "a Parameter inside a plain container: not in model.parameters() or state_dict(); "
        "use nn.ParameterList / nn.ParameterDict",
        "parameters-in-python-list",
    ),
    "trainable": (
        "a tensor with requires_grad=True that is not an nn.Parameter: it gets a .grad but "
        "the optimizer never sees it; wrap it in nn.Parameter(...)",
        "requires-grad-tensor-not-parameter",
    ),
    "tensor": (
        "a plain tensor attribute: missing from state_dict(), not moved by .to()/.cuda() "
        "or cast by .double(); register it with self.register_buffer(name, tensor)",
        "tensor-attribute-not-buffer",
    ),
}


@dataclasses.dataclass
class Finding:
    path: str
    kind: str  # module | parameter | trainable | tensor
    what: str  # a short description: type and shape

    @property
    def entry(self) -> str:
        return ADVICE[self.kind][1]

    def __str__(self) -> str:
        return f"{self.path} ({self.what}): {ADVICE[self.kind][0]} [kb show {self.entry}]"


@dataclasses.dataclass
class UnregisteredReport:
    name: str
    findings: list
    modules_checked: int

    @property
    def clean(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict:
        return {
            "clean": self.clean,
            "module": self.name,
            "modules_checked": self.modules_checked,
            "findings": [
                {**dataclasses.asdict(f), "entry": f.entry, "why": ADVICE[f.kind][0]}
                for f in self.findings
            ],
        }

    def __str__(self) -> str:
        head = f"unregistered state in {self.name} ({self.modules_checked} modules checked)"
        if self.clean:
            return head + ": none; every tensor and layer is registered"
        return "\n".join(
            [f"{head}: {len(self.findings)} found", *[f"  {f}" for f in self.findings]]
        )

    __repr__ = __str__


def _describe(value) -> str:
    if isinstance(value, torch.nn.Module):
        count = sum(p.numel() for p in value.parameters())
        return f"{type(value).__name__}, {count} parameters"
    grad = ", requires_grad" if value.requires_grad else ""
    return f"{type(value).__name__} {list(value.shape)} {value.dtype}{grad}"


def find_unregistered(model: torch.nn.Module, name: str = "model", max_depth: int = 3):
    """Every tensor, Parameter and Module held by `model` or a submodule but not registered."""
    registered = {id(t) for t in model.parameters()} | {id(t) for t in model.buffers()}
    registered_modules = {id(m) for m in model.modules()}
    findings: list = []
    reported: set = set()

    def visit(path: str, value, in_container: bool, depth: int) -> None:
        if isinstance(value, torch.nn.Module):
            if id(value) not in registered_modules and id(value) not in reported:
                reported.add(id(value))
                findings.append(Finding(path, "module", _describe(value)))
            return
        if isinstance(value, torch.Tensor):
            if id(value) in registered or id(value) in reported:
                return
            reported.add(id(value))
            if isinstance(value, torch.nn.Parameter):
                kind = "parameter"
            elif value.requires_grad and value.is_leaf:
                kind = "trainable"
            else:
                kind = "tensor"
            findings.append(Finding(path, kind, _describe(value)))
            return
        if depth >= max_depth:
            return
        if isinstance(value, dict):
            for key, item in list(value.items()):
                visit(f"{path}[{key!r}]", item, True, depth + 1)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for i, item in enumerate(value):
                visit(f"{path}[{i}]", item, True, depth + 1)

    modules = list(model.named_modules(remove_duplicate=True))
    for qualname, module in modules:
        prefix = f"{name}.{qualname}" if qualname else name
        for attr, value in list(vars(module).items()):
            if attr not in _MODULE_INTERNALS:
                visit(f"{prefix}.{attr}", value, False, 0)
    return UnregisteredReport(name, findings, len(modules))
