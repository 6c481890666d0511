"""What an entry's proof rests on, and what the verification records say about it.

Two records hold proof: the verification matrix (`kb/verified.json`, written by
`scripts/verify_matrix.py`: one run of `pytest entries/` per torch release, build and
Python version, shipped with kb) and this machine's last `pytest entries/` run (the local
record, `kb path record`). Each result is stored with the entry's proof digest at the time
it ran; a result made for another version of an entry proves nothing about the current
one, so it is reported as stale, never as proven.

The digest covers only what the proof depends on (kind, exception, message templates,
torch range, devices and preconditions, and every runnable block), so editing prose or
adding other front-matter keys leaves the record valid. No torch here: `kb show` and
`kb stats` use it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from kb import paths

# Front-matter keys that decide what the harness runs and accepts.
PROOF_KEYS = (
    "kind",
    "exception",
    "errors",
    "older_errors",
    "cause_errors",
    "torch",
    "fixed_in",
    "devices",
    "needs",
    "without_cuda",
    "requires",
    "found_in",
    "has_condition",
)


def digest_of(meta: dict, blocks: list[tuple[str, str]]) -> str:
    """The proof digest from front matter and the runnable blocks, as (role, code) pairs."""
    # Empty values are left out, so writing `older_errors: []` changes nothing.
    relevant = {k: meta[k] for k in PROOF_KEYS if meta.get(k) not in (None, "", [], False)}
    payload = json.dumps(
        {"meta": relevant, "blocks": blocks}, sort_keys=True, ensure_ascii=False, default=str
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def proof_digest(path: str | os.PathLike) -> str | None:
    """The proof digest of an entry file; None when it cannot be read as an entry."""
    from kb.parse import ParseError, parse_document

    try:
        text = Path(path).read_text(encoding="utf-8")
        doc = parse_document(text, str(path))
    except (OSError, UnicodeDecodeError, ParseError):
        return None
    blocks = []
    for fence in doc.fences:
        words = fence.info.split()
        # Every `python <role>` fence runs (repro, fix, check and any later kinds); a
        # plain `python` fence is an illustration in the prose.
        if len(words) >= 2 and words[0] == "python":
            blocks.append((" ".join(words[1:]), fence.code))
    return digest_of(doc.meta, blocks)


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def matrix_record() -> dict:
    """The verification matrix's record: {"environments": {...}, "entries": {...}}."""
    data = _read_json(paths.matrix_record_path())
    if not isinstance(data.get("environments"), dict) or not isinstance(data.get("entries"), dict):
        return {"environments": {}, "entries": {}}
    return data


def local_record() -> dict:
    """This machine's last `pytest entries/` run: {entry id: {device: result}}."""
    entries = _read_json(paths.record_path()).get("entries")
    return entries if isinstance(entries, dict) else {}


def _result(env: dict, device: str, phases: dict, source: str) -> dict:
    """One environment x device: proven, failed or skipped, and why."""
    base = {
        "torch": env.get("torch"),
        "python": env.get("python"),
        "build": env.get("build"),
        "device": device,
        "source": source,
    }
    outcomes = {phase: str(v.get("outcome")) for phase, v in phases.items()}
    failed = [p for p, o in outcomes.items() if o == "failed"]
    if failed:
        phase = failed[0]
        return {**base, "status": "failed", "phase": phase, "why": phases[phase].get("detail", "")}
    if outcomes and all(o == "passed" for o in outcomes.values()):
        return {**base, "status": "proven"}
    skipped = [p for p, o in outcomes.items() if o == "skipped"]
    phase = skipped[0] if skipped else next(iter(outcomes), "")
    why = phases.get(phase, {}).get("detail", "") if phase else "not run"
    return {**base, "status": "skipped", "phase": phase, "why": why}


