"""Locate the first module and operation that produced NaN or inf, in forward and backward.

Paste-alone helper from kb (`kb show --snippet nonfinite`); needs only torch.

    with locate_nonfinite(model) as locator:   # one training step, or just a forward
        loss = criterion(model(x), y)
        loss.backward()
    print(locator.report())                    # or .as_dict()

PyTorch's anomaly mode only checks what backward functions return. This watches every
operation instead: a TorchDispatchMode sees each aten op with its real inputs and
outputs, and global module hooks keep track of which module is running, so the report
names the first op whose output holds a NaN (or an inf) that none of its inputs held:
the op that *made* it, not one that merely passed it on. In backward the same test runs
on the gradient ops, and anomaly mode (switched on for the block) supplies the forward
line that created the failing autograd node. A non-finite value written on purpose (a
-inf attention mask from masked_fill or full) is not counted, since an argument, not
the arithmetic, produced it. Every op is checked, so it is slow: use it for one step.
"""

from __future__ import annotations

import dataclasses
import math
import traceback
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


def tree_leaves(tree: object) -> list:
    # torch.utils._pytree.tree_leaves is new in torch 2.1; tree_flatten is in them all.
    return tree_flatten(tree)[0]


ENTRIES = {
    "forward": "nan-from-undefined-op",
    "backward": "nan-grad-through-where",
    "overflow": "float16-overflow-inf",  # inf from a half-precision result
    "input": "nan-in-input-data",  # already in what the watched code was given
}


@dataclasses.dataclass
class Event:
    phase: str  # forward | backward | input
    op: str  # aten op, e.g. aten.log.default
    module: str  # qualified name of the innermost running module, or "" outside modules
    value: str  # "nan" | "inf" | "nan and inf"
    where: str  # the user's line that ran it (forward) or created the node (backward)
    node: str = ""  # the autograd node running (backward)
    dtype: str = ""  # of the first non-finite output
    module_ref: object = dataclasses.field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        inside = f" in {self.module}" if self.module else " outside any module"
        if self.phase == "input":
            text = f"{self.op} received {self.value}{inside}: it came in from outside the watch"
        elif self.phase == "backward":
            text = f"backward: {self.op} (in {self.node or 'autograd'}) produced {self.value}"
            if self.module:
                text += f"; its forward ran in {self.module}"
        else:
            text = f"forward: {self.op} produced {self.value}{inside}"
        return text + (f"\n      at {self.where}" if self.where else "")


@dataclasses.dataclass
class NonFiniteReport:
    forward: Event | None
    backward: Event | None
    ops_checked: int

    @property
    def clean(self) -> bool:
        return self.forward is None and self.backward is None

    @property
    def first(self) -> Event | None:
        return self.forward or self.backward

    def as_dict(self) -> dict:
        def event(e):
            if e is None:
                return None
            return {k: v for k, v in dataclasses.asdict(e).items() if k != "module_ref"}

        entry = None
        first = self.first
        if first is not None:
            entry = ENTRIES["backward" if self.forward is None else "forward"]
            if first.phase == "input":
                entry = ENTRIES["input"]
            if first.value == "inf" and first.dtype in ("torch.float16", "torch.bfloat16"):
                entry = ENTRIES["overflow"]
        return {
            "clean": self.clean,
            "ops_checked": self.ops_checked,
            "forward": event(self.forward),
            "backward": event(self.backward),
            "entry": entry,
        }

    def __str__(self) -> str:
        head = f"non-finite values: {self.ops_checked} ops checked"
        if self.clean:
            return head + ": every value finite"
        lines = [head]
        for e in (self.forward, self.backward):
            if e is not None:
                lines.append(f"  first {e}")
        entry = self.as_dict()["entry"]
        lines.append(f"  [kb show {entry}]")
        return "\n".join(lines)

    __repr__ = __str__


def _flags(tensors) -> tuple[bool, bool]:
    nan = inf = False
    for t in tensors:
        if t.is_floating_point() or t.is_complex():
            if t.numel() == 0 or t.is_meta:
                continue
            nan = nan or bool(torch.isnan(t).any())
            inf = inf or bool(torch.isinf(t).any())
    return nan, inf


def _user_line() -> str:
    """The innermost frame outside torch and this helper: the user's line."""
    here = _user_line.__code__.co_filename  # this helper's file, wherever it was pasted
    for frame in reversed(traceback.extract_stack()[:-2]):
        name = frame.filename.replace("\\", "/")
        if "/torch/" in name or frame.filename == here:
            continue
        return f"{frame.filename}:{frame.lineno}: {(frame.line or '').strip()}"
    return ""


def _value(nan: bool, inf: bool) -> str:
    return "nan and inf" if nan and inf else ("nan" if nan else "inf")


_UNINITIALISED = ("empty", "new_empty", "resize_", "set_")


