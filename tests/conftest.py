"""Shared fixtures: tiny catalogues in tmp folders, and an environment that never touches
the user's real cache."""

from __future__ import annotations

from pathlib import Path

import pytest

# Plugin tests use pytester's subprocess runs only: its in-process runs forget modules first
# imported inside them, and torch cannot be imported twice in one process.
pytest_plugins = ["pytester"]

ERROR_ENTRY = """\
---
id: {id}
title: "backward() on a non-scalar: grad can be implicitly created only for scalar outputs"
kind: error
area: autograd
exception: RuntimeError
errors:
  - "grad can be implicitly created only for scalar outputs"
tags: [autograd]
devices: [cpu, cuda]
torch: ">=1.0"
zh:
  title: "对非标量调用 backward"
  summary: "先把输出归约成标量。"
---

## Symptom

`backward()` raises.

## Cause

The output is a vector.

## Explanation

Autograd needs a starting gradient; it only makes one up for scalars.

## Repro

```python repro
{repro}
```

## Fix

```python fix
{fix}
```
"""

REPRO = """\
import torch

w = torch.ones(3, device=device, requires_grad=True)
(w * 2).backward()"""

FIX = """\
import torch

w = torch.ones(3, device=device, requires_grad=True)
(w * 2).sum().backward()"""


def entry_text(entry_id: str = "vector-backward", repro: str = REPRO, fix: str = FIX) -> str:
    """A valid error entry; tests break it with str.replace to exercise one rule."""
    return ERROR_ENTRY.format(id=entry_id, repro=repro, fix=fix)


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory):
    # One cache per session: the shipped catalogue's index is built once, not per test.
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _isolated_cache(_session_cache, monkeypatch):
    cache = _session_cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("KB_RECORD", str(cache / "verified.json"))
    monkeypatch.delenv("KB_DB", raising=False)
    monkeypatch.delenv("KB_ENTRIES", raising=False)
    monkeypatch.delenv("KB_BUNDLED", raising=False)


@pytest.fixture
def catalogue(tmp_path, monkeypatch) -> Path:
    """An entries folder with one valid error entry, selected as the only catalogue in use."""
    folder = tmp_path / "entries"
    folder.mkdir()
    (folder / "vector-backward.md").write_text(entry_text(), encoding="utf-8")
    monkeypatch.setenv("KB_ENTRIES", str(folder))
    monkeypatch.setenv("KB_BUNDLED", "0")
    monkeypatch.setenv("KB_DB", str(tmp_path / "index.db"))
    return folder
