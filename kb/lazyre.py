"""Regular expressions that cost nothing until they are used.

Importing `re` (with the `enum` and `functools` it pulls in) takes half as long as
starting Python itself, so on the `kb search` path a pattern is compiled, and `re`
imported, only when a cheap string test says it could match. Most pastes never get
that far.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import re


class Pattern:
    """`re.compile(source)` on first use; flags go inline (`(?s)`) so `re` is not needed
    to spell them."""

    __slots__ = ("source", "_compiled")

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            import re

            self._compiled = re.compile(self.source)
        return self._compiled

    def match(self, text: str) -> re.Match[str] | None:
        return self.compiled().match(text)

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled().search(text)

    def fullmatch(self, text: str) -> re.Match[str] | None:
        return self.compiled().fullmatch(text)

    def findall(self, text: str) -> list:
        return self.compiled().findall(text)

    def sub(self, repl: str, text: str) -> str:
        return self.compiled().sub(repl, text)

    def split(self, text: str) -> list[str]:
        return self.compiled().split(text)