class _Checker(TorchDispatchMode):
    def __init__(self, locator):
        super().__init__()
        self.locator = locator

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        loc = self.locator
        if func.__name__.startswith(_UNINITIALISED):
            return out  # torch.empty & co. return whatever was in memory: not computed
        backward = torch._C._current_graph_task_id() != -1
        if (loc.forward is not None and not backward) or (loc.backward is not None and backward):
            return out
        outs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        if not outs:
            return out
        loc.ops_checked += 1
        nan_out, inf_out = _flags(outs)
        if not (nan_out or inf_out):
            return out
        leaves = tree_leaves((args, kwargs))
        # A non-finite number passed as an argument (masked_fill(mask, -inf)) is deliberate.
        if any(isinstance(a, float) and not math.isfinite(a) for a in leaves):
            return out
        nan_in, inf_in = _flags([t for t in leaves if isinstance(t, torch.Tensor)])
        made_nan, made_inf = nan_out and not nan_in, inf_out and not inf_in
        op = str(func)
        if backward:
            if made_nan or made_inf:
                node = torch._C._current_autograd_node()
                trace = getattr(node, "metadata", {}).get("traceback_", "") if node else ""
                loc.backward = Event(
                    "backward",
                    op,
                    "",
                    _value(made_nan, made_inf),
                    _last_user_line(trace),
                    node.name() if node is not None else "",
                    str(outs[0].dtype),
                    loc._nodes.get(id(node)) if node is not None else None,
                )
            return out
        module = loc._stack[-1] if loc._stack else None
        if made_nan or made_inf:
            value = _value(made_nan, made_inf)
            dtype = str(outs[0].dtype)
            loc.forward = Event("forward", op, "", value, _user_line(), "", dtype, module)
        elif loc.forward_input is None:
            value = _value(nan_in, inf_in)
            dtype = str(outs[0].dtype)
            loc.forward_input = Event("input", op, "", value, _user_line(), "", dtype, module)
        return out


def _last_user_line(trace) -> str:
    """From anomaly mode's recorded forward traceback: the last line not inside torch."""
    if isinstance(trace, list):
        trace = "".join(trace)
    lines = str(trace).splitlines()
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i].strip()
        if line.startswith("File ") and "/torch/" not in line and "/kb/snippets/" not in line:
            code = lines[i + 1].strip() if i + 1 < len(lines) else ""
            # 'File "x.py", line 3, in f' -> 'x.py:3'
            path, _, rest = line[5:].partition(", line ")
            return f"{path.strip(chr(34))}:{rest.partition(',')[0]}: {code}"
    return ""


class locate_nonfinite:
    """Context manager: run a step inside, then `.report()` names where NaN/inf began."""

    def __init__(self, *models, anomaly: bool = True):
        self.models = models
        self.anomaly = anomaly
        self.forward: Event | None = None
        self.forward_input: Event | None = None
        self.backward: Event | None = None
        self.ops_checked = 0
        self._stack: list = []
        self._nodes: dict = {}  # id(autograd node) -> weakref to the module whose output it is
        self._names: dict = {}
        self._handles: list = []
        self._mode = None
        self._anomaly_before = None

    def _name_modules(self, targets) -> None:
        for target in targets:
            items = target.items() if isinstance(target, dict) else [("", target)]
            for name, value in items:
                if isinstance(value, torch.nn.Module):
                    for sub, module in value.named_modules():
                        full = ".".join(p for p in (name, sub) if p) or type(module).__name__
                        self._names.setdefault(id(module), full)

    def __enter__(self):
        self._name_modules(self.models)
        hooks = torch.nn.modules.module

        def pre(module, args):
            self._stack.append(weakref.ref(module))

        def post(module, args, output):
            if self._stack:
                self._stack.pop()
            # Remember which module made each output's autograd node, for backward.
            for t in tree_leaves(output):
                if isinstance(t, torch.Tensor) and t.grad_fn is not None:
                    self._nodes.setdefault(id(t.grad_fn), weakref.ref(module))

        self._handles = [
            hooks.register_module_forward_pre_hook(pre),
            hooks.register_module_forward_hook(post),
        ]
        if self.anomaly:
            self._anomaly_before = (
                torch.is_anomaly_enabled(),
                torch.is_anomaly_check_nan_enabled(),
            )
            # check_nan=False: this helper finds the op itself and lets the step finish;
            # anomaly mode is on for the forward tracebacks it stores on each node.
            torch.autograd.set_detect_anomaly(True, check_nan=False)
        self._mode = _Checker(self)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)
        for handle in self._handles:
            handle.remove()
        if self._anomaly_before is not None:
            torch.autograd.set_detect_anomaly(
                self._anomaly_before[0], check_nan=self._anomaly_before[1]
            )
        return False

    def report(self, *targets) -> NonFiniteReport:
        """`targets` (a model, or globals()) name modules the constructor was not given."""
        self._name_modules(targets)
        forward = self.forward or self.forward_input
        for event in (forward, self.backward):
            module = event.module_ref() if event is not None and event.module_ref else None
            if module is not None:
                event.module = self._names.get(id(module), type(module).__name__)
        return NonFiniteReport(forward, self.backward, self.ops_checked)
