"""Which devices the same-device check names: a GPU and the CPU, or two GPUs.

"Expected all tensors to be on the same device, but found at least two devices, cuda:0
and cpu!" (or "... but got index is on cpu, different from other tensors on cuda:0")
is raised for two causes with their own entries: a tensor left on the CPU
(`device-mismatch-cuda-cpu`) and a tensor created on the current GPU while the model
runs on another (`device-mismatch-two-gpus`). The two device names in the message tell
which.
"""

from __future__ import annotations

TRIGGER = "Expected all tensors to be on the same device"

CPU_AND_GPU = "device-mismatch-cuda-cpu"
TWO_GPUS = "device-mismatch-two-gpus"
# The verdict for one of the two rules the other out.
OTHER = {
    CPU_AND_GPU: (TWO_GPUS, "one of the devices named is the CPU, not a second GPU"),
    TWO_GPUS: (CPU_AND_GPU, "both devices named are GPUs, none is the CPU"),
}


def _after(text: str, marker: str, stops: str) -> str:
    at = text.find(marker)
    if at < 0:
        return ""
    rest = text[at + len(marker) :]
    end = len(rest)
    for stop in stops:
        found = rest.find(stop)
        if 0 <= found < end:
            end = found
    return rest[:end].strip()


def named_devices(text: str) -> list[str]:
    """The two devices the message names, as printed (`cuda:0`, `cpu`)."""
    at = text.find(TRIGGER)
    if at < 0:
        return []
    text = text[at:]
    pair = _after(text, "found at least two devices, ", "!\n")
    if " and " in pair:
        return [part.strip() for part in pair.split(" and ", 1)]
    one = _after(text, " is on ", ", \n")
    other = _after(text, "different from other tensors on ", " (\n")
    return [one, other] if one and other else []


def diagnose(text: str) -> tuple[str, str] | None:
    devices = named_devices(text)
    if len(devices) != 2:
        return None
    kinds = [device.split(":", 1)[0] for device in devices]
    shown = " and ".join(devices)
    if "cpu" in kinds and "cuda" in kinds:
        return CPU_AND_GPU, f"the devices are {shown}: a tensor is still on the CPU"
    if kinds == ["cuda", "cuda"] and devices[0] != devices[1]:
        return TWO_GPUS, f"the devices are {shown}: two GPUs"
    return None
