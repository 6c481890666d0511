"""One `kb doctor` run: settings, files, rules, findings. The CLI only prints the result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kb.doctor.config import Config, find_config, load_config
from kb.doctor.engine import FileError, Finding, check_paths, select_rules
from kb.doctor.registry import Rule
from kb.doctor.sources import collect_files


class DoctorError(Exception):
    """Bad options or settings, said in one line."""


@dataclass
class Result:
    findings: list[Finding]
    errors: list[FileError]
    files: int
    rules: list[Rule]
    config: Config


def split_codes(values: list[str] | None) -> list[str]:
    """`--select KBD001,KBD002 --select KBD010` -> ['KBD001', 'KBD002', 'KBD010']."""
    return [c.strip() for v in values or [] for c in v.split(",") if c.strip()]


def resolve_rules(select: list[str] | None, ignore: list[str] | None, config: Config) -> list[Rule]:
    chosen = split_codes(select) or config.select
    dropped = config.ignore + split_codes(ignore)
    try:
        return select_rules(chosen, dropped)
    except ValueError as exc:
        where = f" (in {config.path})" if config.path and not select else ""
        raise DoctorError(f"{exc}{where}") from None


def settings(config_path: str | None) -> Config:
    from kb.doctor.config import ConfigError

    try:
        path = Path(config_path) if config_path else find_config(Path.cwd())
        if config_path and not path.is_file():
            raise DoctorError(f"{config_path}: no such file")
        return load_config(path)
    except ConfigError as exc:
        raise DoctorError(str(exc)) from None


def run(
    targets: list[str],
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    config_path: str | None = None,
) -> Result:
    config = settings(config_path)
    rules = resolve_rules(select, ignore, config)
    files, missing = collect_files(targets or ["."], config.exclude)
    findings, errors, count = check_paths(files, rules)
    errors = [FileError(name, problem) for name, problem in missing] + errors
    return Result(findings, errors, count, rules, config)
