"""`kb doctor`: the catalogue's mistakes found in source code, statically.

Python files and notebooks are read with `ast`, never run, never imported, and torch is
not imported either. Each rule names the catalogue entry that explains the mistake, and
that entry's repro block is the proof that the rule fires (its fix block, that it does
not): see `kb.pytest_plugin`.
"""

from kb.doctor.engine import FileError, Finding, check_paths, check_source, check_text, select_rules
from kb.doctor.registry import Rule, all_rules

__all__ = [
    "FileError",
    "Finding",
    "Rule",
    "all_rules",
    "check_paths",
    "check_source",
    "check_text",
    "select_rules",
]
