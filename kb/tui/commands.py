"""The command palette's entries: jump to any entry by id or title (ctrl+p)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content


def _literal(matcher, candidate: str) -> Content:
    """The candidate with the matched letters marked, never read as markup.

    (Matcher.highlight parses the candidate as markup, and titles quote messages such as
    `[torch.FloatTensor [1, 3]]`.)
    """
    content = Content(candidate)
    score, offsets = matcher.fuzzy_search.match(matcher.query, candidate)
    if score:
        for offset in offsets:
            if not candidate[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class EntryCommands(Provider):
    """Every catalogue entry, as `id  title`."""

    def _rows(self) -> list[dict]:
        return getattr(self.app, "catalogue", [])

    def _open(self, entry_id: str) -> None:
        self.app.open_entry(entry_id)

    async def discover(self) -> Hits:
        for row in self._rows()[:30]:
            yield DiscoveryHit(
                Content(f"open {row['id']}"),
                partial(self._open, row["id"]),
                text=f"open {row['id']}",
                help=None,
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for row in self._rows():
            candidate = f"{row['id']}  {row['title']}"
            score = matcher.match(candidate)
            if score > 0:
                yield Hit(
                    score,
                    _literal(matcher, candidate),
                    partial(self._open, row["id"]),
                    text=candidate,
                )
