"""Search quality on real public reports: top-1 must stay at or above 0.9.

The cases live in tests/search_eval.yaml (each with its source address), and the
silent failures described in whole sentences in tests/search_eval_prose.yaml;
`python scripts/eval_search.py` prints the figures and every miss.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from eval_search import PROSE, evaluate, load_cases  # noqa: E402


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


def test_prose_descriptions_are_labelled_real_reports_and_rank():
    ids = {p.stem for p in (ROOT / "entries").glob("*.md")}
    cases = load_cases(PROSE)
    assert len(cases) >= 15
    for case in cases:
        assert case["source"].startswith("https://") and case.get("kind") == "symptom"
        assert len(case["paste"].strip()) >= 40, case["source"]  # sentences, not keywords
        assert set(case["expect"]) <= ids, case["expect"]
    # Below messages (0.9) for now: whole sentences share most words with every entry.
    # Raised from 0.7 once a paragraph's grammar words stopped ranking entries (0.83).
    assert evaluate(cases)["top1"] >= 0.75
