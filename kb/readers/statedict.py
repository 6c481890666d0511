"""Which cause an `Error(s) in loading state_dict` paste shows, read from its key lists.

Four entries share that header, and their words alone rank them almost alike; the keys
the user pasted tell them apart. Keys that differ only by a leading `module.` are a
wrapper's prefix; top-level names such as `epoch` or `state_dict` are a checkpoint dict
passed whole; two lists naming the same tensors under other names are a rename; only
`size mismatch` lines are a different head; layers present on one side only are a model
built with other settings than the one that saved the weights. The reader says which,
and why, in words a user can check against the paste. It decides nothing when the lists
fit no pattern.

No `re` here (see kb.readers).
"""

from __future__ import annotations

TRIGGER = "state_dict"

MISSING = "Missing key(s) in state_dict:"
UNEXPECTED = "Unexpected key(s) in state_dict:"
SIZE = "size mismatch for "
_MARKERS = (MISSING, UNEXPECTED, SIZE)

# Prefixes that wrappers add to every key: DataParallel/DDP, torch.compile, and the
# attribute a training framework keeps the model under. With one list alone (a paste
# cut short), only these are taken as a prefix.
WRAPPERS = ("module.", "_orig_mod.", "model.")

# Top-level names of the dicts training scripts save around the weights.
CONTAINER_KEYS = frozenset(
    "state_dict model model_state_dict net network params optimizer optimizer_state_dict "
    "epoch iteration step global_step scheduler lr_scheduler args config config_dict "
    "arch best_acc best_prec1 best_loss ema hyper_parameters meta".split()
)

# The entry that explains each cause.
ENTRY_FOR = {
    "prefix": "state-dict-module-prefix",
    "container": "checkpoint-dict-passed-to-load-state-dict",
    "renamed": "state-dict-renamed-keys",
    "size": "state-dict-size-mismatch",
    "layers": "state-dict-model-config-mismatch",
}


def _quoted(segment: str) -> list[str]:
    """The "double-quoted" names in a segment, in order."""
    names = []
    parts = segment.split('"')
    # Odd parts lie between quotes.
    for i in range(1, len(parts) - 1, 2):
        name = parts[i].strip()
        if name and " " not in name:
            names.append(name)
    return names


def key_lists(text: str) -> tuple[list[str], list[str], list[str]]:
    """(missing, unexpected, size-mismatched) names in a paste; empty lists when absent."""
    found: list[tuple[int, str]] = []
    for marker in _MARKERS:
        start = text.find(marker)
        while start >= 0:
            found.append((start, marker))
            start = text.find(marker, start + len(marker))
    found.sort()
    out: dict[str, list[str]] = {m: [] for m in _MARKERS}
    for i, (start, marker) in enumerate(found):
        end = found[i + 1][0] if i + 1 < len(found) else len(text)
        segment = text[start + len(marker) : end]
        if marker == SIZE:
            name = segment.split(":", 1)[0].strip()
            if name and " " not in name:
                out[SIZE].append(name)
        else:
            out[marker] += _quoted(segment)
    return out[MISSING], out[UNEXPECTED], out[SIZE]


def _prefix(missing: list[str], unexpected: list[str]) -> str | None:
    """A leading segment on every key of one list and none of the other, such that taking
    it off names keys of the other list (or a wrapper's prefix, when one list is all the
    paste shows)."""
    for extra, other in ((unexpected, missing), (missing, unexpected)):
        if not extra or "." not in extra[0]:
            continue
        first = extra[0].split(".", 1)[0] + "."
        if not all(k.startswith(first) for k in extra):
            continue
        if any(k.startswith(first) for k in other):
            continue
        if other:
            stripped = {k[len(first) :] for k in extra}
            if not stripped & set(other):
                continue
        elif first not in WRAPPERS:
            continue
        return first
    return None


def _leaf(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def diagnose(text: str) -> tuple[str, str] | None:
    """(entry id, why) for a paste of load_state_dict's error, or None when the key lists
    are absent or fit no cause."""
    cause = read_cause(text)
    return (ENTRY_FOR[cause[0]], cause[1]) if cause else None


def read_cause(text: str) -> tuple[str, str] | None:
    """(cause, why), a cause being a key of ENTRY_FOR; None when none fits."""
    missing, unexpected, sizes = key_lists(text)
    if not (missing or unexpected or sizes):
        return None
    if sizes and not missing and not unexpected:
        shown = ", ".join(sizes[:2]) + (", ..." if len(sizes) > 2 else "")
        return "size", f"same keys, other shapes (size mismatch for {shown})"
    # Top-level parameters (a ViT's "cls_token") have no dot either: a known container
    # name must be among the unexpected keys.
    dotless = bool(unexpected) and all("." not in k for k in unexpected)
    if dotless and all("." in k for k in missing) and CONTAINER_KEYS & set(unexpected):
        shown = ", ".join(f'"{k}"' for k in unexpected[:4])
        return "container", f"unexpected top-level keys {shown}: a dict around the weights"
    prefix = _prefix(missing, unexpected)
    if prefix:
        return "prefix", f"the keys differ only by a leading '{prefix}'"
    # The same tensors under other names: the leaf names pair up one to one.
    paired = (
        bool(missing)
        and len(missing) == len(unexpected)
        and sorted(map(_leaf, missing)) == sorted(map(_leaf, unexpected))
        and not set(missing) & set(unexpected)
    )
    if paired:
        return "renamed", "the same tensors under other names (missing and unexpected keys pair up)"
    # Whole layers on one side only: a model built with other settings (depth, blocks,
    # optional norms) than the one that saved the weights.
    if (missing or unexpected) and all("." in k for k in missing + unexpected):
        side = (
            "missing"
            if missing and not unexpected
            else "unexpected"
            if unexpected and not missing
            else ""
        )
        if side:
            return "layers", f"only {side} keys: layers that exist on one side only"
        return "layers", "missing and unexpected keys name different layers, not renamed ones"
    return None
