"""Search quality on real public reports: top-1 must stay at or above 0.9.

The cases live in tests/search_eval.yaml (each with its source address);
`python scripts/eval_search.py` prints the figures and every miss.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from eval_search import evaluate, load_cases  # noqa: E402


def test_cases_are_labelled_with_existing_entries_and_sources():
    ids = {p.stem for p in (ROOT / "entries").glob("*.md")}
    cases = load_cases()
    assert len(cases) >= 60
    for case in cases:
        assert case["source"] and case["paste"].strip()
        assert set(case["expect"]) <= ids, case["expect"]


def test_top1_accuracy_holds():
    result = evaluate(load_cases())
    misses = [f"{c['expect']} <- {c['source']} (got {ids})" for c, ids in result["misses"]]
    assert result["top1"] >= 0.9, "\n".join(misses)
