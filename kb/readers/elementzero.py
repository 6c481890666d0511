"""Whether the "element 0 of tensors does not require grad" paste shows checkpointing.

Five entries share "element 0 of tensors does not require grad and does not have a
grad_fn"; one of them, a reentrant activation checkpoint whose inputs do not require
grad, shows itself in the paste: its warning ("None of the inputs have
requires_grad=True"), a frame in torch/utils/checkpoint.py, or the words gradient
checkpointing. With one of those the reader points to it; without, that cause is the
less likely one.
"""

from __future__ import annotations

TRIGGER = "does not require grad and does not have a grad_fn"

CHECKPOINT = "activation-checkpoint-no-input-requires-grad"
MARKS = (
    "None of the inputs have requires_grad=True",
    "utils/checkpoint.py",
    "utils\\checkpoint.py",
    "gradient checkpointing",
    "gradient_checkpointing",
    "activation checkpointing",
    # torch.utils.checkpoint's functions by their qualified names: a bare "checkpoint("
    # is also load_checkpoint( and save_checkpoint( in every training script.
    "checkpoint.checkpoint(",
    "checkpoint_sequential",
    "use_reentrant",
)


def _mark(text: str) -> str | None:
    folded = text.lower()
    return next((mark for mark in MARKS if mark.lower() in folded), None)


def diagnose(text: str) -> tuple[str, str] | None:
    mark = _mark(text)
    if mark is None:
        return None
    return CHECKPOINT, f"the paste shows activation checkpointing ({mark})"


def unlikely(text: str) -> list[tuple[str, str]]:
    if _mark(text) is not None:
        return []
    return [(CHECKPOINT, "the paste shows no activation checkpointing")]
