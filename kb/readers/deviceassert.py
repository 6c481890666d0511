"""The kernel assertion a CUDA device-side assert prints before torch raises.

`CUDA error: device-side assert triggered` names no cause: any kernel's check can fire
it. The line CUDA prints to stderr first (`Loss.cu:250: nll_loss_forward_reduce_cuda_
kernel_2d: block: [0,0,0], thread: [5,0,0] Assertion 't >= 0 && t < n_classes' failed.`)
quotes the check that failed, and the check names the mistake: a class index outside
[0, C) for the loss (the device-side assert entry's own main cause), an embedding id past
num_embeddings, a scatter/gather index out of range, a BCE input outside [0, 1]. A check
it does not know still shows that a kernel assertion fired, which is the device-side
assert itself (often pasted without the RuntimeError line).
"""

from __future__ import annotations

TRIGGER = "Assertion `"

GENERAL = "cuda-device-side-assert"
# The condition, as torch's kernels write it, and the entry whose mistake fails it.
CONDITIONS = (
    # A class label outside [0, C) is the device-side assert entry's own main cause (the
    # CPU form, `Target N is out of bounds`, has its own entry).
    ("t >= 0 && t < n_classes", GENERAL),
    ("cur_target >= 0 && cur_target < n_classes", GENERAL),
    ("srcIndex < srcSelectDimSize", "embedding-index-out-of-range"),
    ("idx_dim >= 0 && idx_dim < index_size", "scatter-gather-index-out-of-bounds"),
    ("input_val >= zero && input_val <= one", "bce-input-not-probabilities"),
    ("input >= 0. && input <= 1.", "bce-input-not-probabilities"),
)


def diagnose(text: str) -> tuple[str, str] | None:
    at = text.find(TRIGGER)
    if at < 0:
        return None
    condition = text[at + len(TRIGGER) :].split("`", 1)[0].split("'", 1)[0]
    for known, entry in CONDITIONS:
        if condition.startswith(known):
            return entry, f"the kernel assertion `{known}` failed"
    # Kernel assertions print where they fired on the GPU; a host-side assert (a failed
    # C++ check, `THCTensor_(checkGPU)`) prints no block and thread.
    if "block: [" in text[:at] and "thread: [" in text[:at]:
        return GENERAL, "a CUDA kernel's assertion failed (block and thread shown)"
    return None