def verification(entry_id: str, digest: str | None, matrix: dict, local: dict) -> dict:
    """What the records prove about one entry as it is now (the `verified` field).

    `status` is `failed` when a current result failed, `proven` when at least one passed
    and none failed, `skipped` when every current result was skipped, `stale` when results
    exist only for earlier versions of the entry, `unverified` when there are none.
    `proven`, `failed` and `skipped` list the current results (torch, python, build,
    device, source, and `phase`/`why` where not proven); `stale` lists the environments
    whose results no longer apply.
    """
    results: list[dict] = []
    stale: list[dict] = []
    environments = matrix.get("environments", {})
    for env_name, by_device in sorted((matrix.get("entries", {}).get(entry_id) or {}).items()):
        env = environments.get(env_name, {})
        current = digest is not None and by_device.get("digest") == digest
        for device in ("cpu", "cuda"):
            phases = by_device.get(device)
            if not isinstance(phases, dict):
                continue
            result = _result(env, device, phases, "matrix")
            if current:
                results.append(result)
            else:
                stale.append({k: result[k] for k in ("torch", "python", "build", "device")})
    for device, rec in sorted((local.get(entry_id) or {}).items()):
        if not isinstance(rec, dict):
            continue
        env = {"torch": rec.get("torch"), "python": rec.get("python"), "build": rec.get("build")}
        phases = {
            p: {"outcome": o, "detail": (rec.get("details") or {}).get(p, "")}
            for p, o in (rec.get("phases") or {}).items()
        }
        result = {**_result(env, device, phases, "local"), "date": rec.get("date")}
        if digest is not None and rec.get("digest") == digest:
            results.append(result)
        else:
            stale.append({k: result.get(k) for k in ("torch", "python", "build", "device")})
    proven = [r for r in results if r["status"] == "proven"]
    failed = [r for r in results if r["status"] == "failed"]
    skipped = [r for r in results if r["status"] == "skipped"]
    if failed:
        status = "failed"
    elif proven:
        status = "proven"
    elif skipped:
        status = "skipped"  # nowhere it ran could prove it (a GPU-only entry without a GPU)
    elif stale:
        status = "stale"
    else:
        status = "unverified"
    return {
        "status": status,
        "proven": proven,
        "failed": failed,
        "skipped": skipped,
        "stale": stale,
    }


def verifications(entries: list[tuple[str, str]]) -> dict[str, dict]:
    """`verification` for several (id, path) pairs, reading each record once."""
    matrix, local = matrix_record(), local_record()
    return {
        entry_id: verification(entry_id, proof_digest(path), matrix, local)
        for entry_id, path in entries
    }


def _version_key(version: str | None) -> tuple:
    base = (version or "").split("+")[0]
    return tuple(int(p) if p.isdigit() else 0 for p in base.split("."))


def _why(result: dict, entry_id: str) -> str:
    """A reason without the parts that name this run's versions, so equal reasons group."""
    why = (result.get("why") or "").splitlines()[0] if result.get("why") else "not run"
    why = why.removeprefix(f"{entry_id} ")
    for cut in ("; this is", " (torch "):
        why = why.split(cut)[0]
    return why


def _runs(results: list[dict]) -> str:
    """`torch 2.0.1, 2.4.1 (cuda builds), 2.13.0 (cpu build); Python 3.11, 3.13`."""
    versions = sorted({r["torch"] for r in results if r.get("torch")}, key=_version_key)
    builds = {("cpu" if r.get("build") == "cpu" else "cuda") for r in results if r.get("build")}
    pythons = sorted(
        {".".join(str(r["python"]).split(".")[:2]) for r in results if r.get("python")}
    )
    text = "torch " + ", ".join(v.split("+")[0] for v in versions) if versions else "torch ?"
    if builds:
        plural = "s" if len(versions) > 1 else ""
        text += " (" + " and ".join(f"{b} build{plural}" for b in sorted(builds)) + ")"
    if pythons:
        text += "; Python " + ", ".join(pythons)
    return text


def verification_lines(verified: dict, entry_id: str = "") -> list[str]:
    """What `kb show` prints about an entry's proof, a line per kind of outcome."""
    if not verified or verified.get("status") == "unverified":
        return ["not verified yet (run `pytest entries/` or scripts/verify_matrix.py)"]
    lines = []
    for device in ("cpu", "cuda"):
        proven = [r for r in verified.get("proven", []) if r["device"] == device]
        if proven:
            lines.append(f"proven on {device}: {_runs(proven)}")
    for r in verified.get("failed", []):
        why = (r.get("why") or "").splitlines()[0][:200]
        lines.append(
            f"FAILED on {r['device']}: torch {r.get('torch')}, Python {r.get('python')}, "
            f"{r.get('phase')}: {why}"
        )
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in verified.get("skipped", []):
        groups.setdefault((r["device"], _why(r, entry_id)), []).append(r)
    for (device, why), results in sorted(groups.items()):
        lines.append(f"skipped on {device}, {_runs(results)}: {why}")
    if verified.get("stale"):
        n = len(verified["stale"])
        lines.append(
            f"stale: {n} result{'s' if n > 1 else ''} for an earlier version of this entry, "
            "not counted as proof (rerun scripts/verify_matrix.py or pytest entries/)"
        )
    return lines
