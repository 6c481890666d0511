"""A bare `NotImplementedError` raised by `torch/autograd/function.py` during backward.

Before torch 1.10 a custom `autograd.Function` without a `backward` inherited the base
class's, which was just `raise NotImplementedError`: the paste ends in that frame with
no message at all. The frame names the cause the current message words
(`custom-function-missing-backward`); an MPS or sparse `NotImplementedError` raised
elsewhere carries a message and other frames, and decides nothing here.
"""

from __future__ import annotations

TRIGGER = "NotImplementedError"

ENTRY = "custom-function-missing-backward"
FRAMES = ("autograd/function.py", "autograd\\function.py")


def diagnose(text: str) -> tuple[str, str] | None:
    at = max(text.rfind(frame) for frame in FRAMES)
    if at < 0:
        return None
    after = text[at:]
    # The last frame is the base class's backward, and nothing follows but the bare raise.
    if ", in backward" not in after or "raise NotImplementedError" not in after:
        return None
    return ENTRY, (
        "NotImplementedError raised by autograd.Function's own backward: the custom "
        "Function defines none"
    )
