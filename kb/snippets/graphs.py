"""Detect autograd graphs kept alive across training steps.

Paste-alone helper from kb (`kb show --snippet graph_kept_alive`); needs only torch.

    with watch_graphs() as watch:             # wrap two or more training steps
        for x, y in batches[:3]:
            loss = criterion(model(x), y)
            optimizer.zero_grad(); loss.backward(); optimizer.step()
            history.append(loss)              # the bug: keeps each step's graph
    print(watch.report())                     # or .as_dict()

A tensor with a grad_fn keeps its whole graph alive (and, until backward frees them, the
activations the graph saved). After a step's backward() its tensors should die when the
next step rebinds the names; those still alive two steps later are held by something
(a list, a running total, an attribute). A TorchFunctionMode tags every tensor an
operation creates with the number of backward() calls so far, and the report names what
is still alive from earlier steps and what holds it. It also reports graphs that grow
from one backward() to the next (a hidden state carried across steps without
.detach()), and graphs built but never backpropagated (inference without no_grad()).
"""

from __future__ import annotations

import collections
import dataclasses
import gc
import weakref

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten


def tree_leaves(tree: object) -> list:
    # torch.utils._pytree.tree_leaves is new in torch 2.1; tree_flatten is in them all.
    return tree_flatten(tree)[0]


ENTRIES = {
    "kept": "loss-history-keeps-graph",
    "growing": "backward-twice-reused-tensor",
    "no_backward": "eval-does-not-disable-grad",
}

ADVICE = {
    "kept": "tensors from earlier steps still hold their autograd graphs (and saved "
    "activations): store loss.item() or loss.detach(), not the loss tensor",
    "growing": "each backward() walks a bigger graph than the last: a tensor carried from "
    "step to step (a hidden state, a running average) is not detached",
    "no_backward": "graphs were built but no backward() ran: run inference under "
    "torch.no_grad() or torch.inference_mode()",
}


@dataclasses.dataclass
class Finding:
    kind: str  # kept | growing | no_backward
    detail: str

    @property
    def entry(self) -> str:
        return ENTRIES[self.kind]

    def __str__(self) -> str:
        return f"{ADVICE[self.kind]}\n    {self.detail} [kb show {self.entry}]"


@dataclasses.dataclass
class GraphReport:
    findings: list
    steps: int  # backward() calls watched
    graph_sizes: list  # autograd nodes each backward() walked

    @property
    def clean(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict:
        return {
            "clean": self.clean,
            "steps": self.steps,
            "graph_sizes": list(self.graph_sizes),
            "findings": [
                {"kind": f.kind, "detail": f.detail, "entry": f.entry, "why": ADVICE[f.kind]}
                for f in self.findings
            ],
        }

    def __str__(self) -> str:
        head = f"graphs kept alive: {self.steps} backward() call(s) watched"
        if self.clean:
            return head + ": no graph outlives its step"
        return "\n".join(
            [f"{head}: {len(self.findings)} problem(s)"] + [f"  {f}" for f in self.findings]
        )

    __repr__ = __str__


def _graph_size(roots, limit=200_000) -> int:
    seen, stack = set(), [t.grad_fn for t in roots if t.grad_fn is not None]
    while stack and len(seen) < limit:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(n for n, _ in node.next_functions)
    return len(seen)


def _holders(tensor, names) -> str:
    """What refers to this tensor: a named list, a dict, an object's attribute."""
    out = []
    for ref in gc.get_referrers(tensor):
        if isinstance(ref, list):
            name = names.get(id(ref))
            out.append(f"{name} (a list of {len(ref)})" if name else f"a list of {len(ref)}")
        elif isinstance(ref, dict) and "__builtins__" not in ref:
            keys = [k for k, v in ref.items() if v is tensor][:1]
            owner = names.get(id(ref))
            if keys:
                out.append(f"{owner}.{keys[0]}" if owner else f"a dict or attribute '{keys[0]}'")
    return ", ".join(dict.fromkeys(out)) or "a name or object not found by the watcher"


_BACKWARD = {torch.Tensor.backward, torch.autograd.backward, torch.autograd.grad}


class _Tagger(TorchFunctionMode):
    def __init__(self, watch):
        super().__init__()
        self.watch = watch

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        watch = self.watch
        if func in _BACKWARD:
            roots = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
            watch.graph_sizes.append(_graph_size(roots))
            out = func(*args, **kwargs)
            watch.steps += 1
            return out
        out = func(*args, **kwargs)
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.grad_fn is not None and id(t) not in watch.tags:
                name = getattr(func, "__name__", str(func))
                key = id(t)
                ref = weakref.ref(t, lambda _, key=key: watch.tags.pop(key, None))
                watch.tags[key] = (ref, watch.steps, name)
        return out


class watch_graphs:
    """Context manager; `.report()` after it names graphs that outlived their step."""

    def __init__(self):
        self.tags: dict = {}  # id -> (weakref, backward calls before it was made, op)
        self.steps = 0
        self.graph_sizes: list = []
        self._mode = None

    def __enter__(self):
        self._mode = _Tagger(self)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)
        return False

    def report(self, names: dict | None = None) -> GraphReport:
        """`names` (globals() works) lets the report name the lists holding old tensors."""
        by_id = {id(v): k for k, v in (names or {}).items() if isinstance(v, (list, dict))}
        alive = [(ref(), step, op) for ref, step, op in list(self.tags.values())]
        alive = [(t, step, op) for t, step, op in alive if t is not None and t.grad_fn is not None]
        findings = []
        if self.steps == 0:
            if alive:
                ops = collections.Counter(op for _, _, op in alive)
                findings.append(
                    Finding(
                        "no_backward",
                        f"{len(alive)} tensor(s) with a grad_fn still alive ({_ops(ops)})",
                    )
                )
        else:
            # The last step's tensors may still be bound to names (loss, out); older ones
            # should have died when the loop rebound those names.
            old = [(t, step, op) for t, step, op in alive if step < self.steps - 1]
            if old:
                ops = collections.Counter(op for _, _, op in old)
                nbytes = sum(t.numel() * t.element_size() for t, _, _ in old)
                held = _holders(old[0][0], by_id)
                findings.append(
                    Finding(
                        "kept",
                        f"{len(old)} tensor(s) from steps before the last ({_ops(ops)}; "
                        f"{nbytes} bytes of their own), e.g. held by {held}",
                    )
                )
        sizes = self.graph_sizes
        if len(sizes) >= 3 and all(b > a for a, b in zip(sizes, sizes[1:], strict=False)):
            findings.append(Finding("growing", f"autograd nodes per backward(): {sizes}"))
        return GraphReport(findings, self.steps, list(sizes))


def _ops(counts) -> str:
    return ", ".join(f"{n} x {op}" for op, n in counts.most_common(4))
