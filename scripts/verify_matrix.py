"""Run the catalogue's proof on many torch releases, builds and Python versions.

    python scripts/verify_matrix.py                      # the default matrix (below)
    python scripts/verify_matrix.py --torch 2.15.0 --python 3.12,3.13
    python scripts/verify_matrix.py --torch 2.13.0+cpu,2.4.1 --keep

For each environment (a torch version, optionally `+cpu` for the CPU-only build, and a
Python version) it creates a virtual environment with `uv` (one per environment, in
seconds once the wheels are cached), installs torch and kb with its test tools, runs
`pytest entries/` there, and collects every entry's outcome per phase and device (passed,
failed, skipped, with the reason). It prints the table of environments x outcomes with
wall times, lists what failed, and merges the results into the verification record
`kb/verified.json` (shipped with kb; `kb show` and `kb stats` read it). Environments not
run this time keep their earlier results in the record.

Needs `uv` (`pip install uv`) and the Python versions asked for (uv finds them on PATH,
in pyenv, or in its own installs). CUDA builds run their `cuda` variants only where a GPU
is present; elsewhere those skip with the reason, and the CPU variants prove what a CUDA
build does on a machine without a GPU (the common case on Linux).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "kb" / "verified.json"

# The oldest release that still installs through the newest; CUDA builds unless `+cpu`.
# The newest torch runs on every supported Python, because some messages are Python's.
DEFAULT_MATRIX = (
    "1.13.1@3.10",
    "2.0.1@3.11",
    "2.2.2@3.11",
    "2.4.1@3.11",
    "2.6.0@3.11",
    "2.8.0@3.11",
    "2.10.0@3.11",
    "2.12.1@3.11",
    "2.13.0+cpu@3.11",
    "2.14.1@3.11",
    "2.14.1@3.10",  # torch 2.15 has no wheels for Python 3.10
    "2.15.0@3.11",
    "2.15.0@3.12",
    "2.15.0@3.13",
)
DEFAULT_PYTHON = "3.11"
# What a run's report says about its installation (kb.pytest_plugin.environment).
ENV_KEYS = ("torch", "build", "python", "platform", "gpu")
# Where `+cpu` wheels come from when no local wheel folder (PIP_FIND_LINKS) is set.
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def parse_specs(torch_arg: str | None, python_arg: str | None) -> list[tuple[str, str]]:
    """(torch, python) pairs: `--torch 2.4.1,2.13.0+cpu --python 3.11,3.12` is their product;
    a version may carry its own Python as `2.15.0@3.13`."""
    torches = torch_arg.split(",") if torch_arg else list(DEFAULT_MATRIX)
    pythons = python_arg.split(",") if python_arg else []
    specs = []
    for item in (t.strip() for t in torches):
        if not item:
            continue
        version, _, own_python = item.partition("@")
        for py in [own_python] if own_python else pythons or [DEFAULT_PYTHON]:
            specs.append((version, py))
    return specs


def env_name(torch_spec: str, python: str) -> str:
    return f"torch{torch_spec}-py{python}"


def run(cmd: list[str], log, timeout: float | None = None, **kw) -> int:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    try:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        log.write(f"timed out after {timeout} s\n")
        return 124
    return done.returncode


def find_python(version: str) -> str:
    """An interpreter for `3.12`: a path as given, a pyenv install, else uv's own search."""
    if os.sep in version:
        return version
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(
        root.glob(f"{version}.*/bin/python"),
        key=lambda p: [int(x) for x in p.parent.parent.name.split(".") if x.isdigit()],
    )
    return str(found[-1]) if found else version


def install_args(torch_spec: str) -> list[str]:
    """What uv installs: torch at that version and kb with its test tools."""
    from packaging.version import Version

    args = [f"torch=={torch_spec}", "-e", f"{ROOT}[dev]"]
    if Version(torch_spec.split("+")[0]) < Version("2.3"):
        args.append("numpy<2")  # built against numpy 1.x
    links = [p for p in os.environ.get("PIP_FIND_LINKS", "").split() if p]
    for link in links:
        args += ["--find-links", link]
    if "+cpu" in torch_spec and not links:
        args += ["--extra-index-url", CPU_INDEX, "--index-strategy", "unsafe-best-match"]
    return args


