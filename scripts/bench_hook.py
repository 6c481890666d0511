"""What the crash hook costs: at `import kb`, at install, and on the crash path.

Usage: python scripts/bench_hook.py [--runs N]

Each round runs, in fresh processes, the same small scripts with and without kb, so a
machine that slows down during the run affects both sides alike:

* `import kb` and `import kb; kb.install()` against `python -c pass`;
* a script that raises a catalogued error (the note is printed), one that raises an
  error kb has no entry for (searched, nothing printed), both with the hook installed,
  against the same script without it.

The scripts raise the messages torch prints without importing torch, so the figures are
the hook's own (a real training script pays its torch import either way). The index is
built before timing; `--cold` also times a first crash that must build it. Prints
medians in milliseconds; nothing here asserts, so it runs on any machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CATALOGUED = (
    'raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")\n'
)
UNKNOWN = 'raise ValueError("widget 42 is out of stock")\n'


# Bytecode cached as after a normal install (pip compiles it), in a folder of our own:
# with PYTHONDONTWRITEBYTECODE every run would compile kb's modules from source.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="kb-bench-pycache-")


def timed(args: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env or ENV,
        check=False,
    )
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--cold", action="store_true", help="also time a crash that builds the index"
    )
    opts = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="kb-bench-hook-")
    scripts = {}
    for name, body in {
        "catalogued, no hook": CATALOGUED,
        "catalogued, hook": "import kb; kb.install()\n" + CATALOGUED,
        "unknown, no hook": UNKNOWN,
        "unknown, hook": "import kb; kb.install()\n" + UNKNOWN,
    }.items():
        path = os.path.join(folder, name.replace(", ", "-").replace(" ", "_") + ".py")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(body)
        scripts[name] = [path]
    cases = {
        "python -c pass": ["-c", "pass"],
        "import kb": ["-c", "import kb"],
        "import kb; kb.install()": ["-c", "import kb; kb.install()"],
        **scripts,
    }
    timed(scripts["catalogued, hook"])  # builds the index if needed, warms the disk cache
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(opts.runs):
        for name, args in cases.items():
            samples[name].append(timed(args))
    med = {name: statistics.median(values) for name, values in samples.items()}
    print(f"medians over {opts.runs} interleaved rounds (ms)")
    for name, value in med.items():
        print(f"  {name:<28} {value:8.1f}")
    print("added by kb:")
    base = med["python -c pass"]
    print(f"  import kb                    {med['import kb'] - base:+8.1f}")
    print(f"  import kb + install()        {med['import kb; kb.install()'] - base:+8.1f}")
    found = med["catalogued, hook"] - med["catalogued, no hook"]
    print(f"  crash path, entry found      {found:+8.1f}")
    print(f"  crash path, nothing found    {med['unknown, hook'] - med['unknown, no hook']:+8.1f}")
    if opts.cold:
        cold = []
        for i in range(3):
            env = {**ENV, "KB_DB": os.path.join(folder, f"cold-{i}.db")}
            cold.append(timed(scripts["catalogued, hook"], env) - med["catalogued, no hook"])
        print(f"  first crash, index built     {statistics.median(cold):+8.1f}")


if __name__ == "__main__":
    main()
