"""Check that an optimizer covers the model: every trainable parameter, nothing stale.

Paste-alone helper from kb (`kb show --snippet optimizer_coverage`); needs only torch.

    print(check_optimizer(model, optimizer))   # or .as_dict()

The optimizer holds references to the tensors it was given when it was built. A layer
replaced afterwards (a new head), a parameter added later, or a generator of parameters
consumed before the optimizer saw it leaves trainable parameters the optimizer never
steps, and keeps the old tensors (and their optimizer state) alive. Frozen parameters
handed to the optimizer are reported too: they are stepped with no gradient, which is
usually a sign that the freezing or the optimizer is not what was meant.
"""

from __future__ import annotations

import dataclasses

import torch

ADVICE = {
    "missing": (
        "trainable, but in no param group: optimizer.step() never updates it (layer "
        "replaced or added after the optimizer was built, or left out of hand-built "
        "param groups?); rebuild the optimizer or optimizer.add_param_group(...)",
        "layer-replaced-after-optimizer",
    ),
    "unregistered": (
        "trainable, held by the model outside its registered parameters (a plain list, "
        "dict or tensor attribute), so neither model.parameters() nor the optimizer has "
        "it; use nn.ModuleList / nn.ParameterList / nn.Parameter",
        "parameters-in-python-list",
    ),
    "stale": (
        "in the optimizer, but no longer a parameter of the model: the optimizer steps a "
        "tensor the model does not use (and keeps it and its state alive)",
        "layer-replaced-after-optimizer",
    ),
    "frozen": (
        "in the optimizer with requires_grad=False: it never gets a gradient, so it is "
        "never trained; unfreeze it, or leave it out of the optimizer",
        "frozen-params-in-optimizer",
    ),
}


@dataclasses.dataclass
class Finding:
    name: str
    kind: str  # missing | unregistered | stale | frozen
    shape: tuple

    @property
    def entry(self) -> str:
        return ADVICE[self.kind][1]

    def __str__(self) -> str:
        return f"{self.name} {list(self.shape)}: {ADVICE[self.kind][0]} [kb show {self.entry}]"


@dataclasses.dataclass
class OptimizerReport:
    findings: list
    model_params: int
    optimizer_params: int

    @property
    def clean(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict:
        return {
            "clean": self.clean,
            "model_params": self.model_params,
            "optimizer_params": self.optimizer_params,
            "findings": [
                {
                    "name": f.name,
                    "kind": f.kind,
                    "shape": list(f.shape),
                    "entry": f.entry,
                    "why": ADVICE[f.kind][0],
                }
                for f in self.findings
            ],
        }

    def __str__(self) -> str:
        head = (
            f"optimizer coverage: {self.model_params} model parameters, "
            f"{self.optimizer_params} in the optimizer"
        )
        if self.clean:
            return head + ": every trainable parameter is stepped, nothing stale"
        return "\n".join(
            [f"{head}: {len(self.findings)} problem(s)", *[f"  {f}" for f in self.findings]]
        )

    __repr__ = __str__


_MODULE_INTERNALS = frozenset(vars(torch.nn.Module()))


def _unregistered_trainable(model, model_name, registered):
    """(name, tensor) for trainable tensors the model holds outside its registrations."""
    seen = set(registered)

    def visit(path, value, depth):
        if isinstance(value, torch.nn.Module):
            for n, p in value.named_parameters():
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    yield f"{path}.{n}", p
        elif isinstance(value, torch.Tensor):
            if value.requires_grad and value.is_leaf and id(value) not in seen:
                seen.add(id(value))
                yield path, value
        elif depth < 2 and isinstance(value, dict):
            for key, item in list(value.items()):
                yield from visit(f"{path}[{key!r}]", item, depth + 1)
        elif depth < 2 and isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                yield from visit(f"{path}[{i}]", item, depth + 1)

    for qualname, module in model.named_modules():
        prefix = f"{model_name}.{qualname}" if qualname else model_name
        for attr, value in list(vars(module).items()):
            if attr not in _MODULE_INTERNALS:
                # Registered submodules sit in _modules, so a Module found here is not one.
                yield from visit(f"{prefix}.{attr}", value, 0)


def check_optimizer(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    model_name: str = "model",
    optimizer_name: str = "optimizer",
) -> OptimizerReport:
    """Compare the model's parameters with the optimizer's param groups, by identity."""
    named = {id(p): (f"{model_name}.{n}", p) for n, p in model.named_parameters()}
    in_optimizer: dict = {}
    for g, group in enumerate(optimizer.param_groups):
        for i, p in enumerate(group["params"]):
            in_optimizer.setdefault(
                id(p), (f"{optimizer_name}.param_groups[{g}]['params'][{i}]", p)
            )
    findings = []
    for key, (name, p) in named.items():
        if p.requires_grad and key not in in_optimizer:
            findings.append(Finding(name, "missing", tuple(p.shape)))
    for name, p in _unregistered_trainable(model, model_name, set(named)):
        if id(p) not in in_optimizer:
            findings.append(Finding(name, "unregistered", tuple(p.shape)))
    for key, (where, p) in in_optimizer.items():
        if key not in named:
            findings.append(Finding(where, "stale", tuple(p.shape)))
        elif not p.requires_grad:
            findings.append(Finding(named[key][0], "frozen", tuple(p.shape)))
    return OptimizerReport(findings, len(named), len(in_optimizer))
