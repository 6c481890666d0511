"""Prove a helper against an entry: it must report the repro's problem and pass the fix.

Each helper has a probe that runs an entry's block the way a user would use the helper
(inside its context manager, or followed by a call on the objects the block left
behind) and returns the reports. The harness (`kb.pytest_plugin`) runs one probe per
helper the entry lists under `snippets:`, on each device.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field

from kb.model import Entry
from kb.verify import BlockRun, new_namespace, run_block

Execute = Callable[[], BlockRun]


def _top_modules(namespace: dict) -> list[tuple[str, object]]:
    """Modules bound to names in the block, leaving out those inside another one."""
    import torch

    modules = [
        (name, value)
        for name, value in namespace.items()
        if isinstance(value, torch.nn.Module) and not name.startswith("_")
    ]
    inner = {id(sub) for _, m in modules for sub in list(m.modules())[1:]}
    return [(name, m) for name, m in modules if id(m) not in inner]


def _optimizers(namespace: dict) -> list[tuple[str, object]]:
    import torch

    return [(n, v) for n, v in namespace.items() if isinstance(v, torch.optim.Optimizer)]


def _gradient_flow(execute: Execute, namespace: dict) -> tuple[list, BlockRun]:
    from kb.snippets.gradflow import gradient_flow

    with gradient_flow() as flow:
        run = execute()
    return [flow.report(namespace)], run


def _unregistered(execute: Execute, namespace: dict) -> tuple[list, BlockRun]:
    from kb.snippets.unregistered import find_unregistered

    run = execute()
    return [find_unregistered(m, name=n) for n, m in _top_modules(namespace)], run


def _optimizer_coverage(execute: Execute, namespace: dict) -> tuple[list, BlockRun]:
    from kb.snippets.optcoverage import check_optimizer

    run = execute()
    reports = [
        check_optimizer(model, opt, model_name=mn, optimizer_name=on)
        for on, opt in _optimizers(namespace)
        for mn, model in _top_modules(namespace)
    ]
    return reports, run


def _graph_kept_alive(execute: Execute, namespace: dict) -> tuple[list, BlockRun]:
    from kb.snippets.graphs import watch_graphs

    with watch_graphs() as watch:
        run = execute()
    return [watch.report(namespace)], run


def _nonfinite(execute: Execute, namespace: dict) -> tuple[list, BlockRun]:
    from kb.snippets.nonfinite import locate_nonfinite

    with locate_nonfinite() as locator:
        run = execute()
    return [locator.report(namespace)], run


PROBES: dict[str, Callable[[Execute, dict], tuple[list, BlockRun]]] = {
    "gradient_flow": _gradient_flow,
    "unregistered": _unregistered,
    "optimizer_coverage": _optimizer_coverage,
    "graph_kept_alive": _graph_kept_alive,
    "nonfinite": _nonfinite,
}


@dataclass
class Proof:
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)


def _entry_ids(value: object) -> set[str]:
    """Every entry id a report's dict points to (its findings' "entry" fields)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "entry" and isinstance(item, str):
                out.add(item)
            else:
                out |= _entry_ids(item)
    elif isinstance(value, list):
        for item in value:
            out |= _entry_ids(item)
    return out


def probe(entry: Entry, helper: str, phase: str, device: str) -> tuple[list, BlockRun]:
    """Run one block of the entry under the helper: (its reports, what the block did)."""
    block = entry.blocks[phase]
    module: types.ModuleType = new_namespace(device)
    timeout = entry.timeout or 60.0

    def execute() -> BlockRun:
        return run_block(block, entry.path, module, timeout)

    return PROBES[helper](execute, module.__dict__)


def prove(entry: Entry, helper: str, device: str) -> Proof:
    """The helper reports the repro's problem, naming this entry or a look-alike it lists
    under see_also, and finds the fix clean, on this device."""
    if helper not in PROBES:
        return Proof(False, f"no probe for helper '{helper}'")
    reports, _ = probe(entry, helper, "repro", device)
    found = [r for r in reports if not r.clean]
    if not found:
        shown = [str(r) for r in reports] or ["(the repro left no object the helper inspects)"]
        return Proof(False, f"{helper} did not report the repro's problem", shown)
    named = set().union(*(_entry_ids(r.as_dict()) for r in found))
    related = {entry.id, *entry.see_also}
    if not named & related:
        return Proof(
            False,
            f"{helper} reported a problem, but points to {', '.join(sorted(named))}, "
            f"neither {entry.id} nor one of its see_also",
            [str(r) for r in found],
        )
    reports, run = probe(entry, helper, "fix", device)
    if run.error is not None:
        return Proof(False, f"the fix raised {type(run.error).__name__}: {run.error}")
    dirty = [r for r in reports if not r.clean]
    if dirty:
        return Proof(False, f"{helper} reports a problem in the fix", [str(r) for r in dirty])
    return Proof(True, f"{helper} reported the repro and found the fix clean", [str(found[0])])
