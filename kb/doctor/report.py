"""Findings -> text, JSON or SARIF 2.1.0 (for code-scanning tools)."""

from __future__ import annotations

from pathlib import Path

from kb.doctor.engine import FileError, Finding
from kb.doctor.registry import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/kb-torch/kb#kb-doctor"


def as_json(findings: list[Finding], errors: list[FileError], files: int) -> dict:
    return {
        "findings": [f.as_dict() for f in findings],
        "errors": [{"path": e.path, "message": e.message} for e in errors],
        "files": files,
    }


def _uri(path: str) -> str:
    p = Path(path)
    return p.as_posix() if not p.is_absolute() else p.as_uri()


def as_sarif(findings: list[Finding], errors: list[FileError], rules: list[Rule]) -> dict:
    from kb.doctor.docs import explain

    index = {r.code: i for i, r in enumerate(rules)}
    driver = {
        "name": "kb doctor",
        "informationUri": INFO_URI,
        "rules": [
            {
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": " ".join(r.why.split())},
                "help": {"text": explain(r), "markdown": explain(r)},
                "properties": {"entry": r.entry},
                "defaultConfiguration": {"level": "warning"},
            }
            for r in rules
        ],
    }
    results = []
    for f in findings:
        result = {
            "ruleId": f.code,
            "level": "warning",
            "message": {"text": f"{f.message} (kb show {f.entry})"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.path)},
                        "region": {
                            "startLine": f.line,
                            "startColumn": f.col,
                            "endLine": max(f.end_line, f.line),
                            "endColumn": f.end_col
                            if f.end_line > f.line
                            else max(f.end_col, f.col),
                        },
                    }
                }
            ],
            "properties": {"entry": f.entry, "location": f.where},
        }
        if f.code in index:
            result["ruleIndex"] = index[f.code]
        results.append(result)
    notifications = [
        {
            "level": "error",
            "message": {"text": e.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(e.path)}}}],
        }
        for e in errors
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "results": results,
                "invocations": [
                    {
                        "executionSuccessful": not errors,
                        "toolExecutionNotifications": notifications,
                    }
                ],
            }
        ],
    }
