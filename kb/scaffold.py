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


def new_entry(folder: Path, entry_id: str) -> Path:
    """Write `<folder>/<entry_id>.md` from the template; never overwrite an entry."""
    if not _KEBAB.match(entry_id):
        raise ScaffoldError(f"id {entry_id!r} must be kebab-case (a-z, 0-9, '-')")
    path = folder / f"{entry_id}.md"
    if path.exists():
        raise ScaffoldError(f"{path} already exists")
    folder.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as fh:
        fh.write(TEMPLATE.format(id=entry_id))
    return path
