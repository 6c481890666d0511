"""Pytest plugin: collect kb entries as tests, one per entry x phase x device.

Only Markdown files in a kb catalogue folder are collected: the folders named by the
`kb_entries` ini option, and the catalogue kb itself ships. Other Markdown in a user's
project is never touched. Running and judging is `kb.verify`'s job; this module only
collects, reports and records.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from pathlib import Path

import pytest

from kb import paths
from kb.entries import EntryError, load_entry
from kb.model import DEVICES, ENV_PHASES, Entry

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
    group.addoption(
        "--kb-report",
        dest="kb_report",
        metavar="PATH",
        help="write every entry's outcomes, with skip and failure reasons, to PATH (JSON)",
    )
    group.addoption(
        "--kb-any-torch",
        action="store_true",
        dest="kb_any_torch",
        help="run entries outside their torch range too (measures where a failure exists; "
        "implies --kb-no-record)",
    )
    group.addoption(
        "--kb-timeout-scale",
        type=float,
        default=1.0,
        dest="kb_timeout_scale",
        help="multiply every block's time limit (a busy or slow machine)",
    )
    parser.addini("kb_entries", type="paths", default=[], help="folders holding kb entries")


def _catalogue_folders(config: pytest.Config) -> set[Path]:
    # The catalogues kb searches (KB_ENTRIES, [tool.kb] in pyproject.toml, the bundled
    # one), so `pytest team/entries/` proves a team's entries as it proves kb's own.
    folders = {Path(p).resolve() for p in config.getini("kb_entries")}
    try:
        folders.update(Path(p).resolve() for p in paths.catalogue_dirs())
    except paths.ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
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
        from kb.verify import bandaid_phase, skip_reason

        devices = self.config.getoption("kb_devices") or list(DEVICES)
        if entry.kind == "environment":
            # Proven once per installation, whatever the hardware: where torch holds the
            # messages, and the diagnose verdict here (kb.envproof); recorded under cpu.
            if "cpu" in devices:
                for phase in ENV_PHASES:
                    yield EntryItem.from_parent(
                        self, name=f"{phase}[cpu]", entry=entry, phase=phase, device="cpu"
                    )
            return
        for device in devices:
            for phase in PHASES:
                item = EntryItem.from_parent(
                    self, name=f"{phase}[{device}]", entry=entry, phase=phase, device=device
                )
                # Marked at collection so the skip is reported at the entry's own line.
                reason = skip_reason(entry, phase, device, self.config.option.kb_any_torch)
                if reason:
                    item.add_marker(pytest.mark.skip(reason=reason))
                yield item
            for number, _ in enumerate(entry.bandaids, 1):
                item = EntryItem.from_parent(
                    self,
                    name=f"{bandaid_phase(number)}[{device}]",
                    entry=entry,
                    phase=bandaid_phase(number),
                    device=device,
                    bandaid=number,
                )
                reason = skip_reason(entry, "repro", device, self.config.option.kb_any_torch)
                if reason:
                    item.add_marker(pytest.mark.skip(reason=reason))
                yield item
            for helper in entry.snippets:
                item = SnippetItem.from_parent(
                    self,
                    name=f"snippet-{helper}[{device}]",
                    entry=entry,
                    helper=helper,
                    device=device,
                )
                reason = skip_reason(entry, "repro", device) or skip_reason(entry, "fix", device)
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
    def __init__(
        self, *, entry: Entry, phase: str, device: str, bandaid: int | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.entry = entry
        self.phase = phase
        self.device = device
        self.bandaid = bandaid  # 1-based number of the band-aid block this item rejects

    def runtest(self) -> None:
        from kb.verify import Skip, verify, verify_bandaid

        try:
            option = self.config.option
            scale = (option.kb_any_torch, option.kb_timeout_scale)
            if self.bandaid is not None:
                verdict = verify_bandaid(self.entry, self.bandaid, self.device, *scale)
            else:
                verdict = verify(self.entry, self.phase, self.device, *scale)
        except Skip as skip:
            pytest.skip(str(skip))
        if not verdict.ok:
            raise EntryFailed(verdict.report())
        # What the proof saw (the message torch printed): the matrix records it.
        self.user_properties.append(("kb", verdict.summary))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, EntryFailed):
            return excinfo.value.report
        return super().repr_failure(excinfo)

    def reportinfo(self):
        if self.bandaid is not None:
            block = self.entry.bandaids[self.bandaid - 1].block
        else:
            block = self.entry.blocks.get(self.phase)
        line = block.line - 1 if block else self.entry.line - 1
        return self.path, line, f"{self.entry.id} {self.phase}[{self.device}]"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    # One line per reason for skipped entry variants (on a CPU machine, every cuda
    # variant), instead of one line per variant; `-rs` lists them one by one.
    if "s" in terminalreporter.reportchars:
        return
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        if report.nodeid.split("::")[0].endswith(".md") and isinstance(report.longrepr, tuple):
            reason = report.longrepr[2].removeprefix("Skipped: ")
            reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(
            f"kb: {count} entry variants skipped: {reason} (-rs lists them)"
        )


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return
    # What the entries say as the run starts: an entry edited while it runs proves nothing.
    from kb.proof import proof_digest

    _digests.clear()
    for folder in _catalogue_folders(session.config):
        for file_name in paths.entry_files(folder):
            _digests[str(Path(file_name).resolve())] = proof_digest(file_name)


_digests: dict[str, str | None] = {}


def _digest_if_unchanged(file_name: str) -> str | None:
    """The entry's proof digest, or None if it changed (or went) since the run started."""
    from kb.proof import proof_digest

    now = proof_digest(file_name)
    before = _digests.get(str(Path(file_name).resolve()), now)
    return now if now == before else None


