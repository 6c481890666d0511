"""Windows error 126, "The specified module could not be found", without torch's wrapper.

torch 1.8 and later wrap a failed DLL load in `Error loading "...dll" or one of its
dependencies`, which the entry's template matches whole. Older releases, and pastes cut
to the OS error, show only `OSError: [WinError 126] The specified module could not be
found`: the Windows part still states the failure, a DLL or one of its dependencies that
the loader could not find.
"""

from __future__ import annotations

TRIGGER = "WinError 126"

ENTRY = "windows-dll-dependency-missing"


def diagnose(text: str) -> tuple[str, str] | None:
    return ENTRY, "Windows error 126: a DLL or one of its dependencies could not be found"
