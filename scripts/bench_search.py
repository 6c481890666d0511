"""Time `kb search` from a cold process against `python -c pass`, and searches in a warm one.

Usage: python scripts/bench_search.py [--runs N] [QUERY ...]

Each round runs `python -c pass` and then every query once, so a machine that slows
down or speeds up during the run affects both sides alike. Prints medians and the
ratio to `python -c pass` per query; nothing here asserts, so it runs on any machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

TRACEBACK = """\
Traceback (most recent call last):
  File "/home/me/project/train.py", line 41, in <module>
    loss.backward()
  File "/usr/lib/python3.11/site-packages/torch/_tensor.py", line 626, in backward
    torch.autograd.backward(
  File "/usr/lib/python3.11/site-packages/torch/autograd/__init__.py", line 347, in backward
    _engine_run_backward(
RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn
"""

QUERIES = {
    "typed message": "element 0 of tensors does not require grad",
    "exception line": "RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x512 and 256x10)",
    "traceback (stdin)": TRACEBACK,
    "symptom words": "loss is not decreasing",
    "Chinese symptom": "显存一直增长",
}


def run(cmd: list[str], stdin: str | None) -> float:
    start = time.perf_counter()
    subprocess.run(
        cmd,
        input=stdin.encode() if stdin is not None else None,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - start


def launcher_imports_re(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return any(line.strip() == "import re" for line in fh)
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("query", nargs="*", help="queries to time (default: five kinds)")
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    queries = {f"query {i + 1}": q for i, q in enumerate(args.query)} or QUERIES

    # Byte-compile kb as a wheel install does (an editable install, or an environment with
    # PYTHONDONTWRITEBYTECODE set, would otherwise recompile every module on every run),
    # and build the index, so the cold runs measure searching, not one-off work.
    import compileall

    import kb

    compileall.compile_dir(os.path.dirname(kb.__file__), quiet=1)
    subprocess.run([sys.executable, "-m", "kb", "index"], stdout=subprocess.DEVNULL, check=True)
    launcher = os.path.join(os.path.dirname(sys.executable), "kb")
    if launcher_imports_re(launcher):
        print(
            f"note: {launcher} was written by an old pip and imports `re` itself "
            "(~1.5x of `python -c pass` before kb runs); `pip install -U pip` and reinstall kb"
        )

    cases: dict[str, tuple[list[str], str | None]] = {
        "python -c pass": ([sys.executable, "-c", "pass"], None)
    }
    for name, query in queries.items():
        if "\n" in query.strip():
            cases[name] = ([launcher, "search", "-"], query)
        else:
            cases[name] = ([launcher, "search", query], None)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, (cmd, stdin) in cases.items():
            times[name].append(run(cmd, stdin))

    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    base = ms(times["python -c pass"])
    print(f"cold processes, median of {args.runs} interleaved rounds:")
    for name, values in times.items():
        ratio = "" if name == "python -c pass" else f"  ratio {ms(values) / base:.2f}x"
        print(f"  {name:22s} {ms(values):6.1f} ms{ratio}")

    from kb.search import search

    print("warm search() in one process, 200 runs each:")
    for name, query in queries.items():
        search(query)
        warm = []
        for _ in range(200):
            start = time.perf_counter()
            search(query)
            warm.append(time.perf_counter() - start)
        warm.sort()
        p99 = warm[int(len(warm) * 0.99) - 1]
        print(f"  {name:22s} median {ms(warm):5.2f} ms  p99 {p99 * 1000:5.2f} ms")


if __name__ == "__main__":
    main()
