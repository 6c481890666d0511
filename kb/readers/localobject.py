"""Who pickled the object in "Can't pickle local object '...<locals>...'": DataLoader
workers started with spawn, or torch.save.

Two entries share the message (and its Python 3.13 form, "Can't get local object"):
torch.save(model) of a module holding a lambda, and a DataLoader whose spawned workers
are sent a Dataset, transform or collate function defined inside a function. The paste
tells them apart when it shows where the pickling ran: the DataLoader's iterator and
multiprocessing's spawn Popen / reduction.dump, or torch.save / serialization.py. With
both or neither, the reader decides nothing.
"""

from __future__ import annotations

from kb.readers import one_side

TRIGGER = "local object"

WORKER = "spawn-worker-pickle-local-object"
SAVE = "pickle-local-lambda"
OTHER = {
    WORKER: (SAVE, "the paste pickles for DataLoader workers, not in torch.save"),
    SAVE: (WORKER, "the paste pickles in torch.save, not for DataLoader workers"),
}
MESSAGES = ("Can't pickle local object", "Can't get local object")
WORKER_MARKS = (
    "DataLoader",
    "dataloader.py",
    "num_workers",
    "popen_spawn",
    "reduction.dump",
    "ForkingPickler",
    "multiprocessing",
)
SAVE_MARKS = ("torch.save", "serialization.py", "_legacy_save", "saving the model")


WHY = {
    WORKER: "the object is pickled for spawned DataLoader workers ({})",
    SAVE: "the object is pickled by torch.save ({})",
}


def diagnose(text: str) -> tuple[str, str] | None:
    if not any(message in text for message in MESSAGES):
        return None
    side = one_side(text, {WORKER: WORKER_MARKS, SAVE: SAVE_MARKS})
    return (side[0], WHY[side[0]].format(side[1])) if side else None
