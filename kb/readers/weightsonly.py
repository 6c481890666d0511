"""Which file torch.load's weights-only check refused, read from the global it names.

"Weights only load failed." heads the message of several entries: a full checkpoint
saved before torch 2.6 made `weights_only=True` the default, a cached model object, and
`torch.save(model.state_dict, path)` without the call. The last one shows itself in the
detail line: pickling a bound method stores `getattr(model, "state_dict")`, so the
unpickler names `GLOBAL getattr`. With that line the reader points to that entry; a
paste that shows the detail line with another global rules nothing in, but makes that
entry the less likely one, as does a first line pasted alone.
"""

from __future__ import annotations

TRIGGER = "Weights only load failed"

METHOD_SAVED = "torch-save-state-dict-method"
TELLING = "GLOBAL getattr"


def diagnose(text: str) -> tuple[str, str] | None:
    if TELLING in text:
        return METHOD_SAVED, "the file pickles getattr: a bound method (model.state_dict) was saved"
    return None


def unlikely(text: str) -> list[tuple[str, str]]:
    """Entries whose telling detail the paste lacks: they go below their look-alikes."""
    if TELLING in text:
        return []
    return [(METHOD_SAVED, "the paste does not name GLOBAL getattr, which this cause prints")]
