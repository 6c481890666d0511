"""The coverage sample is data other tools rely on (scripts/coverage.py, the catalogue's
to-do list): every case is a labelled real report, and every label names a real entry."""

import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = ROOT / "entries"
# Loaded by path: `import coverage` would find coverage.py, the test-coverage package.
_spec = importlib.util.spec_from_file_location("kb_coverage", ROOT / "scripts" / "coverage.py")
script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(script)
AREAS, KINDS, SAMPLE = script.AREAS, script.KINDS, script.SAMPLE


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    return yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))


def test_every_case_is_a_labelled_real_report(cases):
    assert len(cases) >= 150
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
