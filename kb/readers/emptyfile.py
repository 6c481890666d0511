"""Where an EOFError ("Ran out of input", or no message at all) was raised: torch.load
reading a checkpoint, or a spawned worker reading what its parent sent.

torch.load of an empty (0-byte) file falls back to the legacy format and its first
unpickling finds the end of the file: `EOFError: Ran out of input` in
torch/serialization.py (`_legacy_load`, `magic_number = pickle_module.load(...)`), or a
bare `EOFError` from torch/_weights_only_unpickler.py with weights_only=True (the
default since torch 2.6). The same `Ran out of input` ends the traceback of a spawned
process (a DataLoader worker on Windows or macOS) whose parent failed to send it its
Dataset: multiprocessing's spawn.py, `reduction.pickle.load(from_parent)`. The frames
tell them apart; with both or neither, the reader decides nothing.
"""

from __future__ import annotations

from kb.readers import one_side

TRIGGER = "EOFError"

LOAD = "torch-load-empty-file"
SPAWNED = "a spawned process"  # no entry: the side that rules torch.load out
LOAD_MARKS = (
    "serialization.py",
    "_weights_only_unpickler",
    "_legacy_load",
    "torch.load",
)
WORKER_MARKS = ("spawn.py", "from_parent", "spawn_main", "popen_spawn")


def _side(text: str) -> tuple[str, str] | None:
    return one_side(text, {LOAD: LOAD_MARKS, SPAWNED: WORKER_MARKS})


def diagnose(text: str) -> tuple[str, str] | None:
    side = _side(text)
    if side is None or side[0] != LOAD:
        return None
    return LOAD, f"torch.load found the file empty at its first byte ({side[1]})"


def unlikely(text: str) -> list[tuple[str, str]]:
    side = _side(text)
    if side is None or side[0] != SPAWNED:
        return []
    return [(LOAD, f"the EOFError is raised in a spawned process ({side[1]}), not in torch.load")]
