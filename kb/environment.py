"""The environment an entry's failure needs: which torch build, whether CUDA works here.

Some failures exist only in one kind of installation: "Torch not compiled with CUDA
enabled" needs a CPU-only build, "Found no NVIDIA driver on your system" a CUDA build on
a machine without the driver. An entry names those conditions in its `needs` front-matter
key; elsewhere the harness skips it with the condition as the reason, because there the
failure cannot happen, not because the entry is wrong.

Imported by the harness only (it imports torch); the search path never loads it.
"""

from __future__ import annotations

import ctypes
import functools
import sys

import torch

from kb.model import NEEDS


def build() -> str:
    """`cpu`, `cuda 13.0` or `rocm 6.2`: what this torch was compiled for."""
    if torch.version.cuda:
        return f"cuda {torch.version.cuda}"
    hip = getattr(torch.version, "hip", None)
    if hip:
        return f"rocm {hip}"
    return "cpu"


def has_cuda_driver() -> bool:
    """Can the NVIDIA driver library be loaded? (torch needs it for any CUDA call.)"""
    names = {"win32": ["nvcuda.dll"], "darwin": []}.get(sys.platform, ["libcuda.so.1"])
    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


@functools.cache
def numpy_bridge() -> tuple[str | None, bool]:
    """(the installed NumPy's version, or None without one; whether torch.from_numpy works).

    Observed, not inferred: a torch built against NumPy 1.x fails to initialize its NumPy
    bridge under NumPy 2 (it warns once at `import torch`) and raises "Numpy is not
    available" at the first conversion; `import numpy` itself works there.
    """
    try:
        import numpy
    except ImportError:
        return None, False
    try:
        torch.from_numpy(numpy.zeros(1))
    except RuntimeError:
        return numpy.__version__, False
    return numpy.__version__, True


def holds(condition: str) -> bool:
    """Does this machine and this torch meet one of the NEEDS conditions?"""
    if condition == "cpu-build":
        return build() == "cpu"
    if condition == "cuda-build":
        return torch.version.cuda is not None
    if condition == "no-cuda":
        return not torch.cuda.is_available()
    if condition == "no-cuda-driver":
        return not has_cuda_driver()
    if condition == "not-windows":
        return sys.platform != "win32"
    if condition == "multi-gpu":
        return torch.cuda.device_count() >= 2
    if condition == "tf32-gpu":
        # The device a block's `device="cuda"` means: the current one.
        return torch.cuda.is_available() and torch.cuda.get_device_capability() >= (8, 0)
    if condition == "no-mps":
        mps = getattr(torch.backends, "mps", None)  # torch before 1.12 has no MPS at all
        return mps is None or not mps.is_available()
    if condition == "numpy-bridge-works":
        return numpy_bridge()[1]
    if condition == "numpy-2-on-numpy-1-build":
        version, works = numpy_bridge()
        return version is not None and not works and int(version.split(".")[0]) >= 2
    raise ValueError(f"unknown condition {condition!r} (known: {', '.join(NEEDS)})")


def describe() -> str:
    """`torch 2.14.1+cu130 (cuda 13.0 build), no CUDA device`: for skip reasons."""
    usable = "CUDA device available" if torch.cuda.is_available() else "no CUDA device"
    return f"torch {torch.__version__} ({build()} build), {usable}"


def unmet(needs: tuple[str, ...] | list[str]) -> str | None:
    """Why these conditions are not met here (the first one that fails), or None."""
    for condition in needs:
        if not holds(condition):
            return f"needs {NEEDS[condition]}; this is {describe()}"
    return None
