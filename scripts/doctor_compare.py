"""kb doctor side by side with torch-preflight and TorchFix on the same trees.

    pip install torch-preflight torchfix      # the peers (not kb's dependencies)
    python scripts/doctor_compare.py --tree examples=/path/to/pytorch-examples \
        --tree pkgs=/path/to/unpacked-wheels --save /tmp/compare.json
    python scripts/doctor_compare.py --load /tmp/compare.json     # tabulate again

Each tool runs once per tree in one process (`-j 1` for the peers, which default to a
process per core; kb doctor is single-process), and the script prints per tool and tree:
files, findings, the findings by rule, wall time and CPU time (user + sys of the tool's
process, which a busy machine disturbs less than wall time) and files per CPU-second.

Findings are judged with the hand labels in scripts/doctor_labels.yaml (every finding read
by a person): `bug` (the code really has the problem the tool names), `advice` (a valid
suggestion about performance, style or a deprecation, but nothing is wrong), `fp` (the
claim is wrong). A label without `path` covers every finding of that code in that tree.
Findings nobody labelled are counted as `unread`.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) ")


def _run(command: list[str]) -> tuple[str, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, wall, cpu


def _rel(path: str, tree: Path) -> str:
    p = Path(path)
    if not p.is_absolute():
        p = (Path.cwd() / p).resolve()
    try:
        return p.resolve().relative_to(tree.resolve()).as_posix()
    except ValueError:
        return path


def run_kb(tree: Path) -> tuple[list[dict], float, float]:
    out, wall, cpu = _run(
        [sys.executable, "-m", "kb", "doctor", "--json", "--exit-zero", str(tree)]
    )
    data = json.loads(out)
    found = [
        {"path": _rel(f["path"], tree), "line": f["line"], "code": f["code"], "msg": f["message"]}
        for f in data["findings"]
    ]
    return found, wall, cpu


def run_preflight(tree: Path) -> tuple[list[dict], float, float]:
    out, wall, cpu = _run(["torch-preflight", "check", "-f", "json", "-j", "1", str(tree)])
    data = json.loads(out)
    found = [
        {"path": _rel(d["path"], tree), "line": d["line"], "code": d["code"], "msg": d["message"]}
        for d in data["diagnostics"]
    ]
    return found, wall, cpu


def run_torchfix(tree: Path) -> tuple[list[dict], float, float]:
    out, wall, cpu = _run(["torchfix", "-j", "1", str(tree)])
    found = []
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            found.append(
                {
                    "path": _rel(m["path"], tree),
                    "line": int(m["line"]),
                    "code": m["code"],
                    "msg": line[m.end() :],
                }
            )
    return found, wall, cpu


TOOLS = {"kb": run_kb, "torch-preflight": run_preflight, "torchfix": run_torchfix}


def count_files(tree: Path) -> int:
    from kb.doctor.sources import collect_files

    files, _ = collect_files([str(tree)])
    return len(files)


def load_labels(path: Path) -> list[dict]:
    import yaml

    if not path.is_file():
        return []
    return yaml.safe_load(path.read_text(encoding="utf-8")) or []


def verdict(labels: list[dict], tool: str, tree: str, finding: dict) -> str:
    for label in labels:
        if label.get("tool") != tool or label.get("tree") != tree:
            continue
        if label.get("code") != finding["code"]:
            continue
        if "path" in label and label["path"] != finding["path"]:
            continue
        if "line" in label and int(label["line"]) != finding["line"]:
            continue
        return label["verdict"]
    return "unread"


def report(results: dict, labels: list[dict]) -> None:
    print(
        f"{'tree':<10} {'tool':<16} {'files':>6} {'found':>6} {'bug':>5} {'advice':>6} "
        f"{'fp':>4} {'unread':>6} {'wall s':>8} {'cpu s':>8} {'files/cpu-s':>11}"
    )
    per_rule: dict[tuple[str, str], Counter] = {}
    for tree, by_tool in results.items():
        for tool, r in by_tool.items():
            verdicts = Counter()
            for f in r["findings"]:
                v = verdict(labels, tool, tree, f)
                verdicts[v] += 1
                per_rule.setdefault((tool, f["code"]), Counter())[v] += 1
            rate = r["files"] / r["cpu"] if r["cpu"] else float("nan")
            print(
                f"{tree:<10} {tool:<16} {r['files']:>6} {len(r['findings']):>6} "
                f"{verdicts['bug']:>5} {verdicts['advice']:>6} {verdicts['fp']:>4} "
                f"{verdicts['unread']:>6} {r['wall']:>8.1f} {r['cpu']:>8.1f} {rate:>11.1f}"
            )
    print()
    print(
        f"{'tool':<16} {'rule':<8} {'found':>6} {'bug':>5} {'advice':>6} {'fp':>4} {'fp rate':>8}"
    )
    for (tool, code), c in sorted(per_rule.items()):
        total = sum(c.values())
        judged = total - c["unread"]
        rate = f"{c['fp'] / judged:.0%}" if judged else "-"
        print(
            f"{tool:<16} {code:<8} {total:>6} {c['bug']:>5} {c['advice']:>6} {c['fp']:>4} {rate:>8}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--labels", default=str(ROOT / "scripts" / "doctor_labels.yaml"))
    parser.add_argument("--save", help="write the raw results here (JSON)")
    parser.add_argument("--load", help="results saved earlier (tabulated, or updated by --tree)")
    parser.add_argument("--list", action="store_true", help="print every finding, to label")
    args = parser.parse_args()
    labels = load_labels(Path(args.labels))
    # --load alone tabulates; with --tree it reruns those tools there and keeps the rest.
    results = json.loads(Path(args.load).read_text(encoding="utf-8")) if args.load else {}
    if args.tree:
        for spec in args.tree:
            name, _, path = spec.partition("=")
            tree = Path(path)
            files = count_files(tree)
            for tool in args.tools.split(","):
                if tool != "kb" and shutil.which(tool) is None:
                    print(f"{tool}: not installed (pip install {tool}); skipped", file=sys.stderr)
                    continue
                found, wall, cpu = TOOLS[tool](tree)
                results.setdefault(name, {})[tool] = {
                    "findings": found,
                    "wall": wall,
                    "cpu": cpu,
                    "files": files,
                }
                print(f"{name} {tool}: {len(found)} findings, {cpu:.1f} cpu s", file=sys.stderr)
        if args.save:
            Path(args.save).write_text(json.dumps(results, indent=1), encoding="utf-8")
    if args.list:
        for tree, by_tool in results.items():
            for tool, r in by_tool.items():
                for f in r["findings"]:
                    v = verdict(labels, tool, tree, f)
                    print(f"{v:<7} {tree} {tool} {f['path']}:{f['line']} {f['code']} {f['msg']}")
    report(results, labels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
