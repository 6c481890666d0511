"""scripts/verify_matrix.py's bookkeeping: which environments, and how results merge."""

import importlib.util
import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "verify_matrix.py"
spec = importlib.util.spec_from_file_location("verify_matrix", SCRIPT)
vm = importlib.util.module_from_spec(spec)
sys.modules["verify_matrix"] = vm
spec.loader.exec_module(vm)


def test_environments_from_arguments():
    assert vm.parse_specs("2.4.1,2.15.0@3.13", None) == [("2.4.1", "3.11"), ("2.15.0", "3.13")]
    assert vm.parse_specs("2.15.0", "3.12,3.13") == [("2.15.0", "3.12"), ("2.15.0", "3.13")]
    default = vm.parse_specs(None, None)
    assert ("1.13.1", "3.10") in default and ("2.13.0+cpu", "3.11") in default
    assert {py for t, py in default if t == "2.15.0"} == {"3.11", "3.12", "3.13"}
    assert ("2.14.1", "3.10") in default  # torch 2.15 has no wheels for Python 3.10


def run_result(name: str, entries: dict, partial: bool = False) -> dict:
    env = {"torch": "2.0.1+cu117", "build": "cuda 11.7", "python": "3.11.7"}
    return {
        "name": name,
        "environment": env,
        "entries": entries,
        "install_s": 1.0,
        "test_s": 2.0,
        "partial": partial,
    }


def ok(digest: str) -> dict:
    passed = {"outcome": "passed"}
    return {"digest": digest, "cpu": {"repro": passed, "fix": passed}}


def test_a_full_run_replaces_an_environment_and_a_partial_run_only_its_entries(tmp_path):
    record = tmp_path / "verified.json"
    vm.merge(record, [run_result("t2", {"a": ok("1"), "b": ok("1")})], 3.0)
    vm.merge(record, [run_result("t2", {"b": ok("2")}, partial=True)], 3.0)
    data = json.loads(record.read_text())
    assert data["entries"]["a"]["t2"]["digest"] == "1"
    assert data["entries"]["b"]["t2"]["digest"] == "2"
    assert data["environments"]["t2"]["counts"]["entries_proven"] == 2
    vm.merge(record, [run_result("t2", {"a": ok("3")})], 3.0)
    data = json.loads(record.read_text())
    assert "b" not in data["entries"] and data["entries"]["a"]["t2"]["digest"] == "3"


def test_records_of_parallel_jobs_fold_into_one(tmp_path):
    parts = []
    for i, name in enumerate(["t1", "t2"]):
        part = tmp_path / f"part{i}.json"
        vm.merge(part, [run_result(name, {"a": ok("1")})], 3.0)
        parts.append(part)
    target = tmp_path / "verified.json"
    assert vm.main(["--record", str(target), "--merge", *map(str, parts)]) == 0
    data = json.loads(target.read_text())
    assert set(data["environments"]) == {"t1", "t2"} and set(data["entries"]["a"]) == {"t1", "t2"}


def test_a_record_of_a_few_entries_folds_in_without_erasing_the_rest(tmp_path):
    target, part = tmp_path / "verified.json", tmp_path / "part.json"
    vm.merge(target, [run_result("t2", {"a": ok("1"), "b": ok("1")})], 3.0)
    vm.merge(part, [run_result("t2", {"b": ok("2")}, partial=True)], 3.0)
    assert vm.main(["--record", str(target), "--merge", str(part)]) == 0
    data = json.loads(target.read_text())
    assert (
        data["entries"]["a"]["t2"]["digest"] == "1" and data["entries"]["b"]["t2"]["digest"] == "2"
    )
