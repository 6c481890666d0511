"""Read what a user pasted: find the exception and warning lines in a traceback.

A paste may be a whole terminal traceback, a Jupyter cell's coloured one, pytest output
(`E   RuntimeError: ...`), chained exceptions, log lines with timestamps in front, or
just one retyped line. Searching all of it as words drowns the one line that matters
in file paths and source code, so this module pulls out the exception lines and the
last frames, and hands search the message itself. Stdlib only (search path).
"""

from __future__ import annotations

from kb.lazyre import Pattern
from kb.templates import strip_ansi

# Every pattern below is compiled only if a plain string test says it could match (see
# kb.lazyre): the common lines, `Type: message` and `File "x.py", line 3, in f`, are
# read by hand, so a typical paste is searched without importing `re` at all.

# `/path/to/file.py:12: UserWarning: msg` as the warnings module prints it.
_WARN = Pattern(r"^(?P<where>.+?):(?P<line>\d+): (?P<type>\w*Warning): (?P<msg>.*)$")
_IPY_FRAME = Pattern(r"^\s*(?:File|Cell) (?P<file>.+?):(?P<line>\d+)(?:, in (?P<func>.+))?$")
# Older IPython: `<ipython-input-4-1a2b> in <module>()`, `/x/torch/optim/sgd.py in __init__(...)`
_OLD_IPY_FRAME = Pattern(r"^\s*(?P<file><ipython-input-[^>]*>|\S+\.py) in (?P<func>[\w<>.]+)\(")
# A notebook's header line: `ValueError          Traceback (most recent call last)`
_NOTEBOOK_HEAD = Pattern(r"^(?P<type>(?:\w+\.)*[A-Z]\w*(?:Error|Exception))\s+Traceback \(")
# The same, anywhere in a line: after prose, a quote, Chinese text, `**bold**` markers.
# After a Chinese or Japanese character too: `产生这个问题RuntimeError: ...`
_EXC_INLINE = Pattern(
    r"(?:^|[^\w.]|(?<=[\u3000-\u9fff\uff00-\uffef]))"
    r"(?P<type>(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Warning)):\s(?P<msg>.+)$"
)
# Notebook JSON exports: {"name": "RuntimeError", "message": "...", ...}
_JSON_FIELD = Pattern(r'^\s*"(?P<key>name|ename|message|evalue)":\s*"(?P<value>.*?)",?\s*$')
# A `raise X("message")` source line: the only trace of the message in a cut-off paste.
_RAISE = Pattern(
    r"\braise\s+(?P<type>(?:\w+\.)*\w+)\(\s*[fbr]?(?P<q>[\"'])(?P<msg>.+?)(?:(?P=q)|$)"
)
_JSON_KEYS = ('"name"', '"ename"', '"message"', '"evalue"')
_CLOSING_QUOTE = Pattern(r"[”“」』]")
_MARKER = Pattern(r"^-*>?\s*\d+\s+")
_QUOTES = "\"'`*“”‘’「」"
# `**RuntimeError: ...**` or `> RuntimeError` as pasted into a Markdown issue.
_EMPHASIS = Pattern(r"^\s*(?:>\s*)*(?:\*\*|__|`)|(?:\*\*|__|`)\s*$")
_NOISE = (
    "Traceback (most recent call last)",
    "During handling of the above exception",
    "The above exception was the direct cause",
)
# Timestamps and log levels in front of a line: `2024-05-01 12:00:00,123 ERROR `, `[rank0]: `
_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "CRITICAL", "FATAL")
_PREFIX = Pattern(
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


# Where installed code lives: a frame in one of these is torch's (or another library's),
# not the user's. Both separators, for tracebacks pasted from Windows.
_LIBRARY_MARKS = ("site-packages", "dist-packages", "/lib/python", "\\lib\\python", "<frozen ")


class Frame:
    """One frame of a traceback: where, which function, and the source lines shown."""

    __slots__ = ("file", "line", "function", "code")

    def __init__(self, file: str, line: int, function: str) -> None:
        self.file = file
        self.line = line  # 0 where the paste does not say (old IPython)
        self.function = function
        self.code: list[str] = []

    @property
    def library(self) -> bool:
        """Is this installed code (torch's internals, say) rather than the user's own?"""
        low = self.file.lower()
        return any(mark in low for mark in _LIBRARY_MARKS)

    def __repr__(self) -> str:
        return f"Frame({self.file!r}, {self.line}, {self.function!r})"


class Paste:
    """What was found in a paste."""

    __slots__ = ("raised", "frames", "code", "text")

    def __init__(self, text: str = "") -> None:
        self.raised: list[Raised] = []
        self.frames: list[Frame] = []
        self.code: list[str] = []  # source lines shown under frames, in order
        self.text = text  # the cleaned paste

    def operations(self) -> list[str]:
        """What the program was doing when it failed, innermost last: the user's last line
        of code and the library calls under it (their functions and source lines).

        In `loss = criterion(out, y)` -> `cross_entropy` -> `nll_loss`, these are the
        words that tell look-alike failures with one message apart.
        """
        last_user = max((i for i, f in enumerate(self.frames) if not f.library), default=0)
        found: list[str] = []
        for frame in self.frames[last_user:]:
            if not frame.function.startswith("<"):  # `<module>`, `<cell line: 1>`: no call
                found.append(frame.function)
            found.extend(frame.code)
        return [text for text in found if text]


def clean(text: str) -> str:
    """Strip ANSI codes, NULs, carriage returns, log prefixes and Markdown emphasis."""
    text = strip_ansi(text).replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(_clean_line(line) for line in text.split("\n"))


def _clean_line(line: str) -> str:
    if _might_be_emphasised(line):
        line = _EMPHASIS.sub("", line)
    if _might_have_prefix(line):
        line = _PREFIX.sub("", line)
    return line


_MARKS = ("**", "__", "`")


def _might_be_emphasised(line: str) -> bool:
    """Could _EMPHASIS match? (Its start: any mix of space and `>`, then a mark.)"""
    at = 0
    while at < len(line) and (line[at] == ">" or line[at].isspace()):
        at += 1
    return line.startswith(_MARKS, at) or line.rstrip().endswith(_MARKS)


def _might_have_prefix(line: str) -> bool:
    """Could _PREFIX match? Each of its alternatives starts in one of these ways."""
    first = line[:1]
    if first == "[" or first.isdecimal() or line.startswith(_LEVELS):
        return True
    if first == "E" and line[1:2].isspace():
        return True
    close = line.find("]")  # `module.py:123] ` (glog)
    if close > 0:
        head, colon, number = line[:close].partition(":")
        return bool(colon and head and number.isdecimal()) and all(
            c.isalnum() or c in "_." for c in head
        )
    return False


_EXC_SUFFIXES = ("Error", "Exception", "Warning", "Interrupt", "Exit", "Failure")
_EXC_NAMES = frozenset({"StopIteration", "Error", "Exception", "Warning"})
_ASCII_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAME_START = _ASCII_UPPER | frozenset("abcdefghijklmnopqrstuvwxyz_")


def _is_word(text: str) -> bool:
    # What `\w+` matches in a str pattern: letters, digits (any script) and `_`.
    return all(c.isalnum() or c == "_" for c in text)


def exception_line(line: str) -> tuple[str, str | None] | None:
    """`RuntimeError: msg` -> ("RuntimeError", "msg"); a bare `ValueError` -> (type, None).

    The type may be dotted (`torch.OutOfMemoryError`, `_pickle.UnpicklingError`); its
    last name must look like an exception class. None for any other line.
    """
    colon = line.find(":")
    head = line if colon < 0 else line[:colon]
    *modules, name = head.split(".")
    for module in modules:
        if not module or module[0] not in _NAME_START or not _is_word(module):
            return None
    if name not in _EXC_NAMES and not (
        name[:1] in _ASCII_UPPER
        and _is_word(name)
        and any(name.endswith(s) and len(name) > len(s) for s in _EXC_SUFFIXES)
    ):
        return None
    if colon < 0:
        return head, None
    message = line[colon + 1 :]
    return head, message[1:] if message[:1].isspace() else message


def frame_line(line: str) -> tuple[str, int, str | None] | None:
    """`  File "x.py", line 12, in forward` -> ("x.py", 12, "forward"); else None."""
    text = line.lstrip()
    if not text.startswith('File "'):
        return None
    quote = text.find('"', 6)
    if quote <= 6 or not text.startswith('", line ', quote):
        return None
    rest = text[quote + 8 :]
    digits = 0
    while digits < len(rest) and rest[digits].isdecimal():
        digits += 1
    if not digits:
        return None
    func = rest[digits + 5 :] if rest.startswith(", in ", digits) else ""
    return text[6:quote], int(rest[:digits]), func or None


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
        head = _NOTEBOOK_HEAD.match(stripped) if "Traceback (" in stripped else None
        if head:
            # The type is known; its message, if the paste has it, comes at the end.
            paste.raised.append(Raised(head.group("type").rsplit(".", 1)[-1], ""))
            in_frames, current = True, None
            continue
        frame = frame_line(line) or cell_frame_line(line)
        if frame is None and line.lstrip().startswith(("File ", "Cell ")):
            ipy = _IPY_FRAME.match(line)
            if ipy:
                frame = (ipy.group("file"), int(ipy.group("line")), ipy.group("func"))
        if frame:
            paste.frames.append(Frame(frame[0], frame[1], (frame[2] or "").strip()))
            in_frames, current = True, None
            continue
        old_frame = _OLD_IPY_FRAME.match(line) if _might_be_old_frame(line) else None
        if old_frame:
            paste.frames.append(Frame(old_frame.group("file"), 0, old_frame.group("func")))
            in_frames, current = True, None
            continue
        warn = _WARN.match(stripped) if "Warning: " in stripped else None
        if warn:
            current = Raised(warn.group("type"), warn.group("msg").strip(), warning=True)
            paste.raised.append(current)
            continue
        exc = exception_line(stripped)
        if exc:
            name = exc[0].rsplit(".", 1)[-1]
            current = Raised(name, (exc[1] or "").strip(), warning=name.endswith("Warning"))
            paste.raised.append(current)
            in_frames = False
            continue
        if current is not None and not in_frames:
            current.detail = f"{current.detail}\n{stripped}" if current.detail else stripped
            continue
        if in_frames:
            code = _strip_marker(stripped)
            paste.code.append(code)
            if paste.frames:
                paste.frames[-1].code.append(code)
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
        field = _JSON_FIELD.match(line) if line.lstrip().startswith(_JSON_KEYS) else None
        if field:
            if field.group("key") in ("name", "ename"):
                json_name = field.group("value")
            elif json_name:
                found.append(Raised(json_name, field.group("value").strip()))
            continue
        inline = _EXC_INLINE.search(line) if _might_be_inline(line) else None
        if inline:
            name = inline.group("type").rsplit(".", 1)[-1]
            # A closing quote ends the message: 出现“RuntimeError: ...”怎么办
            message = _CLOSING_QUOTE.split(inline.group("msg"))[0].strip().strip(_QUOTES).strip()
            found.append(Raised(name, message, warning=name.endswith("Warning")))
    if not found:
        # Only the last source line shown is where it stopped; a `raise` above it is not.
        raised = _RAISE.search(paste.code[-1]) if paste.code and "raise" in paste.code[-1] else None
        if raised:
            name = raised.group("type").rsplit(".", 1)[-1]
            found.append(Raised(name, raised.group("msg").strip()))
    if found:
        paste.raised = found


def cell_frame_line(line: str) -> tuple[str, int, str | None] | None:
    """A notebook cell's frame, as IPython 8 prints it: `Cell In[3], line 5` (or
    `Cell In[3], line 5, in f(x)`), and before 8.4 `Input In [29], in <cell line: 1>()`."""
    text = line.strip()
    if not text.startswith(("Cell In", "Input In")):
        return None
    cell, _, rest = text.partition(", ")
    if not cell.rstrip().endswith("]"):
        return None
    number = 0
    if rest.startswith("line "):
        digits, _, rest = rest[5:].partition(", ")
        if not digits.isdecimal():
            return None
        number = int(digits)
    func = rest[3:] if rest.startswith("in ") else None
    return cell, number, func


def _strip_marker(line: str) -> str:
    # Jupyter marks the failing line `---> 363 torch.autograd.backward(...)`
    first = line[:1]
    if first in ("-", ">") or first.isdecimal() or first.isspace():
        return _MARKER.sub("", line)
    return line


def _might_be_old_frame(line: str) -> bool:
    """Could _OLD_IPY_FRAME match? It needs `<ipython-input-...>` or `name.py`, then ` in `."""
    text = line.lstrip()
    return " in " in text and (
        text.startswith("<ipython-input-") or text.split(" ", 1)[0].endswith(".py")
    )


def _might_be_inline(line: str) -> bool:
    return "Error:" in line or "Exception:" in line or "Warning:" in line
