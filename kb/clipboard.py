"""Put text on the system clipboard with the platform's own command.

Terminal copy (OSC 52, which the TUI also sends) is ignored by some terminals, macOS
Terminal among them, and by tmux unless configured; a clipboard command works wherever
there is a desktop session to hold the text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def clipboard_commands() -> list[list[str]]:
    """The clipboard commands to try here, most specific first."""
    if sys.platform == "darwin":
        return [["pbcopy"]]
    if sys.platform == "win32":
        return [["clip.exe"]]
    found: list[list[str]] = []
    if os.environ.get("WAYLAND_DISPLAY"):
        found.append(["wl-copy"])
    if os.environ.get("DISPLAY"):
        found += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    # WSL: the Windows clipboard is reachable from Linux.
    found.append(["clip.exe"])
    return found


def copy_with_command(text: str, timeout: float = 2.0) -> str | None:
    """Copy with the first clipboard command that works; its name, or None if none did."""
    for argv in clipboard_commands():
        if shutil.which(argv[0]) is None:
            continue
        # clip.exe reads UTF-16 when the text starts with its byte-order mark.
        data = b"\xff\xfe" + text.encode("utf-16-le") if argv[0] == "clip.exe" else text.encode()
        try:
            done = subprocess.run(
                argv,
                input=data,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return argv[0]
    return None
