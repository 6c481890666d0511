"""The parsed catalogue: an entry and its runnable code blocks.

Plain dataclasses with no behaviour beyond derived properties, so the parser, the
index, the pytest plugin and (later) the TUI can share them without importing each
other. (Search results, `kb.search.Hit`, live with search: the cold search path must
not pay for importing dataclasses.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("error", "warning", "silent", "guide", "environment")
DEVICES = ("cpu", "cuda")

# Sections in the order an entry must give them; the bool says whether it is required.
SECTIONS: tuple[tuple[str, bool], ...] = (
    ("Symptom", True),
    ("Cause", True),
    ("Explanation", True),
    ("Diagnose", False),
    ("Repro", True),
    ("Fix", True),
    ("Why not just", False),
    ("Check", False),
    ("See also", False),
)

# Conditions an entry's `needs` may name: the installation a failure exists in, with the
# words a skip reason uses for it (kb.environment tests them).
NEEDS: dict[str, str] = {
    "cpu-build": "a CPU-only build of torch",
    "cuda-build": "a CUDA build of torch",
    "no-cuda": "a machine where CUDA is unavailable",
    "no-cuda-driver": "a machine without the NVIDIA driver",
    "not-windows": "a machine not running Windows",
    "multi-gpu": "a machine with at least two CUDA devices",
    "tf32-gpu": "a CUDA device with TF32 tensor cores (compute capability 8.0 or newer)",
    "no-mps": "a machine where the MPS backend (Apple GPU) is unavailable",
    "numpy-bridge-works": "an installation where torch.from_numpy works with the installed NumPy",
    "numpy-2-on-numpy-1-build": "NumPy 2 installed next to a torch built against NumPy 1.x",
}

# Where an environment entry's message templates are looked for (kb.envproof): the
# installed torch's Python sources, its compiled libraries, and the NVIDIA libraries
# shipped as `nvidia-*` wheels next to it (the CUDA runtime, cuDNN, cuBLAS, NCCL).
FOUND_IN: dict[str, str] = {
    "torch-python": "the torch package's Python sources",
    "torch-lib": "torch's compiled libraries (torch/lib, torch/_C)",
    "torch-cuda-lib": "torch's CUDA libraries (torch/lib/*cuda*: libc10_cuda, libtorch_cuda)",
    "nvidia-lib": "the NVIDIA libraries of the nvidia-* wheels (site-packages/nvidia)",
    # Installing torch fails before torch exists: that message is the installer's.
    "pip": "the Python sources of the pip installed next to torch (site-packages/pip)",
    # Messages only some platforms' files hold: the scope is empty elsewhere, so the
    # check skips there and runs where the files exist (scripts/check_wheel_messages.py
    # checks them in a downloaded wheel).
    "torch-mps-lib": "torch's libraries of a macOS build (torch/lib/*.dylib: only those have MPS)",
    "loader": "the Linux dynamic loader (glibc's ld.so), which words dlopen's errors",
    "openmp-lib": "the Intel or LLVM OpenMP runtime (libiomp5, libomp) next to torch",
}
# An environment entry's proof, in place of repro and fix: its templates are found in
# those files, and its diagnose block runs here and gives the verdict `has_condition`.
ENV_PHASES = ("messages", "diagnose")
DIAGNOSE_ROLE = "diagnose"

# Code fences the harness runs, by the word after `python` in the info string.
BLOCK_ROLES = ("repro", "fix", "check")
# Tempting wrong fixes, any number, under `## Why not just`: the check must reject each.
BANDAID_ROLE = "bandaid"
BANDAID_SECTION = "Why not just"


@dataclass(frozen=True)
class CodeBlock:
    """A runnable fenced block: its role, its source and where it starts in the file."""

    role: str
    code: str
    line: int  # 1-based line number of the first line of code (after the fence)


@dataclass(frozen=True)
class BandAid:
    """A tempting wrong fix: what it is and why it is wrong (label), and its code."""

    label: str
    block: CodeBlock


@dataclass(frozen=True)
class Entry:
    """One failure mode, as parsed and validated from `entries/<id>.md`."""

    id: str
    title: str
    kind: str
    errors: tuple[str, ...]
    tags: tuple[str, ...]
    devices: tuple[str, ...]
    torch: str
    zh_title: str
    zh_summary: str
    sections: dict[str, str]  # section title -> its Markdown source
    blocks: dict[str, CodeBlock]  # role -> block
    path: str
    exception: str | None = None
    older_errors: tuple[str, ...] = ()
    # The torch range of each older wording, in the order of older_errors ("": any release).
    older_ranges: tuple[str, ...] = ()
    # The class each older wording was raised as, where it is not `exception` ("": that).
    older_exceptions: tuple[str, ...] = ()
    fixed_in: str | None = None
    links: tuple[str, ...] = ()
    see_also: tuple[str, ...] = ()
    timeout: float | None = None
    area: str | None = None  # section of the catalogue index (kb.catalogue.AREAS)
    requires: tuple[str, ...] = ()  # modules beyond torch the blocks import (numpy, PIL)
    without_cuda: bool = False  # the failure only exists where CUDA is unavailable
    needs: tuple[str, ...] = ()  # environment conditions (kb.environment.NEEDS)
    # Messages of the chained cause (`raise ... from`), when the raised line is shared.
    cause_errors: tuple[str, ...] = ()
    snippets: tuple[str, ...] = ()  # kb.snippets helpers that must detect the repro
    line: int = 1  # where the front matter starts, for reports
    sha: str = ""  # of the file's bytes
    section_lines: dict[str, int] = field(default_factory=dict)
    bandaids: tuple[BandAid, ...] = ()
    doctor: tuple[str, ...] = ()  # kb doctor rules whose proof this entry is (KBD001...)
    found_in: tuple[str, ...] = ()  # environment: where the templates are (FOUND_IN)
    # environment: the verdict the diagnose block must give where a NEEDS condition holds.
    has_condition: dict[str, bool] = field(default_factory=dict)

    @property
    def symptom(self) -> str:
        return self.sections.get("Symptom", "")

    @property
    def cause(self) -> str:
        return self.sections.get("Cause", "")

    @property
    def explanation(self) -> str:
        return self.sections.get("Explanation", "")

    @property
    def diagnose(self) -> str:
        return self.sections.get("Diagnose", "")

    @property
    def repro(self) -> str:
        # Environment entries have none: their failure needs hardware this may not have.
        block = self.blocks.get("repro")
        return block.code if block else ""

    @property
    def fix(self) -> str:
        block = self.blocks.get("fix")
        return block.code if block else ""

    @property
    def check(self) -> str | None:
        block = self.blocks.get("check")
        return block.code if block else None
