"""`torch.randn(..., requires_grad=True)` followed by `.cuda()`, `.to(device)`, `.double()`.

The tensor that requires grad is the one made first; the call returns a copy computed from
it, which is what the user keeps. The copy is not a leaf, so backward() fills no `.grad`
on it (`requires-grad-then-to-non-leaf`). As with `nn.Parameter(...).cuda()`
(`parametercopy`), the quoted line is the cause itself.
"""

from __future__ import annotations

from kb.readers.parametercopy import first_copy

TRIGGER = "requires_grad=True)"

ENTRY = "requires-grad-then-to-non-leaf"
WEIGHT = 10.0


def diagnose(text: str) -> tuple[str, str] | None:
    method = first_copy(text, TRIGGER, lambda text, at: at + len(TRIGGER))
    if not method:
        return None
    return ENTRY, (
        f"(..., requires_grad=True).{method}(...): the tensor kept is a copy made "
        "from the one that requires grad, not a leaf"
    )
