"""Where "Can't get attribute 'X' on <module '__main__' ...>" was raised: a DataLoader
worker started with spawn, or torch.load.

Two entries share the unpickling message when the module named is the program's main
module (`__main__`, or `__mp_main__`, the name a spawned worker gives the re-run
script): a worker that cannot find the notebook's or script's Dataset class, and
torch.load of a whole model whose class the loading script lacks. The frames tell them
apart: multiprocessing's spawn_main / reduction.pickle.load / _ForkingPickler.loads,
or a `__mp_main__` module, are a worker; torch.load or serialization.py a checkpoint.
Another module named (`torch._utils`) is neither: the reader stays silent.
"""

from __future__ import annotations

from kb.readers import one_side

TRIGGER = "Can't get attribute"

WORKER = "spawn-worker-class-in-main"
LOAD = "torch-load-class-not-found"
OTHER = {
    WORKER: (LOAD, "the paste unpickles in a spawned worker, not in torch.load"),
    LOAD: (WORKER, "the paste unpickles in torch.load, not in a spawned worker"),
}
MAIN = ("on <module '__main__'", "on <module '__mp_main__'")
WORKER_MARKS = (
    "__mp_main__",
    "spawn_main",
    "reduction.pickle.load",
    "ForkingPickler",
    "multiprocessing",
    "DataLoader worker",
)
LOAD_MARKS = ("torch.load", "serialization.py", "load_checkpoint", "torch_load")


WHY = {
    WORKER: "a spawned worker unpickles the class ({})",
    LOAD: "torch.load unpickles the class ({})",
}


def diagnose(text: str) -> tuple[str, str] | None:
    if not any(main in text for main in MAIN):
        return None
    side = one_side(text, {WORKER: WORKER_MARKS, LOAD: LOAD_MARKS})
    return (side[0], WHY[side[0]].format(side[1])) if side else None
