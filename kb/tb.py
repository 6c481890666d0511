"""Read what a user pasted: find the exception and warning lines in a traceback.

A paste may be a whole terminal traceback, a Jupyter cell's coloured one, pytest output
(`E   RuntimeError: ...`), chained exceptions, log lines with timestamps in front, or
just one retyped line. Searching all of it as words drowns the one line that matters
in file paths and source code, so this module pulls out the exception lines and the
last frames, and hands search the message itself. Stdlib only (search path).
"""

from __future__ import annotations

import re

from kb.templates import strip_ansi

# `RuntimeError: msg`, `torch.OutOfMemoryError: msg`, `_pickle.UnpicklingError: msg`
_EXC = re.compile(
    r"^(?P<type>(?:[A-Za-z_][\w]*\.)*"
    r"(?:[A-Z]\w*(?:Error|Exception|Warning|Interrupt|Exit|Failure)|StopIteration|Error|Exception|Warning))"
    r"(?::\s?(?P<msg>.*))?$"
)
# `/path/to/file.py:12: UserWarning: msg` as the warnings module prints it.
_WARN = re.compile(r"^(?P<where>.+?):(?P<line>\d+): (?P<type>\w*Warning): (?P<msg>.*)$")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?')
_IPY_FRAME = re.compile(r"^\s*(?:File|Cell) (?P<file>.+?):(?P<line>\d+)(?:, in (?P<func>.+))?$")
# Older IPython: `<ipython-input-4-1a2b> in <module>()`, `/x/torch/optim/sgd.py in __init__(...)`
_OLD_IPY_FRAME = re.compile(r"^\s*(?P<file><ipython-input-[^>]*>|\S+\.py) in (?P<func>[\w<>.]+)\(")
# A notebook's header line: `ValueError          Traceback (most recent call last)`
_NOTEBOOK_HEAD = re.compile(r"^(?P<type>(?:\w+\.)*[A-Z]\w*(?:Error|Exception))\s+Traceback \(")
# The same, anywhere in a line: after prose, a quote, Chinese text, `**bold**` markers.
_EXC_INLINE = re.compile(
    r"(?:^|[^\w.])(?P<type>(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Warning)):\s(?P<msg>.+)$"
)
# Notebook JSON exports: {"name": "RuntimeError", "message": "...", ...}
_JSON_FIELD = re.compile(r'^\s*"(?P<key>name|ename|message|evalue)":\s*"(?P<value>.*?)",?\s*$')
# A `raise X("message")` source line: the only trace of the message in a cut-off paste.
_RAISE = re.compile(
    r"\braise\s+(?P<type>(?:\w+\.)*\w+)\(\s*[fbr]?(?P<q>[\"'])(?P<msg>.+?)(?:(?P=q)|$)"
)
_QUOTES = "\"'`*“”‘’「」"
# `**RuntimeError: ...**` or `> RuntimeError` as pasted into a Markdown issue.
_EMPHASIS = re.compile(r"^\s*(?:>\s*)*(?:\*\*|__|`)|(?:\*\*|__|`)\s*$")
_NOISE = (
    "Traceback (most recent call last)",
    "During handling of the above exception",
    "The above exception was the direct cause",
)
# Timestamps and log levels in front of a line: `2024-05-01 12:00:00,123 ERROR `, `[rank0]: `
_PREFIX = re.compile(
    r"^(?:\[?\d{4}-\d\d-\d\d[T ][\d:.,]+Z?\]?\s*|\[?\d\d:\d\d:\d\d(?:[.,]\d+)?\]?\s*"
    r"|\[(?:rank|RANK)\s*\d+\]:?\s*|(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\s*[:\-|]?\s*"
    r"|[\w.]+:\d+\]\s*|E\s{2,}|E\s+(?=[A-Z]\w*(?:Error|Exception|Warning)))+"
)


# Plain classes, not dataclasses: this module is on the cold-start path of `kb search`.
class Raised:
    """One exception or warning line found in the paste."""

    __slots__ = ("type", "message", "detail", "warning")

    def __init__(self, type: str, message: str, detail: str = "", warning: bool = False) -> None:
        self.type = type  # class name without module, e.g. "RuntimeError"
        self.message = message  # its first line
        self.detail = detail  # following lines that belong to the message
        self.warning = warning

    def __repr__(self) -> str:
        return f"Raised({self.type!r}, {self.message!r})"


