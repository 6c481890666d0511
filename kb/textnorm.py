"""Text to search terms: words for FTS5, and overlapping bigrams for Chinese.

FTS5's unicode61 tokenizer splits on spaces and punctuation, and Chinese has neither
between words, so a whole Chinese sentence would be one token that no query matches.
Indexing (and querying) every pair of adjacent CJK characters makes any Chinese phrase
of two characters or more findable.

Stdlib only, and words are split with byte tables and string methods rather than `re`:
this module sits on the cold-start path of `kb search` (tests/test_hand_readers.py holds
each splitter to the regular expression it stands for).
"""

from __future__ import annotations

import sys

from kb.lazyre import Pattern

_CJK = Pattern(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# Below this length a loop over the characters beats importing `re`; above it, or once
# something else has imported `re` anyway (an index build), the pattern is quicker.
_CJK_LOOP_UP_TO = 4096


def _loop_is_quicker(text: str) -> bool:
    return len(text) <= _CJK_LOOP_UP_TO and "re" not in sys.modules


def _is_cjk(char: str) -> bool:
    return (
        "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf" or "\uf900" <= char <= "\ufaff"
    )


def cjk_runs(text: str) -> list[str]:
    """Runs of CJK ideographs (what the pattern `_CJK` finds)."""
    if text.isascii():
        return []
    if not _loop_is_quicker(text):
        return _CJK.findall(text)
    runs: list[str] = []
    start = -1
    for at, char in enumerate(text):
        if _is_cjk(char):
            if start < 0:
                start = at
        elif start >= 0:
            runs.append(text[start:at])
            start = -1
    if start >= 0:
        runs.append(text[start:])
    return runs


def fold(text: str) -> str:
    """Lowercase, with every run of whitespace one space: how messages are compared."""
    return " ".join(text.split()).lower()


def _byte_table(keep: bytes) -> bytes:
    return bytes(c if c in keep else 32 for c in range(256))


_LOWER = b"abcdefghijklmnopqrstuvwxyz"
_DIGITS = b"0123456789"
# Everything but ASCII letters, digits and `_` becomes a space; then `split()` does the
# tokenising in C, where a regex `findall` would cost an `import re` on a cold start.
_IDENTIFIER_BYTES = _byte_table(_LOWER + _LOWER.upper() + _DIGITS + b"_")
_TOKEN_BYTES = _byte_table(_LOWER + _DIGITS + b"_")
_NUMBER_BYTES = _byte_table(_LOWER + _LOWER.upper() + _DIGITS + b"_.")
_HEX = frozenset("0123456789abcdef")
_HEX_ANY_CASE = frozenset("0123456789abcdefABCDEF")


def _ascii_runs(text: str, table: bytes) -> list[bytes]:
    # Non-ASCII characters become `?`, which every table maps to a space.
    return text.encode("ascii", "replace").translate(table).split()


def identifiers(text: str) -> list[str]:
    """Runs of ASCII letters, digits and `_` that start with a letter or `_` (what the
    regex `[A-Za-z_][A-Za-z0-9_]*` finds)."""
    out = []
    for run in _ascii_runs(text, _IDENTIFIER_BYTES):
        run = run.lstrip(_DIGITS)
        if run:
            out.append(run.decode("ascii"))
    return out


def tokens(text: str) -> list[str]:
    """Runs of lowercase ASCII letters, digits and `_` (`[a-z0-9_]+`)."""
    return [run.decode("ascii") for run in _ascii_runs(text, _TOKEN_BYTES)]


def numbers(text: str, at_least: int = 3) -> list[str]:
    """Numbers of `at_least` digits that stand alone: not part of a word, a decimal or a
    version (`-100` and `65504` yes; `1.5`, `x123`, `cuda:0` no)."""
    if not text.isascii():
        if _loop_is_quicker(text) and not any(char.isdecimal() for char in text):
            return []
        return _standalone_number(at_least).findall(text)
    found = []
    for run in _ascii_runs(text, _NUMBER_BYTES):
        if len(run) >= at_least and run.isdigit():
            found.append(run.decode("ascii"))
    return found


def _standalone_number(at_least: int) -> Pattern:
    # Beyond ASCII, `\w` covers every script's letters, which the byte tables cannot.
    return Pattern(rf"(?<![\w.])\d{{{at_least},}}(?![\w.])")


def _hexish(word: str) -> bool:
    """An address or hash (`e9ad59170ca6`, `0x7f3a`): noise, not a word."""
    if len(word) >= 8 and _HEX.issuperset(word) and not word.isalpha():
        return True
    return word[:2] == "0x" and len(word) > 2 and _HEX_ANY_CASE.issuperset(word[2:])


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
    for run in cjk_runs(text):
        if len(run) == 1:
            if singles:
                grams.append(run)
        else:
            grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return " ".join(grams)


def has_cjk(text: str) -> bool:
    if text.isascii():
        return False
    if not _loop_is_quicker(text):
        return _CJK.search(text) is not None
    return any(_is_cjk(char) for char in text)


def _camel_parts(word: str) -> list[str]:
    """`HTMLParserError` -> HTML, Parser, Error; `conv2d` -> conv, 2, d (the regex
    `[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\\d+`, for ASCII words)."""
    parts = []
    at, end = 0, len(word)
    while at < end:
        char = word[at]
        if char.islower() or (char.isupper() and at + 1 < end and word[at + 1].islower()):
            stop = at + 1
            while stop < end and word[stop].islower():
                stop += 1
        elif char.isupper():
            stop = at + 1
            while stop < end and word[stop].isupper():
                stop += 1
            if stop < end and word[stop].islower():
                stop -= 1  # that capital starts the next word
        elif char.isdigit():
            stop = at + 1
            while stop < end and word[stop].isdigit():
                stop += 1
        else:
            at += 1
            continue
        parts.append(word[at:stop])
        at = stop
    return parts


def words(text: str, limit: int = 64) -> list[str]:
    """Distinct lowercase words worth searching for, in order of first appearance.

    Compound identifiers also yield their parts (`TrainLoss` -> `train`, `loss`;
    `retain_graph` -> `retain`, `graph`), since prose spells them apart.
    """
    seen: dict[str, None] = {}
    done: set[str] = set()
    for word in identifiers(text):
        # A word met before adds nothing: a paste of one phrase repeated a million
        # times costs a set lookup per word, not a split of each.
        if word in done:
            continue
        done.add(word)
        if _hexish(word):
            continue  # addresses and hashes (`ipython-input-42-e9ad59170ca6`) are noise
        parts = [word]
        if "_" in word.strip("_") or _camel_parts(word) != [word]:
            parts += [p for chunk in word.split("_") for p in _camel_parts(chunk)]
        for part in parts:
            low = part.lower()
            if len(low) < 2 or low in STOPWORDS or low in seen:
                continue
            seen[low] = None
        if len(seen) >= limit:
            break
    return list(seen)[:limit]


# What a search reads of a paste: its last 2,000 lines and half megabyte (a traceback's
# exception lines are at the bottom), each line's first 64 KB (torch's longest messages,
# a state_dict's missing keys, stay whole). Reading more would find nothing new and cost
# seconds: every line and word of a paste passes through Python-level loops.
MAX_PASTE_LINES = 2000
MAX_PASTE_CHARS = 512 * 1024
MAX_LINE_CHARS = 64 * 1024


def bounded(text: str) -> str:
    """`text` cut to what a search reads of it (see MAX_PASTE_LINES)."""
    if len(text) <= MAX_LINE_CHARS and text.count("\n") < MAX_PASTE_LINES:
        return text
    text = text[-MAX_PASTE_CHARS:]
    lines = text.split("\n")[-MAX_PASTE_LINES:]
    return "\n".join(line[:MAX_LINE_CHARS] for line in lines)
