"""`nn.Parameter(...)` followed by a call that returns a new tensor: `.cuda()`, `.to(...)`,
`.view(...)`, `.double()`.

The call's result is the output of an operation on the Parameter, not the Parameter: it is
not a leaf, its `.grad` stays None, and stored on a module it is not registered, so
`model.parameters()` leaves it out (`parameter-view-non-leaf`). The pattern is the cause
whatever words surround it: a paste or a description quoting that line has the failure.
"""

from __future__ import annotations

TRIGGER = "Parameter("

ENTRY = "parameter-view-non-leaf"
# The line quoted is the bug itself, whatever the words around it say: as much as a
# whole symptom's words, so a short query that quotes it ranks the entry first.
WEIGHT = 10.0
# Tensor methods that return a new tensor (a copy or a view). Conversions that are most
# often no-ops on a Parameter (`.float()` of float32 weights, `.cpu()` on the CPU,
# `.contiguous()`) return the Parameter itself and are left out, as are `.data`,
# `.requires_grad_()` and `.retain_grad()`.
COPIES = frozenset(
    """cuda to view reshape double half bfloat16 t transpose permute unsqueeze squeeze
    expand repeat clone flatten long int""".split()
)


def _close(text: str, start: int) -> int:
    """Index just past the parenthesis closing the one opened before `start`, or -1."""
    depth = 1
    for at in range(start, min(len(text), start + 400)):
        if text[at] == "(":
            depth += 1
        elif text[at] == ")":
            depth -= 1
            if depth == 0:
                return at + 1
    return -1


def method_after(text: str, at: int) -> str:
    """The method called right after `Parameter(...)` (`cuda` in `).cuda()`), or ''."""
    if not text.startswith(".", at):
        return ""
    end = at + 1
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    return text[at + 1 : end] if text.startswith("(", end) else ""


def first_copy(text: str, trigger: str, call_end) -> str:
    """The first copying method called on what `trigger` starts (`call_end(text, at)`:
    where that expression ends, or -1), or ''."""
    at = text.find(trigger)
    while at >= 0:
        end = call_end(text, at)
        method = method_after(text, end) if end > 0 else ""
        if method in COPIES:
            return method
        at = text.find(trigger, at + len(trigger))
    return ""


def diagnose(text: str) -> tuple[str, str] | None:
    method = first_copy(text, TRIGGER, lambda text, at: _close(text, at + len(TRIGGER)))
    if not method:
        return None
    return ENTRY, (
        f"nn.Parameter(...).{method}(...): the result is a new tensor made from the "
        "Parameter, not a Parameter"
    )