class Paste:
    """What was found in a paste."""

    __slots__ = ("raised", "frames", "code", "text")

    def __init__(self, text: str = "") -> None:
        self.raised: list[Raised] = []
        self.frames: list[tuple[str, int, str]] = []  # (file, line, function)
        self.code: list[str] = []  # source lines shown under frames
        self.text = text  # the cleaned paste


def clean(text: str) -> str:
    """Strip ANSI codes, NULs, carriage returns, log prefixes and Markdown emphasis."""
    text = strip_ansi(text).replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(_PREFIX.sub("", _EMPHASIS.sub("", line)) for line in text.split("\n"))


def read_paste(text: str) -> Paste:
    """Find exceptions, warnings and frames in pasted text."""
    paste = Paste(text=clean(text))
    lines = paste.text.split("\n")
    in_frames = False
    current: Raised | None = None
    for raw in lines:
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped:
            current = None
            continue
        if any(stripped.startswith(n) for n in _NOISE):
            in_frames = stripped.startswith("Traceback")
            current = None
            continue
        head = _NOTEBOOK_HEAD.match(stripped)
        if head:
            # The type is known; its message, if the paste has it, comes at the end.
            paste.raised.append(Raised(head.group("type").rsplit(".", 1)[-1], ""))
            in_frames, current = True, None
            continue
        frame = _FRAME.match(line) or _IPY_FRAME.match(line)
        if frame:
            func = (frame.group("func") or "").strip()
            paste.frames.append((frame.group("file"), int(frame.group("line")), func))
            in_frames, current = True, None
            continue
        old_frame = _OLD_IPY_FRAME.match(line)
        if old_frame:
            paste.frames.append((old_frame.group("file"), 0, old_frame.group("func")))
            in_frames, current = True, None
            continue
        warn = _WARN.match(stripped)
        if warn:
            current = Raised(warn.group("type"), warn.group("msg").strip(), warning=True)
            paste.raised.append(current)
            continue
        exc = _EXC.match(stripped)
        # A Jupyter header (`RuntimeError     Traceback (most recent call last)`) has no colon.
        if exc and (exc.group("msg") is not None or stripped == exc.group("type")):
            name = exc.group("type").rsplit(".", 1)[-1]
            current = Raised(
                name, (exc.group("msg") or "").strip(), warning=name.endswith("Warning")
            )
            paste.raised.append(current)
            in_frames = False
            continue
        if current is not None and not in_frames:
            current.detail = f"{current.detail}\n{stripped}" if current.detail else stripped
            continue
        if in_frames:
            paste.code.append(_strip_marker(stripped))
    # A bare `RuntimeError` header line from Jupyter is only useful if no message follows it.
    paste.raised = [r for r in paste.raised if r.message or r.detail] or paste.raised
    if not any(r.message for r in paste.raised):
        _fallbacks(paste, lines)
    return paste


def _fallbacks(paste: Paste, lines: list[str]) -> None:
    """Look harder when no `Type: message` line starts a line: inline mentions, notebook
    JSON, and `raise X("...")` source lines of a cut-off traceback."""
    found: list[Raised] = []
    json_name = ""
    for line in lines:
        field = _JSON_FIELD.match(line)
        if field:
            if field.group("key") in ("name", "ename"):
                json_name = field.group("value")
            elif json_name:
                found.append(Raised(json_name, field.group("value").strip()))
            continue
        inline = _EXC_INLINE.search(line)
        if inline:
            name = inline.group("type").rsplit(".", 1)[-1]
            # A closing quote ends the message: 出现“RuntimeError: ...”怎么办
            message = re.split(r"[”“」』]", inline.group("msg"))[0].strip().strip(_QUOTES).strip()
            found.append(Raised(name, message, warning=name.endswith("Warning")))
    if not found:
        # Only the last source line shown is where it stopped; a `raise` above it is not.
        raised = _RAISE.search(paste.code[-1]) if paste.code else None
        if raised:
            name = raised.group("type").rsplit(".", 1)[-1]
            found.append(Raised(name, raised.group("msg").strip()))
    if found:
        paste.raised = found


def _strip_marker(line: str) -> str:
    # Jupyter marks the failing line `---> 363 torch.autograd.backward(...)`
    return re.sub(r"^-*>?\s*\d+\s+", "", line)
