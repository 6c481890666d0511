"""kb.snippets: the debugging helpers the catalogue's Diagnose sections use.

Importing this package is free: no torch until a helper is used. Each helper lives in a
module of its own that imports only torch and the standard library, so `kb show
--snippet NAME` prints source that works pasted alone where kb is not installed. Every
helper returns a small report that prints readably, is falsy-free (`report.clean`
says whether it found nothing) and converts to a dict with `.as_dict()`.

The catalogue proves the helpers: an entry that lists a helper under `snippets:` in its
front matter has it run on its repro (it must report the problem) and on its fix (it
must report clean) by `pytest entries/`.
"""

from __future__ import annotations

# helper name (as entries' `snippets:` key and `kb show --snippet` spell it)
#   -> (module, public callables, one-line summary)
HELPERS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "gradient_flow": (
        "gradflow",
        ("gradient_flow", "gradient_report"),
        "parameters whose gradient is missing, zero or non-finite after backward(), and why",
    ),
    "unregistered": (
        "unregistered",
        ("find_unregistered",),
        "tensors, Parameters and modules a Module holds that parameters()/buffers() miss",
    ),
    "optimizer_coverage": (
        "optcoverage",
        ("check_optimizer",),
        "trainable parameters missing from the optimizer, and optimizer tensors the model dropped",
    ),
    "graph_kept_alive": (
        "graphs",
        ("watch_graphs",),
        "autograd graphs kept alive across training steps (loss history, undetached state)",
    ),
    "memory_estimate": (
        "memory",
        ("estimate_memory", "attention_bytes", "measure_memory"),
        "activation and attention-map memory of one forward pass, without running it for real",
    ),
    "nonfinite": (
        "nonfinite",
        ("locate_nonfinite",),
        "the first module and operation that produced NaN/inf, in forward and in backward",
    ),
}

# Helpers an entry can name under `snippets:` (kb.snippets.prove has a probe for each).
# The memory estimator needs a model and an input shape, not a failing block: its
# proof is the comparison with measured allocations in tests/test_snippets.py.
PROVABLE = ("gradient_flow", "unregistered", "optimizer_coverage", "graph_kept_alive", "nonfinite")

_EXPORTS = {fn: module for module, fns, _ in HELPERS.values() for fn in fns}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kb.snippets' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"kb.snippets.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def source(name: str) -> str:
    """The source of a helper's module, pasteable into a Python with only torch."""
    from pathlib import Path

    if name not in HELPERS:
        raise KeyError(name)
    return (Path(__file__).parent / f"{HELPERS[name][0]}.py").read_text(encoding="utf-8")
