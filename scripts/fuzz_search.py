"""Feed generated pastes through search and `kb search --json`'s output; report times.

Usage: python scripts/fuzz_search.py [--pastes 10000] [--seed 0]

Pastes are made as tests/pastes.py makes them (mutated real tracebacks from
tests/search_eval.yaml, random Unicode with control characters, mixed scripts, and about
one in a hundred huge: a word repeated up to a million times). Each goes through
`kb.search.search` and the JSON that `kb search --json` prints, which must load back.
Prints the count, any failures, the median, p99 and slowest time per paste, and the
slowest paste. Nothing here asserts a time: it prints figures for any machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb.search import search  # noqa: E402
from tests.pastes import paste_from_seed  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pastes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    search("warm the index up")
    times: list[tuple[float, int, str]] = []
    failures = []
    for n in range(args.pastes):
        seed = args.seed * 1_000_003 + n
        text = paste_from_seed(seed, with_huge=True)
        start = time.perf_counter()
        try:
            hits, _ = search(text, limit=5)
            json.loads(json.dumps([h.as_dict(True) for h in hits], ensure_ascii=False))
        except Exception:  # noqa: BLE001 - a failure is a finding, reported below
            failures.append((seed, traceback.format_exc(limit=3)))
        times.append((time.perf_counter() - start, seed, text))
    spent = sorted(t for t, _, _ in times)
    print(f"{len(times)} pastes, {len(failures)} failures")
    print(
        f"per paste: median {statistics.median(spent) * 1000:.1f} ms, "
        f"p99 {spent[int(len(spent) * 0.99) - 1] * 1000:.1f} ms, "
        f"slowest {spent[-1] * 1000:.1f} ms, total {sum(spent):.1f} s"
    )
    slowest, seed, text = max(times, key=lambda item: item[0])
    lines = text.count("\n") + 1
    print(
        f"slowest paste: seed {seed}, {len(text)} characters on {lines} line(s), "
        f"starting {text[:60]!r}"
    )
    for seed, report in failures[:5]:
        print(f"failure at seed {seed}:\n{report}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
