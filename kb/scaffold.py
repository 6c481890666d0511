"""`kb new ID`: the skeleton of an entry, ready to fill in and to fail lint until it is."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATE = """---
id: {id}
title: "TODO: short searchable title, with the message if there is one"
kind: error
area: autograd
exception: RuntimeError
errors:
  - "TODO: first line of the message torch prints, {{variable}} parts in braces"
tags: [TODO]
devices: [cpu, cuda]
torch: ">=2.0"
zh:
  title: "TODO 中文标题"
  summary: "TODO 一句话中文摘要。"
links: []
see_also: []
---

## Symptom

TODO: what the user sees.

## Cause

TODO: the mistake, in a sentence or two.

## Explanation

TODO: why it happens, in terms of autograd / nn.Module.

## Repro

```python repro
import torch

x = torch.ones(2, device=device)
raise RuntimeError("TODO: replace with a minimal repro")
```

## Fix

```python fix
import torch

w = torch.ones(2, device=device, requires_grad=True)
(w * 2).sum().backward()  # TODO: replace with the idiomatic fix
```
"""

_KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ScaffoldError(Exception):
    pass


def new_entry(folder: Path, entry_id: str, paste: str | None = None) -> Path:
    """Write `<folder>/<entry_id>.md` from the template, or drafted from a pasted
    traceback (`paste`); never overwrite an entry."""
    if not _KEBAB.match(entry_id):
        raise ScaffoldError(f"id {entry_id!r} must be kebab-case (a-z, 0-9, '-')")
    path = folder / f"{entry_id}.md"
    if path.exists():
        raise ScaffoldError(f"{path} already exists")
    text = TEMPLATE.format(id=entry_id) if paste is None else draft_from_paste(entry_id, paste)
    folder.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as fh:
        fh.write(text)
    return path


# Where a message's words point, for a first guess at the entry's area (the author
# checks it; a wrong guess costs one edit, no guess a lint error).
_AREA_WORDS = (
    (
        "distributed",
        (
            "nccl",
            "distributed",
            "process group",
            "rank",
            "dynamo",
            "inductor",
            "triton",
            "torch.compile",
            "graph break",
        ),
    ),
    ("cuda", ("cuda", "cudnn", "cublas", "gpu", "device-side", "out of memory", "driver")),
    ("checkpoints", ("state_dict", "pickle", "unpickl", "load", "save", "checkpoint")),
    ("data", ("dataloader", "worker", "collate", "dataset")),
    ("losses", ("target", "loss", "entropy")),
    ("autograd", ("grad", "backward", "leaf", "inplace", "in-place", "graph")),
    ("shapes", ("size", "shape", "dimension", "dtype", "scalar type", "mat1", "channels")),
    ("modules", ("module", "parameter", "forward")),
)


def draft_from_paste(entry_id: str, paste: str) -> str:
    """An entry drafted from a real traceback: the exception type, the message as a
    template with its variable parts marked, the user's failing line as a starting
    repro, and a links field. What it cannot know is left as TODO, so `kb lint` lists
    what is left to fill in."""
    import json

    from kb.tb import read_paste
    from kb.templates import template_from_message

    found = read_paste(paste)
    raised = [r for r in found.raised if r.message or r.detail]
    if not raised:
        raise ScaffoldError(
            "no exception line in the paste: paste the whole traceback, or at least its "
            "last line ('SomeError: message')"
        )
    # The last exception ended the program; a warning only if nothing was raised.
    last = ([r for r in raised if not r.warning] or raised)[-1]
    message = last.message or last.detail.split("\n")[0]
    template = template_from_message(message)
    where, line = _failing_line(found)
    low = message.lower()
    area = next(
        (name for name, words in _AREA_WORDS if any(w in low for w in words)),
        "TODO: one of autograd, modules, shapes, losses, training, data, checkpoints, "
        "cuda, numerics, distributed",
    )
    kind = "warning" if last.warning else "error"

    def quoted(text: str) -> str:
        # JSON strings are YAML double-quoted scalars: any pasted text is stored safely.
        return json.dumps(text, ensure_ascii=False)

    shown = f"{last.type}: {message}"
    if "```" in line:  # cannot sit in a code block of an entry
        line = ""
    where = where.replace("`", "'")
    fence = _fence(shown)
    raised_at = f"\n\nRaised at `{where}`:\n\n```python\n{line}\n```" if line else ""
    repro = _starting_repro(where, line)
    return DRAFT.format(
        id=entry_id,
        title=quoted(f"TODO: the cause in a few words: {message[:80]}"),
        kind=kind,
        area=quoted(area),
        exception=quoted(last.type),
        template=quoted(template),
        fence=fence,
        shown=shown,
        raised_at=raised_at,
        repro=repro,
    )


def _failing_line(found) -> tuple[str, str]:
    """The user's own last frame (`file, line N`) and its source line, if the paste
    shows them; torch's internal frames are skipped."""
    for frame in reversed(found.frames):
        if not frame.library and frame.code:
            where = f"{frame.file}, line {frame.line}" if frame.line else frame.file
            return where, frame.code[-1].strip()
    return "", ""


def _starting_repro(where: str, line: str) -> str:
    if line and _compiles(line):
        return (
            "import torch\n\n"
            "# TODO: self-contained: build what the failing line uses, on `device`.\n"
            f"# The failing line from the paste ({where}):\n"
            f"{line}"
        )
    comment = f"# The failing line from the paste ({where}): {line}\n" if line else ""
    return (
        "import torch\n\n"
        f"{comment}"
        "# TODO: the smallest program that raises the message above, on `device`.\n"
        'raise RuntimeError("TODO: replace with a minimal repro")'
    )


def _compiles(line: str) -> bool:
    try:
        compile(line, "<paste>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in the text, so a paste cannot
    close it early."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


DRAFT = """---
id: {id}
title: {title}
kind: {kind}
area: {area}
exception: {exception}
errors:
  - {template}
tags: [TODO]
devices: [cpu, cuda]
torch: ">=2.0"
zh:
  title: "TODO 中文标题"
  summary: "TODO 一句话中文摘要。"
links: ["TODO: the public report(s) of this failure (issue, forum thread, question page)"]
see_also: []
---

## Symptom

{fence}text
{shown}
{fence}{raised_at}

## Cause

TODO: the mistake, in a sentence or two.

## Explanation

TODO: why it happens, in terms of autograd / nn.Module.

## Repro

```python repro
{repro}
```

## Fix

```python fix
import torch

# TODO: the idiomatic fix: the repro with the mistake corrected.
raise RuntimeError("TODO: replace with the fix")
```
"""