def _detail(report: pytest.TestReport) -> str:
    """Why a test was skipped or failed, or what the passing proof saw, in a few lines."""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    if report.failed:
        lines = str(report.longrepr).strip().splitlines()
        return "\n".join(lines[:4])[:600]
    return dict(report.user_properties).get("kb", "")


class SnippetItem(pytest.Item):
    """A kb.snippets helper must report the entry's repro and find its fix clean."""

    def __init__(self, *, entry: Entry, helper: str, device: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.entry = entry
        self.helper = helper
        self.device = device

    def runtest(self) -> None:
        from kb.snippets.prove import prove

        proof = prove(self.entry, self.helper, self.device)
        if not proof.ok:
            where = f"{self.entry.path}:{self.entry.line}"
            lines = [f"{where}: snippet {self.helper} on {self.device}: {proof.summary}"]
            raise EntryFailed("\n".join(lines + ["  " + d for d in proof.details]))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, EntryFailed):
            return excinfo.value.report
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, f"{self.entry.id} snippet-{self.helper}[{self.device}]"


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
    if len(parts) != 2 or not parts[0].endswith(".md"):
        return
    if parts[1].startswith(("snippet-", "doctor-")):
        return  # helper and rule proofs judge kb's tools, not the entry's verification
    _pending.append((parts[0], parts[1], report.outcome, _detail(report)))


_pending: list[tuple[str, str, str, str]] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput") or not _pending:
        return
    root = config.rootpath
    results = [(str(root / f), name, outcome, detail) for f, name, outcome, detail in _pending]
    _pending.clear()
    report_path = config.getoption("kb_report")
    if report_path:
        write_report(Path(report_path), results)
    if config.getoption("kb_no_record") or config.getoption("kb_any_torch"):
        return
    # The record is a convenience; never fail a test run over it.
    with contextlib.suppress(OSError):
        write_record([r for r in results if "[" in r[1]])


def environment() -> dict:
    """The installation a run proves things on: torch, its build, Python, a GPU or not."""
    import platform

    import torch

    from kb.environment import build

    return {
        "torch": torch.__version__,
        "build": build(),
        "python": platform.python_version(),
        "platform": f"{platform.system().lower()}-{platform.machine()}",
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def _by_entry(results: list[tuple[str, str, str, str]]) -> tuple[dict, dict]:
    """{entry id: {device: {phase: {outcome, detail}}}} and {entry id: file}."""
    per_entry: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
    files: dict[str, str] = {}
    for file_name, name, outcome, detail in results:
        phase, _, device = name.partition("[")
        device = device.rstrip("]") or "any"
        entry_id = Path(file_name).stem
        files[entry_id] = file_name
        result = {"outcome": outcome, "detail": detail} if detail else {"outcome": outcome}
        per_entry.setdefault(entry_id, {}).setdefault(device, {})[phase] = result
    return per_entry, files


def write_report(target: Path, results: list[tuple[str, str, str, str]]) -> Path:
    """One run's outcomes with the reasons, for scripts/verify_matrix.py (--kb-report)."""
    per_entry, files = _by_entry(results)
    report = {
        "environment": environment(),
        "entries": {
            entry_id: {"digest": digest, **devices}
            for entry_id, devices in sorted(per_entry.items())
            if (digest := _digest_if_unchanged(files[entry_id])) is not None
        },
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=1, sort_keys=True), encoding="utf-8")
    return target


def write_record(results: list[tuple[str, str, str, str]]) -> Path:
    """Merge this run's outcomes into the local verification record that `kb show` reads."""
    target = Path(paths.record_path())
    try:
        record = json.loads(target.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or not isinstance(record.get("entries"), dict):
            raise ValueError
    except (OSError, ValueError):
        record = {"entries": {}}
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")
    env = environment()
    per_entry, files = _by_entry(results)
    for entry_id, devices in per_entry.items():
        digest = _digest_if_unchanged(files[entry_id])
        if digest is None:
            continue
        slot = record["entries"].setdefault(entry_id, {})
        if not isinstance(slot, dict):  # a damaged record: this entry starts afresh
            slot = record["entries"][entry_id] = {}
        for device, phases in devices.items():
            outcomes = {p: r["outcome"] for p, r in phases.items()}
            slot[device] = {
                "outcome": "passed"
                if all(v == "passed" for v in outcomes.values())
                else "failed"
                if "failed" in outcomes.values()
                else "skipped",
                "phases": outcomes,
                "details": {p: r["detail"] for p, r in phases.items() if "detail" in r},
                "torch": env["torch"],
                "build": env["build"],
                "python": env["python"],
                "device_name": (env["gpu"] or device) if device == "cuda" else device,
                "date": now,
                "digest": digest,
            }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, target)
    return target
