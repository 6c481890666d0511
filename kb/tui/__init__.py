"""`kb tui`: the Textual interface. Only `run` lives here, so `kb` can import this package
without loading textual until the interface really starts."""

from __future__ import annotations

import os
import sys

MAX_PIPED_BYTES = 8 * 1024 * 1024


def read_piped_stdin() -> str:
    """Text piped into `kb tui` (`python train.py 2>&1 | kb tui`), keeping the end of a
    huge one: the exception lines are at the bottom."""
    data = sys.stdin.buffer.read()
    if len(data) > MAX_PIPED_BYTES:
        data = data[-MAX_PIPED_BYTES:]
    return data.decode("utf-8", "replace")


def attach_terminal() -> None:
    """Make the terminal, not the finished pipe, the keyboard: Textual reads keys from
    file descriptor 0."""
    fd = os.open("/dev/tty", os.O_RDWR)
    os.dup2(fd, 0)
    os.close(fd)
    sys.stdin = sys.__stdin__ = os.fdopen(0, "r", encoding="utf-8", closefd=False)


def run(query: str = "") -> int:
    """Start the interface with `query` in the box; returns an exit status."""
    from kb.tui.app import KbApp

    KbApp(query).run()
    return 0
