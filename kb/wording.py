"""Which of an entry's message templates apply on which torch release.

`errors` holds the wording of the newest releases; `older_errors` the wordings torch used
before. An older wording may carry the releases it was measured on, as a mapping
`{text: "...", torch: "<2.2"}`; a plain string applies on every release (the format before
ranges existed). Where those releases raised another class with it (`RuntimeError` before
torch made it a `ValueError`), the mapping names it: `exception: RuntimeError`. The
harness accepts, on the running release, only the templates that apply there, so a
wording that torch stopped printing cannot prove an entry on a release that prints
something else. No torch import here: lint and the index use it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kb.model import Entry

OLDER_KEYS = ("text", "torch", "exception")


def older_item(item: object) -> tuple[str, str] | None:
    """(text, torch range or "") of one `older_errors` item; None when malformed."""
    if isinstance(item, str):
        return (item, "") if item.strip() else None
    if isinstance(item, dict) and set(item) <= set(OLDER_KEYS):
        text, spec = item.get("text"), item.get("torch", "")
        exception = item.get("exception", "")
        if (
            isinstance(text, str)
            and text.strip()
            and isinstance(spec, str)
            and isinstance(exception, str)
        ):
            return text, spec.strip()
    return None


def older_exceptions(value: object) -> list[str]:
    """The exception class each well-formed older wording was raised as ("": the entry's),
    in the order of older_items."""
    if not isinstance(value, list):
        return []
    return [
        item.get("exception", "").strip() if isinstance(item, dict) else ""
        for item in value
        if older_item(item) is not None
    ]


def older_items(value: object) -> list[tuple[str, str]]:
    """Every well-formed (text, range) of an `older_errors` value, in order."""
    if not isinstance(value, list):
        return []
    return [pair for pair in map(older_item, value) if pair is not None]


def applies(spec: str, version: str) -> bool:
    """Does a template's range (empty: every release) contain this torch version?"""
    if not spec:
        return True
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    return SpecifierSet(spec).contains(Version(version.split("+")[0]), prereleases=True)


def older_in_range(entry: Entry, version: str) -> list[tuple[str, str | None]]:
    """(text, class raised with it) of the entry's older wordings whose range holds torch
    `version`; the class is the entry's exception unless the wording names another."""
    n = len(entry.older_errors)
    ranges = entry.older_ranges + ("",) * (n - len(entry.older_ranges))
    classes = entry.older_exceptions + ("",) * (n - len(entry.older_exceptions))
    return [
        (text, cls or entry.exception)
        for text, spec, cls in zip(entry.older_errors, ranges, classes, strict=False)
        if applies(spec, version)
    ]
