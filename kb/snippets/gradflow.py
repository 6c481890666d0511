"""Gradient-flow report: which parameters got no, zero or non-finite gradient, and why.

Paste-alone helper from kb (`kb show --snippet gradient_flow`); needs only torch.

    with gradient_flow(model) as flow:        # watch one training step
        loss = criterion(model(x), y)
        loss.backward()
    print(flow.report())                      # or flow.report().as_dict()

    print(gradient_report(model))             # no watch: just inspect .grad now

Watching gives the reasons. A post-accumulate-grad hook on every parameter records which
ones the backward pass reached (a gradient is final only once it has been accumulated,
so that hook, not a tensor hook, is the reliable point), and a TorchFunctionMode records
which parameters the forward pass used and whether grad mode was on. A parameter that was
used but never reached was cut from the loss's graph (.detach(), .data, .item(),
torch.tensor(...)); one that was never used is not called in forward.
"""

from __future__ import annotations

import dataclasses
import weakref

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten


def tree_leaves(tree: object) -> list:
    # torch.utils._pytree.tree_leaves is new in torch 2.1; tree_flatten is in them all.
    return tree_flatten(tree)[0]


# The catalogue entry that explains each finding (`kb show <id>`).
ENTRIES = {
    "unused": "parameter-unused-in-forward",
    "cut": "detach-in-forward-breaks-graph",
    "no_grad": "loss-computed-under-no-grad",
    "frozen": "all-parameters-frozen",
    "non-finite": "nan-from-undefined-op",
    "zero": "zero-grad-between-backward-and-step",
    "stale": "missing-zero-grad",
    "missing": "parameter-unused-in-forward",
    "cleared": "zero-grad-between-backward-and-step",
}

REASONS = {
    "unused": "never used in the watched forward pass (a layer defined but not called, "
    "or called on a path that was skipped)",
    "cut": "used in forward, but the graph between it and the loss was cut (.detach(), "
    ".data, .item()/.numpy(), torch.tensor(...)), or its output never reached the loss",
    "no_grad": "used only while grad mode was off (torch.no_grad(), inference_mode()), "
    "so autograd recorded nothing for it",
    "frozen": "every parameter has requires_grad=False: nothing can be trained",
    "non-finite": "its gradient holds NaN or inf: run a step under locate_nonfinite() to "
    "find the operation",
    "zero": "its gradient is all zeros (zero_grad() between backward() and step(), dead "
    "ReLUs, a multiplier of zero, a masked-out path)",
    "stale": "it has a gradient, but this backward pass did not reach it: the value is "
    "left over from an earlier step (no zero_grad()?)",
    "missing": "no gradient reached it: unused in forward, or cut from the loss's graph "
    "(watch a step with gradient_flow() to tell which)",
    "cleared": "backward() did give it a gradient, but something cleared it afterwards "
    "(optimizer.zero_grad() between backward() and step()?)",
}


@dataclasses.dataclass
class Finding:
    name: str
    shape: tuple
    problem: str  # missing | zero | non-finite | stale
    reason: str  # a key of REASONS
    entry: str

    def __str__(self) -> str:
        why = REASONS[self.reason]
        return f"{self.name} {list(self.shape)}: {self.problem}: {why} [kb show {self.entry}]"


