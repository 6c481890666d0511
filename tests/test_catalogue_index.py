"""entries/README.md is generated from the entries and kept in sync; stats add up."""

from pathlib import Path

from kb.catalogue import AREA_KEYS, render_index, stats
from kb.search import list_entries

ROOT = Path(__file__).resolve().parent.parent


def test_entries_readme_is_in_sync():
    rows, problems = list_entries()
    assert problems == []
    current = (ROOT / "entries" / "README.md").read_text(encoding="utf-8")
    assert current == render_index(rows), "run `kb catalogue --write` and commit the result"


def test_every_entry_has_an_area_and_the_index_lists_it_once():
    rows, _ = list_entries()
    assert all(row["area"] in AREA_KEYS for row in rows)
    text = render_index(rows)
    for row in rows:
        assert text.count(f"[{row['id']}]({row['id']}.md)") == 1


def test_stats_add_up():
    rows, _ = list_entries()
    figures = stats(rows)
    assert figures["entries"] == len(rows) == sum(figures["by_kind"].values())
    assert sum(figures["by_area"].values()) == len(rows)
    assert figures["with_zh"] == len(rows)
