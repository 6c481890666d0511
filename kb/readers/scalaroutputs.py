"""Dynamo's graph break at Tensor.item(), named by the setting that would capture it.

Every wording of this break names `capture_scalar_outputs`: the log warning of torch 2.4
and later ("Graph break from `Tensor.item()`, consider setting:
torch._dynamo.config.capture_scalar_outputs = True"), the break reason of later
releases ("Unsupported Tensor.item() call with capture_scalar_outputs=False") and its
environment variable TORCHDYNAMO_CAPTURE_SCALAR_OUTPUTS. Torch prints the setting for
no other failure, so the paste names its entry whatever else it holds.
"""

from __future__ import annotations

TRIGGER = "capture_scalar_outputs"

ITEM = "compile-item-graph-break"


def diagnose(text: str) -> tuple[str, str] | None:
    return ITEM, "Dynamo broke the graph at Tensor.item(): capture_scalar_outputs is off"
