"""Pytest plugin: collect kb entries as tests, one per entry x phase x device.

Only Markdown files in a kb catalogue folder are collected: the folders named by the
`kb_entries` ini option, and the catalogue kb itself ships. Other Markdown in a user's
project is never touched. Running and judging is `kb.verify`'s job; this module only
collects, reports and records.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

import pytest

from kb import paths
from kb.entries import EntryError, load_entry
from kb.model import DEVICES, Entry

PHASES = ("repro", "fix")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kb", "kb catalogue entries")
    group.addoption(
        "--device",
        action="append",
        dest="kb_devices",
        choices=DEVICES,
        help="run entries only on this device (repeatable; default: cpu and cuda)",
    )
    group.addoption(
        "--kb-no-record",
        action="store_true",
        dest="kb_no_record",
        help="do not write the verification record",
    )
    parser.addini("kb_entries", type="paths", default=[], help="folders holding kb entries")


def _catalogue_folders(config: pytest.Config) -> set[Path]:
    folders = {Path(p).resolve() for p in config.getini("kb_entries")}
    folders.add(Path(paths.entries_dir()).resolve())
    return folders


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.File | None:
    if file_path.suffix != ".md" or file_path.name in paths.NOT_ENTRIES:
        return None
    config = parent.config
    folders = config.stash.get(_FOLDERS, None)
    if folders is None:
        folders = _catalogue_folders(config)
        config.stash[_FOLDERS] = folders
    if file_path.parent.resolve() not in folders:
        return None
    return EntryFile.from_parent(parent, path=file_path)


_FOLDERS = pytest.StashKey[set]()
_RESULTS = pytest.StashKey[dict]()


class EntryFile(pytest.File):
    def collect(self):
        try:
            entry = load_entry(self.path)
        except EntryError as exc:
            yield FormatItem.from_parent(
                self, name="format", problems=[str(p) for p in exc.problems]
            )
            return
        from kb.verify import skip_reason

        devices = self.config.getoption("kb_devices") or list(DEVICES)
        for device in devices:
            for phase in PHASES:
                item = EntryItem.from_parent(
                    self, name=f"{phase}[{device}]", entry=entry, phase=phase, device=device
                )
                # Marked at collection so the skip is reported at the entry's own line.
                reason = skip_reason(entry, phase, device)
                if reason:
                    item.add_marker(pytest.mark.skip(reason=reason))
                yield item
        for code in entry.doctor:
            # No brackets in the name: the verification record only keeps phase[device].
            yield DoctorItem.from_parent(self, name=f"doctor-{code}", entry=entry, code=code)


class EntryFailed(Exception):
    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


class FormatItem(pytest.Item):
    """Stands in for an entry that does not parse, so the failure names file and line."""

    def __init__(self, *, problems: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.problems = problems

    def runtest(self) -> None:
        raise EntryFailed(
            "entry does not follow the format (see `kb lint`):\n" + "\n".join(self.problems)
        )

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, EntryFailed):
            return excinfo.value.report
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, f"{self.path.name}: format"


class EntryItem(pytest.Item):
    def __init__(self, *, entry: Entry, phase: str, device: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.entry = entry
        self.phase = phase
        self.device = device

    def runtest(self) -> None:
        from kb.verify import Skip, verify

        try:
            verdict = verify(self.entry, self.phase, self.device)
        except Skip as skip:
            pytest.skip(str(skip))
        if not verdict.ok:
            raise EntryFailed(verdict.report())

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, EntryFailed):
            return excinfo.value.report
        return super().repr_failure(excinfo)

    def reportinfo(self):
        block = self.entry.blocks[self.phase]
        return self.path, block.line - 1, f"{self.entry.id} {self.phase}[{self.device}]"


class DoctorItem(pytest.Item):
    """The entry proves a kb doctor rule: the rule flags the repro and not the fix."""

    def __init__(self, *, entry: Entry, code: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.entry = entry
        self.code = code

    def runtest(self) -> None:
        from kb.doctor.proof import prove

        problems = prove(self.entry, self.code)
        if problems:
            raise EntryFailed("\n".join(problems))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, EntryFailed):
            return excinfo.value.report
        return super().repr_failure(excinfo)

    def reportinfo(self):
        block = self.entry.blocks["repro"]
        return self.path, block.line - 1, f"{self.entry.id} doctor {self.code}"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Kept on the report's node id; the record is written once, by the controller.
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    parts = report.nodeid.split("::")
    if len(parts) != 2 or not parts[0].endswith(".md") or "[" not in parts[1]:
        return
    _pending.append((parts[0], parts[1], report.outcome))


_pending: list[tuple[str, str, str]] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput") or config.getoption("kb_no_record") or not _pending:
        return
    try:
        root = config.rootpath
        write_record([(str(root / f), name, outcome) for f, name, outcome in _pending])
    except OSError:
        pass  # the record is a convenience; never fail a test run over it
    finally:
        _pending.clear()


def file_digest(path: Path) -> str:
    """What the record was verified against: a changed entry is no longer verified."""
    import hashlib

    return hashlib.sha1(path.read_bytes()).hexdigest()


def write_record(results: list[tuple[str, str, str]]) -> Path:
    """Merge this run's outcomes into the verification record that `kb show` reads."""
    import torch

    target = Path(paths.record_path())
    try:
        record = json.loads(target.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or not isinstance(record.get("entries"), dict):
            raise ValueError
    except (OSError, ValueError):
        record = {"entries": {}}
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")
    names = {"cpu": "cpu"}
    if torch.cuda.is_available():
        names["cuda"] = torch.cuda.get_device_name(0)
    per_entry: dict[str, dict[str, dict[str, str]]] = {}
    files: dict[str, str] = {}
    for file_name, name, outcome in results:
        phase, _, device = name.partition("[")
        device = device.rstrip("]")
        entry_id = Path(file_name).stem
        files[entry_id] = file_name
        per_entry.setdefault(entry_id, {}).setdefault(device, {})[phase] = outcome
    for entry_id, devices in per_entry.items():
        try:
            sha = file_digest(Path(files[entry_id]))
        except OSError:
            continue
        slot = record["entries"].setdefault(entry_id, {})
        for device, phases in devices.items():
            if all(v == "skipped" for v in phases.values()):
                continue
            slot[device] = {
                "outcome": "passed" if all(v == "passed" for v in phases.values()) else "failed",
                "phases": phases,
                "torch": torch.__version__,
                "cuda": torch.version.cuda,
                "device_name": names.get(device, device),
                "date": now,
                "sha": sha,
            }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, target)
    return target
