"""What the two batch sizes of a loss's check say: an input of one row, or not.

"Expected input batch_size (1) to match target batch_size (256)." is the message of a
flatten that changed the number of rows (`input-target-batch-size-mismatch`) and of a
bare `squeeze()` that took the batch dimension of a one-sample batch off the target, so
the loss reads the target's height as its batch (`squeeze-drops-batch-dim`). An input
of exactly one row is the second case's mark; any other makes it less likely.
"""

from __future__ import annotations

TRIGGER = "Expected input batch_size ("

SQUEEZED = "squeeze-drops-batch-dim"


def sizes(text: str) -> tuple[int, int] | None:
    at = text.find(TRIGGER)
    if at < 0:
        return None
    rest = text[at + len(TRIGGER) :]
    given, _, rest = rest.partition(") to match target batch_size (")
    target = rest.partition(")")[0]
    if not (given.isdigit() and target.isdigit()):
        return None
    return int(given), int(target)


def diagnose(text: str) -> tuple[str, str] | None:
    pair = sizes(text)
    if pair is None or pair[0] != 1 or pair[1] == 1:
        return None
    return SQUEEZED, f"the input is one sample and the target {pair[1]} rows: a squeezed target"


def unlikely(text: str) -> list[tuple[str, str]]:
    pair = sizes(text)
    if pair is None or pair[0] == 1:
        return []
    return [(SQUEEZED, f"the input has {pair[0]} rows, not the one of a squeezed batch")]
