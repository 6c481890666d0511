"""Which file torch.load's weights-only check refused, read from the global it names.

"Weights only load failed." heads the message of several entries: a full checkpoint
saved before torch 2.6 made `weights_only=True` the default, a cached model object, and
`torch.save(model.state_dict, path)` without the call. The last one shows itself in the
detail line: pickling a bound method stores `getattr(model, "state_dict")`, so the
unpickler names `GLOBAL getattr`. With that line the reader points to that entry; a
paste that shows the detail line with another global rules nothing in, but makes that
entry the less likely one, as does a first line pasted alone.

"Unsupported operand N" names a byte that is no pickle opcode the weights-only
unpickler knows. When that byte is printable text (118 is 'v', 60 is '<'), the file is
text, not a pickle: a Git LFS pointer or an HTML page saved under the checkpoint's name.
Bytes above 127 are opcodes of newer pickle protocols (a file `pickle.dump` wrote): those
say nothing about which entry, so the reader leaves them.
"""

from __future__ import annotations

TRIGGER = "Weights"  # "Weights only load failed", and "WeightsUnpickler error" alone

METHOD_SAVED = "torch-save-state-dict-method"
TELLING = "GLOBAL getattr"
NOT_A_PICKLE = "checkpoint-file-not-a-checkpoint"
OPERAND = "Unsupported operand "


def diagnose(text: str) -> tuple[str, str] | None:
    if TELLING in text:
        return METHOD_SAVED, "the file pickles getattr: a bound method (model.state_dict) was saved"
    at = text.find(OPERAND)
    if at < 0:
        return None
    digits = ""
    for char in text[at + len(OPERAND) : at + len(OPERAND) + 4]:
        if not char.isdigit():
            break
        digits += char
    if not digits or int(digits) > 126 or (int(digits) < 32 and int(digits) not in (9, 10, 13)):
        return None
    byte = repr(chr(int(digits)))
    return NOT_A_PICKLE, f"operand {digits} is the text byte {byte}: the file is text, not a pickle"


def unlikely(text: str) -> list[tuple[str, str]]:
    """Entries whose telling detail the paste lacks: they go below their look-alikes."""
    if TELLING in text or "Weights only load failed" not in text:
        return []
    return [(METHOD_SAVED, "the paste does not name GLOBAL getattr, which this cause prints")]