@dataclasses.dataclass
class GradientReport:
    findings: list
    checked: int
    frozen: list
    watched: bool

    @property
    def clean(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict:
        return {
            "clean": self.clean,
            "checked": self.checked,
            "frozen": list(self.frozen),
            "watched": self.watched,
            "findings": [
                {**dataclasses.asdict(f), "shape": list(f.shape), "why": REASONS[f.reason]}
                for f in self.findings
            ],
        }

    def __str__(self) -> str:
        head = f"gradient flow: {self.checked} trainable tensors checked"
        if self.frozen:
            head += f", {len(self.frozen)} frozen (requires_grad=False) skipped"
        if self.clean:
            return head + ": every one has a finite, non-zero gradient"
        lines = [head + f": {len(self.findings)} problem(s)"]
        lines += [f"  {f}" for f in self.findings]
        return "\n".join(lines)

    __repr__ = __str__


def _named_tensors(targets) -> dict:
    """id -> (name, tensor) for Parameters and leaf tensors requiring grad in `targets`.

    A target is a Module, a tensor, an optimizer, or a dict of them (globals() works:
    names then come from your variables), searched one level into lists and dicts.
    """
    found: dict = {}

    def add(name, value, depth):
        if isinstance(value, torch.nn.Module):
            for pname, p in value.named_parameters(remove_duplicate=True):
                found.setdefault(id(p), (f"{name}.{pname}" if name else pname, p))
        elif isinstance(value, torch.Tensor):
            if isinstance(value, torch.nn.Parameter) or (value.requires_grad and value.is_leaf):
                found.setdefault(id(value), (name or "tensor", value))
        elif isinstance(value, torch.optim.Optimizer):
            for g, group in enumerate(value.param_groups):
                for i, p in enumerate(group["params"]):
                    found.setdefault(id(p), (f"{name}.param_groups[{g}][{i}]", p))
        elif depth < 2 and isinstance(value, dict):
            for key, item in value.items():
                if not (isinstance(key, str) and key.startswith("_")):
                    sub = key if depth == 0 and isinstance(key, str) else f"{name}[{key!r}]"
                    add(sub, item, depth + 1)
        elif depth < 2 and isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                add(f"{name}[{i}]", item, depth + 1)

    for target in targets:
        # A dict given directly is a namespace: its keys are the names.
        add("", target, 0 if isinstance(target, dict) else 1)
    return found


def _grad_problem(tensor) -> str | None:
    grad = tensor.grad
    if grad is None:
        return "missing"
    values = grad.detach()
    if values.is_sparse:
        values = values.coalesce().values()
    if not bool(torch.isfinite(values).all()):
        return "non-finite"
    if not bool((values != 0).any()):
        return "zero"
    return None


def gradient_report(*targets) -> GradientReport:
    """Inspect `.grad` of every trainable parameter in `targets` right now (after backward)."""
    return _report(_named_tensors(targets), watch=None)


def _report(named: dict, watch) -> GradientReport:
    findings, frozen, checked = [], [], 0
    trainable = {k: v for k, v in named.items() if v[1].requires_grad}
    params = [v for v in named.values() if isinstance(v[1], torch.nn.Parameter)]
    if params and not any(p.requires_grad for _, p in params):
        findings.append(Finding("(all parameters)", (), "missing", "frozen", ENTRIES["frozen"]))
    for name, tensor in named.values():
        if not tensor.requires_grad:
            frozen.append(name)
    for key, (name, tensor) in trainable.items():
        checked += 1
        problem = _grad_problem(tensor)
        reason = problem
        if watch is not None and watch.backward_calls:
            reached = key in watch.reached
            if problem is None and not reached:
                problem = reason = "stale"
            elif problem == "missing" and reached:
                reason = "cleared"
            elif problem == "missing":
                reason = {"graph": "cut", "no_grad": "no_grad"}.get(watch.used.get(key), "unused")
        if problem is not None:
            findings.append(Finding(name, tuple(tensor.shape), problem, reason, ENTRIES[reason]))
    return GradientReport(findings, checked, frozen, watch is not None)


_BACKWARD = {torch.Tensor.backward, torch.autograd.backward, torch.autograd.grad}


# Calls that touch a parameter without computing with it (moving it to a device,
# reading an attribute, initialising it): they say nothing about the forward pass.
_NOT_COMPUTE = set(
    """to cuda cpu type float double half bfloat16 detach clone __get__ __set__
    __deepcopy__ __reduce_ex__ __setstate__ size dim numel element_size is_floating_point
    is_complex data_ptr untyped_storage register_hook register_post_accumulate_grad_hook""".split()
)


class _UseRecorder(TorchFunctionMode):
    def __init__(self, flow):
        super().__init__()
        self.flow = flow

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flow = self.flow
        if func in _BACKWARD:
            flow.backward_calls += 1
            flow._hook_all()
            return func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        out = func(*args, **kwargs)
        if name in _NOT_COMPUTE or (name.endswith("_") and not name.endswith("__")):
            return out
        leaves = [
            t
            for t in tree_leaves((args, kwargs))
            if isinstance(t, torch.Tensor)
            and t.is_leaf
            and (t.requires_grad or isinstance(t, torch.nn.Parameter))
        ]
        if leaves:
            recorded = any(
                isinstance(o, torch.Tensor) and o.grad_fn is not None for o in tree_leaves(out)
            )
            state = "graph" if recorded else ("no_grad" if not torch.is_grad_enabled() else None)
            for leaf in leaves:
                key = id(leaf)
                if key not in flow.seen:
                    flow.seen[key] = weakref.ref(leaf)
                if state and flow.used.get(key) != "graph":
                    flow.used[key] = state
        return out


class gradient_flow:
    """Watch a forward and backward pass; `.report()` then says where gradients stopped.

    With no targets it watches every parameter and leaf tensor the code uses; pass
    `.report(globals())` (or the model) to get names for them.
    """

    def __init__(self, *targets):
        self.targets = targets
        self.used: dict = {}  # id -> "graph" (entered a recorded graph) or "no_grad"
        self.seen: dict = {}  # id -> weakref, every leaf the forward pass touched
        self.reached: set = set()
        self.backward_calls = 0
        self._handles: dict = {}
        self._mode = None

    def _hook(self, tensor):
        key = id(tensor)
        if key in self._handles or not tensor.requires_grad or not tensor.is_leaf:
            return

        def reached(t, key=key):
            self.reached.add(key)

        if hasattr(tensor, "register_post_accumulate_grad_hook"):
            self._handles[key] = tensor.register_post_accumulate_grad_hook(reached)
        else:
            # torch before 2.2: a gradient hook also says that backward reached the leaf
            # (it runs just before accumulation); it must return None to leave the grad.
            self._handles[key] = tensor.register_hook(lambda grad, key=key: reached(None, key))

    def _hook_all(self):
        for _, tensor in _named_tensors(self.targets).values():
            self._hook(tensor)
        for ref in list(self.seen.values()):
            tensor = ref()
            if tensor is not None:
                self._hook(tensor)

    def __enter__(self):
        self._hook_all()
        self._mode = _UseRecorder(self)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)
        for handle in self._handles.values():
            handle.remove()
        self._handles.clear()
        return False

    def report(self, *targets) -> GradientReport:
        named = _named_tensors(targets or self.targets)
        for key, ref in self.seen.items():
            tensor = ref()
            if tensor is not None and key not in named and tensor.requires_grad:
                named[key] = (f"unnamed tensor #{len(named)}", tensor)
        return _report(named, self)
