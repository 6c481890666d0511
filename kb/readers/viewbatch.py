"""Which size of a failed view/reshape is wrong, read from the shape and the input size.

"shape '[...]' is invalid for input of size N" is the message of a feature size that
does not fit (view-shape-invalid-size) and of a batch size written into forward
(batch-size-hardcoded-in-model). When the shape names no -1, and N holds a whole number
of rows of the other sizes, fewer than the first size asks for, everything but the first
size fits: the input is a smaller batch than the one hard-coded. A first size of -1
states no batch size, so that cause is less likely.
"""

from __future__ import annotations

TRIGGER = "' is invalid for input of size "

BATCH = "batch-size-hardcoded-in-model"


def _parse(text: str) -> tuple[list[int], int] | None:
    at = text.find(TRIGGER)
    start = text.rfind("shape '[", 0, at)
    if start < 0 or text[at - 1] != "]":
        return None
    try:
        sizes = [int(s) for s in text[start + len("shape '[") : at - 1].split(",")]
        digits = text[at + len(TRIGGER) :].split()[0].rstrip(".")
        return sizes, int(digits)
    except (ValueError, IndexError):
        return None


def diagnose(text: str) -> tuple[str, str] | None:
    parsed = _parse(text)
    if parsed is None:
        return None
    sizes, numel = parsed
    if len(sizes) < 2 or any(s < 0 for s in sizes):
        return None
    row = 1
    for s in sizes[1:]:
        row *= s
    if row == 0 or numel % row or numel // row >= sizes[0]:
        return None
    return BATCH, (
        f"{numel} elements are {numel // row} whole rows of {sizes[1:]}, fewer than the "
        f"{sizes[0]} the shape asks for: a hard-coded batch size, and a smaller batch"
    )


def unlikely(text: str) -> list[tuple[str, str]]:
    parsed = _parse(text)
    if parsed is None or not parsed[0] or parsed[0][0] != -1:
        return []
    return [(BATCH, "the shape's first size is -1: no batch size is written into it")]
