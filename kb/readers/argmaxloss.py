"""Whether the "element 0 of tensors does not require grad" paste shows an argmax.

Several entries share "element 0 of tensors does not require grad and does not have a
grad_fn"; one of them, a loss computed from argmax predictions (a dice on the argmax
mask, a loss on the predicted class), shows itself in the paste when the code around
the error is quoted: `argmax` (or `argmin`, or the indices half of `max(...)[1]`). With
one of those the reader points to it; without, that cause is the less likely one.
"""

from __future__ import annotations

TRIGGER = "does not require grad and does not have a grad_fn"

ARGMAX = "loss-through-argmax"
MARKS = ("argmax", "argmin")


def _mark(text: str) -> str | None:
    folded = text.lower().replace(" ", "")
    mark = next((mark for mark in MARKS if mark in folded), None)
    if mark is None and "max(" in folded and ")[1]" in folded:
        return "max(...)[1]"
    return mark


def diagnose(text: str) -> tuple[str, str] | None:
    mark = _mark(text)
    if mark is None:
        return None
    return ARGMAX, f"the paste computes with {mark}, which has no gradient"


def unlikely(text: str) -> list[tuple[str, str]]:
    if _mark(text) is not None:
        return []
    return [(ARGMAX, "the paste shows no argmax")]
