"""Which module's forward refused the extra positional inputs: an nn.Sequential or another.

"forward() takes 2 positional arguments but 3 were given" is raised for any module called
with more inputs than its forward takes (`forward-too-many-positional-arguments`); an
`nn.Sequential` called with a second input (`sequential-multiple-inputs`) is one case of
it. Since Python 3.10 the message names the class (`Sequential.forward()`,
`Pooler.forward()`), which tells them apart. Without the class name (Python 3.9 and
older), the count still can: `Sequential.forward(self, input)` takes exactly 2
positional arguments, so "takes 3", "takes 1" or "takes from 2 to 4" is another module.
A bare "takes 2" decides nothing unless the paste's code builds an `nn.Sequential`.
A frame in torch/nn/modules/container.py does not show that a Sequential was the module
called: Python raises the count error before the called forward starts, so the last
frames are nn.Module's `__call__`; a container.py frame only shows that a Sequential
was running further up and called one of its layers with one input.
"""

from __future__ import annotations

TRIGGER = "forward() takes "

SEQUENTIAL = "sequential-multiple-inputs"
GENERAL = "forward-too-many-positional-arguments"
# The verdict for one of the two rules the other out.
OTHER = {
    SEQUENTIAL: (GENERAL, "the module called is an nn.Sequential"),
    GENERAL: (SEQUENTIAL, "the forward that refused the inputs is not Sequential's"),
}


def _class_name(text: str, at: int) -> str:
    """The class named just before `forward() takes` (`Pooler` in `Pooler.forward()`),
    or '' when the message has none."""
    if at == 0 or text[at - 1] != ".":
        return ""
    start = at - 1
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    return text[start : at - 1]


def _count(text: str, at: int) -> str:
    """What follows `takes `: `2` of "takes 2 positional", `from` of "takes from 2 to 4"."""
    rest = text[at + len(TRIGGER) :].split()
    return rest[0] if rest else ""


def diagnose(text: str) -> tuple[str, str] | None:
    at = text.find(TRIGGER)
    if at < 0:
        return None
    name = _class_name(text, at)
    if name == "Sequential":
        return SEQUENTIAL, "the message names Sequential.forward(): an nn.Sequential was called"
    if name:
        return GENERAL, f"the message names {name}.forward(), not Sequential.forward()"
    count = _count(text, at)
    if count == "from" or (count.isdigit() and count != "2"):
        shown = text[at : at + len(TRIGGER) + len(count)]
        return GENERAL, (
            f"'{shown}': Sequential.forward takes exactly 2 positional arguments "
            "(self and one input), so the module called is another"
        )
    if "nn.Sequential(" in text:
        # code that builds one (a printed model shows "(0): Sequential(", without nn.)
        return SEQUENTIAL, "the paste builds an nn.Sequential"
    return None
