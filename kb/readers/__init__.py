"""Readers of one message's variable parts, to tell apart entries that share it.

Several entries can document the same message because one message has several causes;
its words rank them almost alike. What varies in the message often shows the cause: the
key lists under load_state_dict's header, the operation named in the in-place error. A
reader looks at those parts and names the entry they point to and why, in words the
user can check against the paste; search puts that entry first and prints the reason.
A reader decides nothing when the parts fit no cause it knows.

Each reader is a module with TRIGGER (a substring the paste must hold before the reader
runs, so other pastes pay nothing) and `diagnose(text) -> (entry id, why) | None`. A
reader may also name entries made less likely (`unlikely(text) -> [(entry id, why)]`):
the cause they explain prints a detail the paste lacks. They move down by the same
weight and keep their match level: the message still matches them. A reader that tells
two entries apart can say so with OTHER instead: {verdict's entry: (the other, why)}.
No `re` here: the search path reads pastes without it (a cold-start cost).
"""

from __future__ import annotations

# What a reader's verdict adds to the entry it points to: more than the words separate
# the entries that share a message, less than a template of another message.
WEIGHT = 5.0

# module name -> the substring that wakes it
READERS = {
    "statedict": "state_dict",
    "inplace": "modified by an inplace operation",
    "weightsonly": "Weights",
    "undefinedsymbol": "undefined symbol",
    "devices": "Expected all tensors to be on the same device",
    "inputtype": "Input type (",
    "viewbatch": "' is invalid for input of size ",
    "sharedobject": "cannot open shared object file",
    "batchsizes": "Expected input batch_size (",
    "elementzero": "does not require grad and does not have a grad_fn",
    "checkpointwarning": "None of the inputs have requires_grad=True",
    "pagingfile": "paging file is too small",
    "scalaroutputs": "capture_scalar_outputs",
    "mainattr": "Can't get attribute",
    "localobject": "local object",
    "forwardargs": "forward() takes ",
    "childfailed": "ChildFailedError",
    "parametercopy": "Parameter(",
    "gradcopy": "requires_grad=True)",
    "deviceassert": "Assertion `",
    "dllnotfound": "WinError 126",
    "functionbackward": "NotImplementedError",
    "emptyfile": "EOFError",
}


def one_side(text: str, sides: dict) -> tuple[str, str] | None:
    """(side, the mark found) when the text holds the marks of exactly one side of
    `sides` ({side: marks}), else None: frames of both, or of neither, decide nothing."""
    found = {}
    for side, marks in sides.items():
        mark = next((mark for mark in marks if mark in text), None)
        if mark is not None:
            found[side] = mark
    return next(iter(found.items())) if len(found) == 1 else None


def _awake(text: str) -> list:
    return [
        __import__(f"kb.readers.{name}", fromlist=["diagnose"])
        for name, trigger in READERS.items()
        if trigger in text
    ]


def _weighed_verdicts(text: str) -> list[tuple[str, str, float]]:
    """(entry id, why, weight) from every reader whose trigger the text holds. A reader
    whose pattern is the cause itself (not one cause of a shared message) says so with
    its own, larger WEIGHT."""
    out = []
    for module in _awake(text):
        verdict = module.diagnose(text)
        if verdict is not None:
            out.append((*verdict, getattr(module, "WEIGHT", WEIGHT)))
    return out


def verdicts(text: str) -> list[tuple[str, str]]:
    """(entry id, why) from every reader whose trigger the text holds."""
    return [(entry_id, why) for entry_id, why, _ in _weighed_verdicts(text)]


def unlikely(text: str) -> list[tuple[str, str]]:
    """(entry id, why) for entries whose telling detail the paste lacks."""
    out = []
    for module in _awake(text):
        if hasattr(module, "unlikely"):
            out += module.unlikely(text)
        elif hasattr(module, "OTHER"):
            # A reader telling two entries apart: its verdict for one rules the other out.
            verdict = module.diagnose(text)
            if verdict is not None and verdict[0] in module.OTHER:
                out.append(module.OTHER[verdict[0]])
    return out


def weigh(text: str, hits: list) -> None:
    """Move the hits (kb.search.Hit) the readers point to up, and those they make less
    likely down, with the reason in `why`. (No typing import for the annotation: it
    would load `re` on the search path.)"""
    moves = [(entry_id, weight, why) for entry_id, why, weight in _weighed_verdicts(text)]
    moves += [(entry_id, -WEIGHT, f"less likely: {why}") for entry_id, why in unlikely(text)]
    for entry_id, weight, why in moves:
        for hit in hits:
            if hit.id == entry_id:
                hit.parts["reader"] = weight
                hit.score += weight
                if weight > 0 and hit.match == "related":
                    # The paste holds the family's own words (the trigger) and a part
                    # that names this entry: more than words in common, less than its
                    # template matched whole.
                    hit.match = "partial"
                # The reason first: it is what tells this entry from the others.
                hit.why = f"{why}; {hit.why}" if hit.why else why
