"""The warning a reentrant activation checkpoint prints when no input requires grad.

"None of the inputs have requires_grad=True. Gradients will be None" comes from
torch/utils/checkpoint.py alone: it names its entry whatever else the paste holds.
"""

from __future__ import annotations

TRIGGER = "None of the inputs have requires_grad=True"

CHECKPOINT = "activation-checkpoint-no-input-requires-grad"


def diagnose(text: str) -> tuple[str, str] | None:
    return CHECKPOINT, "torch.utils.checkpoint's warning: no input of the segment requires grad"
