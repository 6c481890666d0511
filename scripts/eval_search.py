"""Search quality on the public evaluation set (tests/search_eval.yaml).

Prints top-1 and top-3 accuracy and every miss with what ranked instead. Each case is a
real public report (its address kept in `source`) labelled with the entry that explains
it; cases are never edited to fit the ranking.

Usage: python scripts/eval_search.py [--verbose]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

CASES = Path(__file__).resolve().parent.parent / "tests" / "search_eval.yaml"
# Silent failures described in whole sentences, measured on their own.
PROSE = CASES.with_name("search_eval_prose.yaml")


def load_cases(path: Path = CASES) -> list[dict]:
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))
    for case in cases:
        expect = case["expect"]
        case["expect"] = [expect] if isinstance(expect, str) else list(expect)
    return cases


def evaluate(cases: list[dict]) -> dict:
    from kb.search import search

    top1 = top3 = 0
    misses = []
    for case in cases:
        hits, _ = search(case["paste"], limit=3)
        ids = [h.id for h in hits]
        if ids[:1] and ids[0] in case["expect"]:
            top1 += 1
        else:
            misses.append((case, ids))
        if any(i in case["expect"] for i in ids[:3]):
            top3 += 1
    n = len(cases)
    return {"n": n, "top1": top1 / n, "top3": top3 / n, "misses": misses}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print each miss's paste")
    args = parser.parse_args()
    result = evaluate(load_cases())
    prose = evaluate(load_cases(PROSE))
    print(f"cases {result['n']}: top-1 {result['top1']:.3f}, top-3 {result['top3']:.3f}")
    print(f"prose descriptions {prose['n']}: top-1 {prose['top1']:.3f}, top-3 {prose['top3']:.3f}")
    for case, ids in result["misses"] + prose["misses"]:
        first = case["paste"].strip().splitlines()[-1][:90]
        print(f"MISS expect {','.join(case['expect'])} got {ids} <- {case['source']}")
        print(f"     {first}")
        if args.verbose:
            print("     " + case["paste"].strip().replace("\n", "\n     "))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        sys.stderr.close()
        sys.exit(0)