def verify_env(
    torch_spec: str,
    python: str,
    envs: Path,
    logs: Path,
    workers: str,
    keep: bool,
    entries: list[str] | None = None,
    suffix: str = "",
    probe: bool = False,
) -> dict:
    """Create one environment, run the catalogue there; its report, or why it could not run."""
    name = env_name(torch_spec, python) + (f"-{suffix}" if suffix else "")
    venv = envs / name
    log_path = logs / f"{name}.log"
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log:
        result: dict = {"name": name, "log": str(log_path)}
        if not venv.exists():
            code = run(["uv", "venv", "-q", "--python", find_python(python), str(venv)], log)
            if code:
                return {**result, "error": f"uv could not create a Python {python} environment"}
        env = {**os.environ, "VIRTUAL_ENV": str(venv)}
        env.pop("PIP_CONSTRAINT", None)
        # Bytecode now, as pip does: else every test worker compiles torch's sources (minutes
        # for torch._dynamo on a busy machine) and time limits measure the compiler.
        install = ["uv", "pip", "install", "-q", "--compile-bytecode", *install_args(torch_spec)]
        code = run(install, log, env=env)
        installed = time.monotonic()
        if code:
            return {**result, "error": f"torch {torch_spec} did not install on Python {python}"}
        report = Path(tempfile.mkdtemp()) / "report.json"
        python_bin = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
        targets = [f"entries/{e}.md" for e in entries] if entries else ["entries/"]
        cmd = [str(python_bin), "-m", "pytest", *targets, "-q", "-p", "no:cacheprovider"]
        # Environments run while others install: time limits stop runaway blocks, no more.
        cmd += ["--kb-no-record", "--kb-report", str(report), "--kb-timeout-scale", "4"]
        if probe:
            cmd.append("--kb-any-torch")
        if workers != "0":
            cmd += ["-n", workers]
        env = {**os.environ, "KB_RECORD": str(report.with_name("local.json"))}
        env.pop("KB_ENTRIES", None)
        run(cmd, log, timeout=3600, cwd=ROOT, env=env)
        done = time.monotonic()
    if not keep:
        shutil.rmtree(venv, ignore_errors=True)
    result["install_s"] = round(installed - started, 1)
    result["test_s"] = round(done - installed, 1)
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {**result, "error": "pytest wrote no report (see the log)"}
    finally:
        shutil.rmtree(report.parent, ignore_errors=True)
    return {**result, **data, "partial": bool(entries)}


def counts(entries: dict) -> dict[str, int]:
    """Tests by outcome, and entries proven on at least one device."""
    out = {"passed": 0, "failed": 0, "skipped": 0, "entries_proven": 0, "entries_failed": 0}
    for by_device in entries.values():
        proven = failed = False
        for device, phases in by_device.items():
            if device == "digest":
                continue
            outcomes = [p["outcome"] for p in phases.values()]
            for outcome in outcomes:
                out[outcome] = out.get(outcome, 0) + 1
            proven |= bool(outcomes) and all(o == "passed" for o in outcomes)
            failed |= "failed" in outcomes
        out["entries_proven"] += proven and not failed
        out["entries_failed"] += failed
    return out


def merge(record_path: Path, results: list[dict], wall_s: float) -> None:
    """Write each environment's results into the record, replacing earlier runs of it."""
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    record.setdefault("environments", {})
    record.setdefault("entries", {})
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    for res in results:
        if "entries" not in res:
            continue
        name = res["name"]
        # A run of a few entries replaces only their results in this environment.
        for entry_id, per_entry in record["entries"].items():
            if not res.get("partial") or entry_id in res["entries"]:
                per_entry.pop(name, None)
        for entry_id, by_device in res["entries"].items():
            record["entries"].setdefault(entry_id, {})[name] = by_device
        env = record["environments"].get(name, {}) if res.get("partial") else {}
        if not res.get("partial") or "test_s" not in env:
            env.update(install_s=res["install_s"], test_s=res["test_s"])
        env.update(res["environment"], date=today)
        in_env = {k: v[name] for k, v in record["entries"].items() if name in v}
        env["counts"] = counts(in_env)
        record["environments"][name] = env
    record["entries"] = {k: v for k, v in sorted(record["entries"].items()) if v}
    record["command"] = "python scripts/verify_matrix.py"
    record["last_run"] = {"date": today, "wall_s": round(wall_s, 1)}
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def merge_records(target: Path, sources: list[Path]) -> None:
    """Fold other records (from parallel CI jobs) into `target`, environment by environment."""
    results = []
    for source in sources:
        data = json.loads(source.read_text(encoding="utf-8"))
        for name, env in data.get("environments", {}).items():
            entries = {k: v[name] for k, v in data.get("entries", {}).items() if name in v}
            results.append(
                {
                    "name": name,
                    "environment": {k: env[k] for k in ENV_KEYS if k in env},
                    "entries": entries,
                    "install_s": env.get("install_s", 0),
                    "test_s": env.get("test_s", 0),
                    # Only the entries it holds: a record of a few entries (--entries)
                    # must not erase the rest of that environment's results.
                    "partial": True,
                }
            )
    wall = max((r["install_s"] + r["test_s"] for r in results), default=0)
    merge(target, results, wall)


