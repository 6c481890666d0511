"""torchrun's summary of a failed worker (`ChildFailedError`), and its exit code.

The launcher raises ChildFailedError whatever went wrong inside the worker; the summary
names the rank and exit code only. The reader names the entry that explains the summary
and says what the exit code means, a fact the paste states: a negative code is the
signal that ended the process.
"""

from __future__ import annotations

TRIGGER = "ChildFailedError"

ENTRY = "torchrun-child-failed-root-cause"

# The signals a worker is most often ended by, and what usually sends them.
SIGNALS = {
    "-9": "exitcode -9: killed by SIGKILL, usually the host's out-of-memory killer",
    "-11": "exitcode -11: a segmentation fault in native code",
    "-6": "exitcode -6: an abort (a failed C++ or NCCL assertion)",
    "-15": "exitcode -15: stopped by SIGTERM, after another rank failed",
}


def exit_code(text: str) -> str | None:
    """The root cause's exit code as printed (`1`, `-9`), or None."""
    at = text.find("Root Cause")
    at = text.find("exitcode", at if at >= 0 else 0)
    if at < 0:
        return None
    rest = text[at + len("exitcode") :].lstrip(" :")
    code = rest.split()[0] if rest.split() else ""
    return code if code.lstrip("-").isdigit() else None


def diagnose(text: str) -> tuple[str, str] | None:
    code = exit_code(text)
    why = SIGNALS.get(code or "")
    if why is None:
        why = f"exitcode {code}: an exception in the worker" if code == "1" else ""
    summary = "torchrun's summary of a failed worker: the worker's own output holds the error"
    return ENTRY, f"{summary}; {why}" if why else summary
