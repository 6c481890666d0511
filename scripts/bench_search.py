"""Time `kb search` from a cold process against `python -c pass`, and searches in a warm one.

Usage: python scripts/bench_search.py [--runs N] [QUERY]
Prints medians; nothing here asserts, so it can run on any machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def wall(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("query", nargs="?", default="element 0 of tensors does not require grad")
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()

    # Byte-compile kb as a wheel install does (an editable install, or an environment with
    # PYTHONDONTWRITEBYTECODE set, would otherwise recompile every module on every run),
    # and build the index, so the cold runs measure searching, not one-off work.
    import compileall

    import kb

    compileall.compile_dir(os.path.dirname(kb.__file__), quiet=1)
    subprocess.run([sys.executable, "-m", "kb", "index"], stdout=subprocess.DEVNULL, check=True)
    kb = os.path.join(os.path.dirname(sys.executable), "kb")
    base = wall([sys.executable, "-c", "pass"], args.runs)
    cold = wall([kb, "search", args.query], args.runs)
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(f"python -c pass      median {ms(base):7.1f} ms  ({args.runs} runs)")
    print(f"kb search (cold)    median {ms(cold):7.1f} ms  ratio {ms(cold) / ms(base):.2f}x")

    from kb.search import search

    search(args.query)
    warm = []
    for _ in range(200):
        start = time.perf_counter()
        search(args.query)
        warm.append(time.perf_counter() - start)
    warm.sort()
    p99 = warm[int(len(warm) * 0.99) - 1]
    print(f"search() warm       median {ms(warm):7.2f} ms  p99 {p99 * 1000:.2f} ms  (200 runs)")


if __name__ == "__main__":
    main()
