"""Coverage of real failures, and how honest kb's match levels are, on the coverage sample.

tests/coverage_sample.yaml holds real PyTorch failure reports from public issue trackers
and forums (each with its `source` address), as posted: an error paste (`kind: error`) or
a description of a silent failure (`kind: symptom`), its `area`, and its label: `expect`,
the entries that explain it, or `missing`, the failure mode no entry explains yet.

Prints:
- the share of reports with an entry, overall, by kind and by area;
- the missing failure modes, most frequent first (what to write next);
- honest-match figures: on uncovered reports, the share where kb claims an `exact` or
  `partial` match for any hit it shows (target <= 5%); on covered error reports, the
  share where the right entry is among the hits as `exact` (target >= 90%); top-1 and
  top-3 on covered reports.

The held-out samples tests/holdout_sample.yaml and tests/holdout_sample_2.yaml to
tests/holdout_sample_7.yaml have the same schema: reports collected after the ranking and the
catalogue were grown against the coverage sample and the search evals, labelled before kb ran
on them (the third to seventh also name each case's failure `mode`, as its thread established
it). Measure them with --sample PATH.

Usage: python scripts/coverage.py [--sample PATH] [--misses] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "coverage_sample.yaml"
HOLDOUT = SAMPLE.with_name("holdout_sample.yaml")
SHOWN = 5  # what `kb search` prints by default: a claim anywhere in it is a claim
KINDS = ("error", "symptom")
AREAS = (
    "autograd",
    "modules",
    "shapes",
    "losses",
    "training",
    "data",
    "checkpoints",
    "cuda",
    "build",
    "os",
    "distributed",
    "compile",
    "numerics",
)


def load_sample(path: Path = SAMPLE) -> list[dict]:
    cases = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    for case in cases:
        expect = case.get("expect") or []
        case["expect"] = [expect] if isinstance(expect, str) else list(expect)
    return cases


def _share(part: int, whole: int) -> str:
    return f"{part / whole:6.1%} ({part}/{whole})" if whole else "     - (0/0)"


def measure(cases: list[dict]) -> dict:
    """Run every case through search and gather the figures."""
    from kb.search import search

    by_area: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missing: Counter[str] = Counter()
    claimed, uncovered = [], 0
    exact_right = covered_errors = 0
    top1 = top3 = covered = 0
    wrong_first: list[tuple[dict, list]] = []
    not_exact: list[tuple[dict, list]] = []
    for case in cases:
        has_entry = bool(case["expect"])
        for table, key in ((by_area, case["area"]), (by_kind, case["kind"])):
            table[key][0] += has_entry
            table[key][1] += 1
        hits, _ = search(case["paste"], limit=SHOWN)
        if not has_entry:
            missing[case["missing"]] += 1
            uncovered += 1
            sure = [h for h in hits if h.match in ("exact", "partial")]
            if sure:
                claimed.append((case, [(h.id, h.match) for h in sure]))
            continue
        covered += 1
        ids = [h.id for h in hits]
        if ids[:1] and ids[0] in case["expect"]:
            top1 += 1
        else:
            wrong_first.append((case, [(h.id, h.match) for h in hits[:3]]))
        top3 += any(i in case["expect"] for i in ids[:3])
        if case["kind"] == "error":
            covered_errors += 1
            right = [h for h in hits if h.id in case["expect"]]
            if right and right[0].match == "exact":
                exact_right += 1
            else:
                not_exact.append((case, [(h.id, h.match) for h in hits[:3]]))
    return {
        "cases": len(cases),
        "covered": covered,
        "by_area": dict(by_area),
        "by_kind": dict(by_kind),
        "missing": missing.most_common(),
        "uncovered": uncovered,
        "claimed": claimed,
        "covered_errors": covered_errors,
        "exact_right": exact_right,
        "top1": top1,
        "top3": top3,
        "wrong_first": wrong_first,
        "not_exact": not_exact,
    }


def report(result: dict, misses: bool, name: str = "coverage sample") -> None:
    print(f"{name}: {result['cases']} real reports")
    print(f"with an entry:   {_share(result['covered'], result['cases'])}")
    for kind in KINDS:
        have, total = result["by_kind"].get(kind, [0, 0])
        print(f"  {kind:<12} {_share(have, total)}")
    print("by area:")
    for area in sorted(result["by_area"], key=lambda a: -result["by_area"][a][1]):
        have, total = result["by_area"][area]
        print(f"  {area:<12} {_share(have, total)}")
    print("missing failure modes, most frequent first:")
    for name, count in result["missing"]:
        print(f"  {count:3d}  {name}")
    print("honest matches:")
    print(
        "  uncovered reports where kb claims exact/partial (target <= 5%): "
        + _share(len(result["claimed"]), result["uncovered"])
    )
    print(
        "  covered error reports whose entry matches exact (target >= 90%): "
        + _share(result["exact_right"], result["covered_errors"])
    )
    print(f"  top-1 on covered reports: {_share(result['top1'], result['covered'])}")
    print(f"  top-3 on covered reports: {_share(result['top3'], result['covered'])}")
    if not misses:
        return
    for title, rows in (
        ("CLAIMED (uncovered, but kb says exact/partial)", result["claimed"]),
        ("NOT FIRST (covered, right entry not top-1)", result["wrong_first"]),
        ("NOT EXACT (covered error, right entry not exact)", result["not_exact"]),
    ):
        print(f"\n{title}:")
        for case, hits in rows:
            label = case.get("missing") or ",".join(case["expect"])
            print(f"  {label} <- {case['source']}")
            print(f"     got {hits}")
            print(f"     {case['paste'].strip().splitlines()[-1][:100]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list every case that fell short")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--sample",
        type=Path,
        default=SAMPLE,
        metavar="PATH",
        help="the labelled sample to measure (default: tests/coverage_sample.yaml; "
        "the held-out one is tests/holdout_sample.yaml)",
    )
    args = parser.parse_args()
    result = measure(load_sample(args.sample))
    if args.json:
        keep = ("cases", "covered", "by_area", "by_kind", "missing", "uncovered")
        out = {key: result[key] for key in keep}
        out.update(
            claimed=len(result["claimed"]),
            covered_errors=result["covered_errors"],
            exact_right=result["exact_right"],
            top1=result["top1"],
            top3=result["top3"],
        )
        print(json.dumps(out, indent=2))
    else:
        name = "coverage sample" if args.sample.resolve() == SAMPLE else args.sample.stem
        report(result, args.misses, name.replace("_", " "))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        sys.stderr.close()
        sys.exit(0)
