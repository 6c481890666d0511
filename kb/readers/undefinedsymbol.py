"""Whose library the loader's "undefined symbol" names: torch's own, or an extension's.

"{library}: undefined symbol: {symbol}" is the dynamic loader's message for any shared
library that needs a symbol nothing loaded provides. When the library is one of torch's
own (`torch/lib/libtorch_cpu.so`, `libc10.so`, `libcaffe2.so`, `libTHD.so`, `torch/_C`),
`import torch` itself is broken: another copy of a torch dependency was loaded first
(`torch-library-shadowed`), not a third-party extension built against another torch
(`extension-built-for-other-torch`, which names the extension's file). The message says
which file failed; the reader reads that, and the symbol where one names its own cause:
`iJIT_NotifyEvent` missing from torch's `libtorch_cpu.so` is the conda MKL 2024.1 break
(`mkl-2024-1-undefined-symbol-ijit`), whichever torch library path is printed.
"""

from __future__ import annotations

TRIGGER = "undefined symbol"

TORCH_OWN = "torch-library-shadowed"
EXTENSION = "extension-built-for-other-torch"
# The verdict for one of the two rules the other out.
OTHER = {
    TORCH_OWN: (EXTENSION, "the library named is torch's own, not an extension's"),
    EXTENSION: (TORCH_OWN, "the library named is an extension's, not torch's"),
}
MKL_IJIT = "mkl-2024-1-undefined-symbol-ijit"
# Symbols whose absence names the cause, not only the library: {symbol: (entry, why)}.
KNOWN_SYMBOLS = {
    "iJIT_NotifyEvent": (MKL_IJIT, "iJIT_NotifyEvent is a symbol MKL 2024.1 no longer exports"),
}
# Libraries a torch wheel, a source build or a C++ libtorch ships, by the start of their
# file names (the TH* ones are torch 0.x and 1.x's).
TORCH_LIBRARIES = (
    "libtorch", "libc10", "libcaffe2", "libshm", "libnvfuser",
    "libth.", "libthc", "libthd", "libthnn", "libthcunn",
)  # fmt: skip


def library(text: str) -> str | None:
    """The file named before the first ': undefined symbol'."""
    at = text.find(": " + TRIGGER)
    if at < 0:
        return None
    line = text[:at].rsplit("\n", 1)[-1]
    words = line.split()
    return words[-1].strip("'\"`") if words else None


def diagnose(text: str) -> tuple[str, str] | None:
    at = text.find(": " + TRIGGER + ": ")
    if at >= 0:
        tail = text[at + len(TRIGGER) + 4 :].split(None, 1)
        known = KNOWN_SYMBOLS.get(tail[0].strip("'\"`")) if tail else None
        if known is not None:
            return known
    path = library(text)
    if not path or not any(kind in path for kind in (".so", ".pyd", ".dylib")):
        return None
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    folded = path.replace("\\", "/").lower()
    if "/torch/lib/" in folded or "/torch/_c" in folded or name.lower().startswith(TORCH_LIBRARIES):
        return TORCH_OWN, f"the library is torch's own ({name}), not an extension's"
    return EXTENSION, f"the library is an extension's ({name}), not torch's"
