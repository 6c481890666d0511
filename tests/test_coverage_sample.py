"""The coverage sample is data other tools rely on (scripts/coverage.py, the catalogue's
to-do list): every case is a labelled real report, and every label names a real entry.
The held-out samples (tests/holdout_sample.yaml, tests/holdout_sample_2.yaml,
tests/holdout_sample_3.yaml, tests/holdout_sample_4.yaml, tests/holdout_sample_5.yaml,
tests/holdout_sample_6.yaml, tests/holdout_sample_7.yaml) follow
the same schema and are checked the same way, plus: none of their reports may come from the
coverage sample or the search evals (nor may an eval case come from them), each later one
shares no report with the earlier ones, and the third to sixth take none from the
entries' own links.
Only their schema is tested here, never their ranking figures: they stay measurements."""

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
# The second held-out sample, collected after the first had been partly used up (README,
# "Measuring search"); measured with `scripts/coverage.py --sample`.
HOLDOUT_2 = HOLDOUT.with_name("holdout_sample_2.yaml")
# The third, collected after the second had been measured; its cases also carry `mode:`, the
# failure mode as the thread established it, so that later relabels can be audited.
HOLDOUT_3 = HOLDOUT.with_name("holdout_sample_3.yaml")
# The fourth, collected the same way after the third had been measured, to measure the
# catalogue and search as they stand at the end of that session.
HOLDOUT_4 = HOLDOUT.with_name("holdout_sample_4.yaml")
# The fifth, collected the same way after the fourth had been measured, with different queries.
HOLDOUT_5 = HOLDOUT.with_name("holdout_sample_5.yaml")
# The sixth: queries that describe what users see, never an error message.
HOLDOUT_6 = HOLDOUT.with_name("holdout_sample_6.yaml")
# The seventh: description queries that also never name a suspected cause.
HOLDOUT_7 = HOLDOUT.with_name("holdout_sample_7.yaml")
TUNED_ON = [SAMPLE, ROOT / "tests" / "search_eval.yaml", ROOT / "tests" / "search_eval_prose.yaml"]
MIN_CASES = {
    SAMPLE: 150,
    HOLDOUT: 80,
    HOLDOUT_2: 80,
    HOLDOUT_3: 120,
    HOLDOUT_4: 120,
    HOLDOUT_5: 130,
    HOLDOUT_6: 130,
    HOLDOUT_7: 150,
}


def _urls(paths: list[Path]) -> set[str]:
    return {
        url.split("#")[0].rstrip("/.,)'\"")
        for path in paths
        for url in re.findall(r"https?://\S+", path.read_text(encoding="utf-8"))
    }


@pytest.fixture(
    scope="module",
    params=[SAMPLE, HOLDOUT, HOLDOUT_2, HOLDOUT_3, HOLDOUT_4, HOLDOUT_5, HOLDOUT_6, HOLDOUT_7],
    ids=lambda path: path.stem,
)
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
        if "mode" in case:
            assert isinstance(case["mode"], str) and case["mode"].strip(), where
        key = (where, case["paste"].strip())
        assert key not in seen, f"duplicate case {where}"
        seen.add(key)


def test_every_expected_entry_exists(cases):
    for case in cases:
        expect = case.get("expect") or []
        for entry_id in [expect] if isinstance(expect, str) else expect:
            assert (ENTRIES / f"{entry_id}.md").is_file(), f"{case['source']}: no entry {entry_id}"


@pytest.mark.parametrize(
    ("holdout", "also_tuned_on"),
    # The first held-out sample was partly used up (readers and entries were written after
    # reading its misses), so the second must not reuse its reports either; the third reuses
    # neither, nor any report an entry links to (the entries were written from those); the
    # fourth reuses none of the three earlier samples' reports nor any entry link, the fifth
    # none of the four earlier samples' reports nor any entry link.
    [
        (HOLDOUT, []),
        (HOLDOUT_2, [HOLDOUT]),
        (HOLDOUT_3, [HOLDOUT, HOLDOUT_2, *sorted(ENTRIES.glob("*.md"))]),
        (HOLDOUT_4, [HOLDOUT, HOLDOUT_2, HOLDOUT_3, *sorted(ENTRIES.glob("*.md"))]),
        (HOLDOUT_5, [HOLDOUT, HOLDOUT_2, HOLDOUT_3, HOLDOUT_4, *sorted(ENTRIES.glob("*.md"))]),
        (
            HOLDOUT_6,
            [HOLDOUT, HOLDOUT_2, HOLDOUT_3, HOLDOUT_4, HOLDOUT_5, *sorted(ENTRIES.glob("*.md"))],
        ),
        (
            HOLDOUT_7,
            [
                *(HOLDOUT, HOLDOUT_2, HOLDOUT_3, HOLDOUT_4, HOLDOUT_5, HOLDOUT_6),
                *sorted(ENTRIES.glob("*.md")),
            ],
        ),
    ],
    ids=lambda value: value.stem if isinstance(value, Path) else None,
)
def test_holdout_sources_are_unique_and_never_tuned_on(holdout, also_tuned_on):
    sources = [case["source"] for case in yaml.safe_load(holdout.read_text(encoding="utf-8"))]
    assert len(sources) == len(set(sources)), f"a report appears twice in {holdout.name}"
    tuned = _urls(TUNED_ON + also_tuned_on)
    # A held-out report must not be one the ranking or the catalogue was grown against.
    leaked = [source for source in sources if source.rstrip("/") in tuned]
    assert not leaked, f"{holdout.name} reports also in the tuned-on files: {leaked}"


@pytest.mark.parametrize(
    "holdout", [HOLDOUT_3, HOLDOUT_4, HOLDOUT_5, HOLDOUT_6, HOLDOUT_7], ids=lambda path: path.stem
)
def test_later_holdouts_name_each_failure_mode(holdout):
    # The failure mode as the thread established it, written before kb ran: what a later
    # relabel (missing -> expect) is checked against.
    for case in yaml.safe_load(holdout.read_text(encoding="utf-8")):
        assert (case.get("mode") or "").strip(), case["source"]
