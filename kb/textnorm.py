"""Text to search terms: words for FTS5, and overlapping bigrams for Chinese.

FTS5's unicode61 tokenizer splits on spaces and punctuation, and Chinese has neither
between words, so a whole Chinese sentence would be one token that no query matches.
Indexing (and querying) every pair of adjacent CJK characters makes any Chinese phrase
of two characters or more findable. Stdlib only: this module sits on the search path.
"""

from __future__ import annotations

import re

_CJK = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
_cjk_run: re.Pattern[str] | None = None  # compiled on first non-ASCII text (a cold-start cost)


def _cjk() -> re.Pattern[str]:
    global _cjk_run
    if _cjk_run is None:
        _cjk_run = re.compile(_CJK)
    return _cjk_run


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEXISH = re.compile(r"(?=[a-f]*\d)[0-9a-f]{8,}|0x[0-9a-fA-F]+")

# Words so common in messages and descriptions that they only add noise to a ranking.
STOPWORDS = frozenset(
    """a an and are as at be by for from has have if in is it its of on or that the this to
    was were with you your not no but do does can cannot after when every still my me how why
    what i""".split()
)


def cjk_grams(text: str, singles: bool = True) -> str:
    """Space-separated bigrams of every CJK run; a lone character stays as itself unless
    `singles` is off (in a query, a lone 和 or 的 matches everything)."""
    grams: list[str] = []
    if text.isascii():
        return ""
    for run in _cjk().findall(text):
        if len(run) == 1:
            if singles:
                grams.append(run)
        else:
            grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return " ".join(grams)


def has_cjk(text: str) -> bool:
    return not text.isascii() and _cjk().search(text) is not None


_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def words(text: str, limit: int = 64) -> list[str]:
    """Distinct lowercase words worth searching for, in order of first appearance.

    Compound identifiers also yield their parts (`TrainLoss` -> `train`, `loss`;
    `retain_graph` -> `retain`, `graph`), since prose spells them apart.
    """
    seen: dict[str, None] = {}
    for word in _WORD.findall(text):
        if _HEXISH.fullmatch(word):
            continue  # addresses and hashes (`ipython-input-42-e9ad59170ca6`) are noise
        parts = [word]
        if "_" in word.strip("_") or _CAMEL.fullmatch(word) is None:
            parts += [p for chunk in word.split("_") for p in _CAMEL.findall(chunk)]
        for part in parts:
            low = part.lower()
            if len(low) < 2 or low in STOPWORDS or low in seen:
                continue
            seen[low] = None
        if len(seen) >= limit:
            break
    return list(seen)[:limit]
