"""Windows error 1455, "The paging file is too small for this operation to complete".

Windows raises it when torch's DLLs (and each DataLoader worker that loads them again)
cannot commit their memory. Pasted whole, the message matches the entry's template,
which torch wraps around the OS text (`Error loading "...dll" or one of its
dependencies`); pasted alone, the Windows part states the cause by itself.
"""

from __future__ import annotations

TRIGGER = "paging file is too small"

PAGING_FILE = "windows-paging-file-too-small"


def diagnose(text: str) -> tuple[str, str] | None:
    return PAGING_FILE, "Windows error 1455: the paging file is too small"
