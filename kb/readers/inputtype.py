"""What differs between the two types a convolution compares: the device or the dtype.

"Input type (torch.cuda.FloatTensor) and weight type (torch.FloatTensor) should be the
same" is raised when the input and the layer's weight (or bias) differ in device or in
dtype; both kinds of cause document it. The two types in the message say which: one
`cuda` type and one without is a device mismatch (`device-mismatch-cuda-cpu`); two
types on the same device name the input's dtype: uint8 images (`conv-input-uint8-image`)
or float64 arrays (`conv-input-float64`).
"""

from __future__ import annotations

TRIGGER = "Input type ("

DEVICE = "device-mismatch-cuda-cpu"
UINT8 = "conv-input-uint8-image"
FLOAT64 = "conv-input-float64"
# The dtype words of both spellings: torch.cuda.ByteTensor (1.x, and 2.x for devices)
# and unsigned char / double / c10::Half (2.x, for dtypes).
DTYPES = {
    "byte": "uint8",
    "unsigned char": "uint8",
    "double": "float64",
    "float": "float32",
    "half": "float16",
    "c10::half": "float16",
    "bfloat16": "bfloat16",
    "c10::bfloat16": "bfloat16",
}


def _between(text: str, opening: str) -> str | None:
    at = text.find(opening)
    if at < 0:
        return None
    end = text.find(")", at + len(opening))
    return text[at + len(opening) : end] if end >= 0 else None


def types(text: str) -> tuple[str, str] | None:
    """The input's type and the weight's (or bias's), as printed."""
    given = _between(text, TRIGGER)
    other = _between(text, "weight type (") or _between(text, "bias type (")
    return (given, other) if given and other else None


def _dtype(name: str) -> str | None:
    word = name.lower().replace("torch.", "").replace("cuda.", "")
    word = word.removesuffix("tensor").strip()
    return DTYPES.get(word)


def diagnose(text: str) -> tuple[str, str] | None:
    pair = types(text)
    if pair is None:
        return None
    given, other = pair
    if ("cuda" in given.lower()) != ("cuda" in other.lower()):
        return DEVICE, f"one type is on the GPU and one is not ({given}, {other})"
    dtype = _dtype(given)
    if dtype is None or dtype == _dtype(other):
        return None
    if dtype == "uint8":
        return UINT8, f"the input is uint8 ({given}): image bytes, not floats"
    if dtype == "float64":
        return FLOAT64, f"the input is float64 ({given}), the layer float32"
    return None


def unlikely(text: str) -> list[tuple[str, str]]:
    """A device mismatch when both types are on one device; a dtype the input is not."""
    verdict = diagnose(text)
    if verdict is None:
        return []
    if verdict[0] == DEVICE:
        given, other = types(text) or ("", "")
        if _dtype(given) is not None and _dtype(given) == _dtype(other):
            why = f"both types are {_dtype(given)}: the devices differ"
            return [(UINT8, why), (FLOAT64, why)]
        return []
    out = [(DEVICE, "both types are on the same device: the dtypes differ")]
    for entry_id, dtype in ((UINT8, "uint8"), (FLOAT64, "float64")):
        if entry_id != verdict[0]:
            out.append((entry_id, f"the input is not {dtype}"))
    return out