def record_table(record_path: Path) -> str:
    """The table of the record as it stands: every environment, current results only."""
    sys.path.insert(0, str(ROOT))
    from kb.proof import proof_digest

    record = json.loads(record_path.read_text(encoding="utf-8"))
    digests = {p.stem: proof_digest(p) for p in sorted((ROOT / "entries").glob("*.md"))}
    results = []
    for name, env in record["environments"].items():
        entries = {
            entry_id: by_env[name]
            for entry_id, by_env in record["entries"].items()
            if name in by_env and by_env[name].get("digest") == digests.get(entry_id)
        }
        stale = sum(1 for by_env in record["entries"].values() if name in by_env) - len(entries)
        results.append(
            {
                "name": name + (f" ({stale} stale)" if stale else ""),
                "environment": env,
                "entries": entries,
                "install_s": env.get("install_s", 0),
                "test_s": env.get("test_s", 0),
            }
        )
    results.sort(key=lambda r: (_version_key(r["environment"]["torch"]), r["name"]))
    lines = table(results, 0).splitlines()[:-1]
    total = sum(r["install_s"] + r["test_s"] for r in results)
    lines.append(f"{len(results)} environments, {total / 60:.1f} min of runs in all")
    return "\n".join(lines)


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("+")[0].split("."))


def table(results: list[dict], wall_s: float) -> str:
    head = ("environment", "torch", "build", "python", "passed", "failed", "skipped", "time")
    rows = [head]
    for res in results:
        if "entries" not in res:
            rows.append((res["name"], "-", "-", "-", "-", "-", "-", res.get("error", "")))
            continue
        env, c = res["environment"], counts(res["entries"])
        seconds = f"{res['install_s'] + res['test_s']:.0f} s"
        row = (res["name"], env["torch"], env["build"], env["python"])
        rows.append((*row, str(c["passed"]), str(c["failed"]), str(c["skipped"]), seconds))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines.append(f"\nwall time: {wall_s / 60:.1f} min for {len(results)} environments")
    return "\n".join(lines)


def failures(results: list[dict]) -> list[str]:
    out = []
    for res in results:
        for entry_id, by_device in sorted(res.get("entries", {}).items()):
            for device, phases in by_device.items():
                if device == "digest":
                    continue
                for phase, r in phases.items():
                    if r["outcome"] == "failed":
                        first = r.get("detail", "").splitlines()[:3]
                        out.append(
                            f"{res['name']}: {entry_id} {phase}[{device}]: " + " / ".join(first)
                        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--torch", help="comma-separated torch versions (`2.13.0+cpu`, `2.15.0@3.13`)"
    )
    parser.add_argument(
        "--python", help=f"comma-separated Python versions (default {DEFAULT_PYTHON})"
    )
    parser.add_argument("--envs", type=Path, default=ROOT / ".matrix", help="where environments go")
    parser.add_argument("--record", type=Path, default=RECORD, help="the record to update")
    parser.add_argument("--no-record", action="store_true", help="print only; leave the record")
    parser.add_argument(
        "-n", "--workers", default="2", help="pytest-xdist workers per run (0: none)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the environments afterwards")
    parser.add_argument("--entries", help="only these entry ids, comma-separated (default: all)")
    parser.add_argument(
        "--probe",
        action="store_true",
        help="run entries outside their torch range too, to measure where each failure "
        "exists (needs --record elsewhere than the shipped record)",
    )
    parser.add_argument("--table", action="store_true", help="print the record's table and exit")
    parser.add_argument("--suffix", default="", help="appended to environment names (gpu)")
    parser.add_argument(
        "--merge", nargs="+", type=Path, metavar="RECORD", help="fold these records into --record"
    )
    args = parser.parse_args(argv)
    if args.table:
        print(record_table(args.record))
        return 0
    if args.merge:
        merge_records(args.record, args.merge)
        print(f"merged {len(args.merge)} record(s) into {args.record}")
        return 0
    if args.probe and args.record.resolve() == RECORD.resolve():
        print("verify_matrix: --probe results are measurements, not proof: give --record")
        return 2
    if shutil.which("uv") is None:
        print("verify_matrix: needs uv on PATH (pip install uv)", file=sys.stderr)
        return 2
    specs = parse_specs(args.torch, args.python)
    logs = args.envs / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results = []
    for torch_spec, python in specs:
        t0 = time.monotonic()
        entries = [e.strip() for e in args.entries.split(",")] if args.entries else None
        res = verify_env(
            torch_spec,
            python,
            args.envs,
            logs,
            args.workers,
            args.keep,
            entries,
            args.suffix,
            args.probe,
        )
        results.append(res)
        state = res.get("error") or ", ".join(f"{k} {v}" for k, v in counts(res["entries"]).items())
        print(
            f"{res['name']}: {state} ({time.monotonic() - t0:.0f} s; log {res['log']})", flush=True
        )
        if not args.no_record:
            merge(args.record, results[-1:], time.monotonic() - started)
    wall = time.monotonic() - started
    if not args.no_record:
        merge(args.record, [], wall)
    print()
    print(table(results, wall))
    failed = failures(results)
    if failed:
        print("\nfailed:")
        print("\n".join(failed))
    broken = [r for r in results if "error" in r]
    return 1 if failed or broken else 0


if __name__ == "__main__":
    sys.exit(main())
