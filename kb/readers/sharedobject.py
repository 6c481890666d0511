"""Whose library the loader could not open: NVIDIA's, torch's own, or neither.

"libcudart.so.11.0: cannot open shared object file: No such file or directory" is the
loader's message for any library it cannot find; the library's name says which failure
it is. A CUDA library (libcudart, libcudnn, libcublas, libcurand, libnvrtc, libnccl, ...)
is `cuda-library-cannot-open`; one of torch's own (libc10, libtorch_*) is an extension
loaded before torch put them in the process (`extension-imported-before-torch`). Any
other library (libGL, libpython) is neither, and both move down.
"""

from __future__ import annotations

TRIGGER = "cannot open shared object file"

CUDA = "cuda-library-cannot-open"
TORCH = "extension-imported-before-torch"
CUDA_LIBRARIES = ("libcu", "libnv", "libnccl")
TORCH_LIBRARIES = ("libc10", "libtorch", "libshm", "libcaffe2")


def library(text: str) -> str | None:
    """The file named before ': cannot open shared object file'."""
    at = text.find(": " + TRIGGER)
    if at < 0:
        return None
    words = text[:at].rsplit("\n", 1)[-1].split()
    return words[-1].strip("'\"`").rsplit("/", 1)[-1] if words else None


def diagnose(text: str) -> tuple[str, str] | None:
    name = library(text)
    if not name or ".so" not in name:
        return None
    if name.lower().startswith(CUDA_LIBRARIES):
        return CUDA, f"the library is one of CUDA's ({name})"
    if name.lower().startswith(TORCH_LIBRARIES):
        return TORCH, f"the library is one of torch's own ({name})"
    return None


def unlikely(text: str) -> list[tuple[str, str]]:
    """Both, for a library that is neither CUDA's nor torch's; the other of the two."""
    name = library(text)
    if not name or ".so" not in name:
        return []
    verdict = diagnose(text)
    if verdict is None:
        why = f"the library named ({name}) is neither CUDA's nor torch's"
        return [(CUDA, why), (TORCH, why)]
    if verdict[0] == CUDA:
        return [(TORCH, "the library named is CUDA's, not torch's")]
    return [(CUDA, "the library named is torch's own, not CUDA's")]
