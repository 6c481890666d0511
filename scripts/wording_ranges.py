"""Measure on which torch releases each of an entry's message templates was printed.

    python scripts/wording_ranges.py                 # every entry with older wordings
    python scripts/wording_ranges.py cat-sizes-mismatch linear-shape-mismatch
    python scripts/wording_ranges.py --write         # give plain older wordings their range

Reads the verification record (`kb/verified.json`, written by scripts/verify_matrix.py):
each passing repro stores the message torch raised or warned with. For every template of
an entry (`errors` and `older_errors`) it prints the releases whose message it matched and
the range an older wording should carry (`older_errors: [{text: ..., torch: "<2.2"}]`):
up to the first measured minor release that printed something else. A wording that no
measured release printed gets the range below the oldest measured release. Current
results only: a result made for an earlier version of the entry is left out. `--write`
turns each plain older wording with a measured range into `{text: ..., torch: ...}` in
the entry file, leaving every other line as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from kb.entries import load_entry  # noqa: E402
from kb.proof import proof_digest  # noqa: E402
from kb.templates import matches  # noqa: E402

PREFIXES = ("raised as documented: ", "warned as documented: ")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("+")[0].split("."))


def seen_messages(record: dict, entry_id: str, digest: str | None) -> dict[str, list[str]]:
    """{torch version: [the messages its passing repros printed]}, current results only."""
    envs = record.get("environments", {})
    out: dict[str, list[str]] = {}
    for name, by_device in record.get("entries", {}).get(entry_id, {}).items():
        if by_device.get("digest") != digest or name not in envs:
            continue
        version = envs[name]["torch"].split("+")[0]
        for device, phases in by_device.items():
            if device == "digest":
                continue
            repro = phases.get("repro", {})
            detail = repro.get("detail", "")
            if repro.get("outcome") == "passed" and detail.startswith(PREFIXES):
                # "raised as documented: RuntimeError: message" -> the message
                message = detail.split(": ", 2)[-1]
                out.setdefault(version, []).append(message)
    return out


def measured_range(hits: list[str], versions: list[str]) -> str | None:
    """The range an older wording printed on `hits` (of all measured `versions`) should
    carry: "" when the newest release still prints it; None when it cannot be said (no
    release measured, or printed, then not, then again)."""
    if not versions:
        return None
    ordered = sorted(versions, key=_version_key)

    def minor(version: str) -> str:
        return ".".join(version.split(".")[:2])

    if not hits:
        return f"<{minor(ordered[0])}"
    at = sorted(ordered.index(v) for v in hits)
    if at != list(range(at[0], at[-1] + 1)):
        return None
    bounds = [f">={minor(ordered[at[0]])}"] if at[0] > 0 else []
    if at[-1] + 1 < len(ordered):
        bounds.append(f"<{minor(ordered[at[-1] + 1])}")
    return ",".join(bounds)


def older_ranges(entry, seen: dict[str, list[str]]) -> dict[str, str | None]:
    """{older wording: its measured range, "" for none, None when it cannot be said}."""
    versions = sorted(seen, key=_version_key)
    out = {}
    for template in entry.older_errors:
        hits = [v for v in versions if any(matches(template, m) for m in seen[v])]
        out[template] = measured_range(hits, versions)
    return out


def write_ranges(entry_path: Path, ranges: dict[str, str | None]) -> int:
    """Rewrite plain `older_errors` items that have a measured range; how many changed."""
    lines = entry_path.read_text(encoding="utf-8").split("\n")
    try:
        start = lines.index("older_errors:") + 1
    except ValueError:
        return 0
    changed = 0
    i = start
    while i < len(lines) and lines[i].startswith("  - "):
        if i + 1 < len(lines) and lines[i + 1].startswith("    "):
            break  # a mapping or a scalar over several lines: leave the rest alone
        scalar = lines[i][4:]
        try:
            text = yaml.safe_load(scalar)
        except yaml.YAMLError:
            text = None
        spec = ranges.get(text) if isinstance(text, str) else None
        if spec:
            lines[i : i + 1] = [f"  - text: {scalar}", f'    torch: "{spec}"']
            changed += 1
            i += 1
        i += 1
    if changed:
        entry_path.write_text("\n".join(lines), encoding="utf-8")
    return changed


def report(entry_path: Path, record: dict) -> list[str]:
    entry = load_entry(entry_path)
    seen = seen_messages(record, entry.id, proof_digest(entry_path))
    versions = sorted(seen, key=_version_key)
    lines = [f"{entry.id}: measured on {', '.join(versions) or 'no release'}"]
    for kind, templates in (("errors", entry.errors), ("older", entry.older_errors)):
        for template in templates:
            hits = [v for v in versions if any(matches(template, m) for m in seen[v])]
            line = f"  {kind}: {template[:70]!r} printed by {', '.join(hits) or 'none'}"
            if kind == "older":
                spec = measured_range(hits, versions)
                line += f" -> torch {spec!r}" if spec is not None else " -> (no range measured)"
            lines.append(line)
    unmatched = [
        v
        for v in versions
        if not any(matches(t, m) for t in entry.errors + entry.older_errors for m in seen[v])
    ]
    if unmatched:
        lines.append(f"  printed by no template: {', '.join(unmatched)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="entry ids (default: those with older wordings)")
    parser.add_argument("--record", type=Path, default=ROOT / "kb" / "verified.json")
    parser.add_argument(
        "--write", action="store_true", help="write the measured ranges into the entry files"
    )
    args = parser.parse_args(argv)
    record = json.loads(args.record.read_text(encoding="utf-8"))
    paths = [ROOT / "entries" / f"{i}.md" for i in args.ids] or sorted(
        p for p in (ROOT / "entries").glob("*.md") if p.name != "README.md"
    )
    for path in paths:
        if not path.exists():
            print(f"wording_ranges: no entry {path.stem}", file=sys.stderr)
            return 1
        if not args.ids and not load_entry(path).older_errors:
            continue
        print("\n".join(report(path, record)))
        if args.write:
            entry = load_entry(path)
            seen = seen_messages(record, entry.id, proof_digest(path))
            changed = write_ranges(path, older_ranges(entry, seen))
            if changed:
                print(f"  wrote {changed} range(s) into {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
