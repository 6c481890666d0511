"""The coverage sample is data other tools rely on (scripts/coverage.py, the catalogue's
to-do list): every case is a labelled real report, and every label names a real entry.
The held-out sample (tests/holdout_sample.yaml) follows the same schema and is checked the
same way, plus: none of its reports may come from the coverage sample or the search evals.
Only its schema is tested here, never its ranking figures: it stays a measurement."""

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = ROOT / "entries"
# Loaded by path: `import coverage` would find coverage.py, the test-coverage package.
_spec = importlib.util.spec_from_file_location("kb_coverage", ROOT / "scripts" / "coverage.py")
script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(script)
AREAS, KINDS, SAMPLE, HOLDOUT = script.AREAS, script.KINDS, script.SAMPLE, script.HOLDOUT
TUNED_ON = [SAMPLE, ROOT / "tests" / "search_eval.yaml", ROOT / "tests" / "search_eval_prose.yaml"]
MIN_CASES = {SAMPLE: 150, HOLDOUT: 80}


@pytest.fixture(scope="module", params=[SAMPLE, HOLDOUT], ids=lambda path: path.stem)
def cases(request) -> list[dict]:
    cases = yaml.safe_load(request.param.read_text(encoding="utf-8"))
    assert len(cases) >= MIN_CASES[request.param]
    return cases


def test_every_case_is_a_labelled_real_report(cases):
    seen = set()
    for case in cases:
        where = case.get("source", "?")
        assert where.startswith("https://"), where
        assert case.get("kind") in KINDS, where
        assert case.get("area") in AREAS, where
        assert (case.get("paste") or "").strip(), where
        # Either the entries that explain it, or the failure mode no entry covers yet.
        assert bool(case.get("expect")) != bool(case.get("missing")), where
        key = (where, case["paste"].strip())
        assert key not in seen, f"duplicate case {where}"
        seen.add(key)


def test_every_expected_entry_exists(cases):
    for case in cases:
        expect = case.get("expect") or []
        for entry_id in [expect] if isinstance(expect, str) else expect:
            assert (ENTRIES / f"{entry_id}.md").is_file(), f"{case['source']}: no entry {entry_id}"


def test_holdout_sources_are_unique_and_never_tuned_on():
    holdout = yaml.safe_load(HOLDOUT.read_text(encoding="utf-8"))
    sources = [case["source"] for case in holdout]
    assert len(sources) == len(set(sources)), "a report appears twice in the held-out sample"
    tuned = {
        url.split("#")[0].rstrip("/.,)'\"")
        for path in TUNED_ON
        for url in re.findall(r"https?://\S+", path.read_text(encoding="utf-8"))
    }
    # A held-out report must not be one the ranking or the catalogue was grown against.
    leaked = [source for source in sources if source.rstrip("/") in tuned]
    assert not leaked, f"held-out reports also in the tuned-on files: {leaked}"
