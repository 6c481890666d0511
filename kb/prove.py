"""Run one entry's proof (repro, then fix, per device) in a separate process.

The TUI, `kb verify ID` and any other front end call `Proof`: torch is heavy, and entry
code may crash the interpreter or hang in C code, so it runs in a child Python
(`python -m kb.prove ENTRY_FILE ...`) that judges each phase with kb.verify and prints one
JSON line per outcome as soon as it has it. The parent yields those outcomes as they
arrive, can cancel the run at any time, and kills the child at a time limit.

This module imports no torch; only the child does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

DEVICES = ("cpu", "cuda")
PHASES = ("repro", "fix")
ENV_PHASES = ("messages", "diagnose")  # an environment entry's (kb.model.ENV_PHASES)
# Importing torch alone can take several seconds on a cold disk.
STARTUP_ALLOWANCE = 60.0
DEFAULT_BLOCK_TIMEOUT = 60.0


class Outcome:
    """One phase of one entry on one device, as judged by kb.verify in the child."""

    __slots__ = ("device", "phase", "status", "summary", "details", "seconds")

    def __init__(
        self,
        device: str,
        phase: str,
        status: str,
        summary: str,
        details: list[str] | None = None,
        seconds: float = 0.0,
    ) -> None:
        self.device = device
        self.phase = phase
        # "passed" (the phase behaved as documented), "failed", "skipped" (cannot run here,
        # the summary says why), "error" (the proof itself broke: crash, time limit)
        self.status = status
        self.summary = summary
        self.details = details or []
        self.seconds = seconds

    def line(self) -> str:
        """`repro on cpu: raised as documented: RuntimeError: ... (1.2 s)`"""
        if self.status == "skipped":
            return f"{self.phase} on {self.device}: skipped: {self.summary}"
        mark = "" if self.status == "passed" else "FAILED: "
        return f"{self.phase} on {self.device}: {mark}{self.summary} ({self.seconds:.1f} s)"

    def as_dict(self) -> dict:
        return {
            "device": self.device,
            "phase": self.phase,
            "status": self.status,
            "summary": self.summary,
            "details": self.details,
            "seconds": round(self.seconds, 3),
        }

    def __repr__(self) -> str:
        return f"Outcome({self.phase!r}, {self.device!r}, {self.status!r}, {self.summary!r})"


class ProofError(Exception):
    """The proof cannot start (unknown entry, unreadable file); one line for the user."""


class Proof:
    """One entry's proof run. Iterate it for outcomes; `cancel()` from any thread.

    >>> for outcome in Proof(path, devices=["cpu"]):
    ...     print(outcome.line())
    """

    def __init__(
        self,
        path: str,
        entry_id: str = "",
        devices: list[str] | tuple[str, ...] = DEVICES,
        time_limit: float | None = None,
        block_timeout: float | None = None,
        planned: int | None = None,
    ) -> None:
        unknown = [d for d in devices if d not in DEVICES]
        if unknown:
            raise ProofError(f"unknown device {unknown[0]!r} (use {' or '.join(DEVICES)})")
        self.path = os.fspath(path)
        self.entry_id = entry_id or os.path.splitext(os.path.basename(self.path))[0]
        self.devices = tuple(devices)
        self.block_timeout = block_timeout
        per_block = block_timeout or DEFAULT_BLOCK_TIMEOUT
        # How many outcomes the run reports (for a progress bar); proof_for() counts the
        # entry's band-aids, or its environment phases.
        self.planned = planned or len(PHASES) * len(self.devices)
        # Each phase may run its block and a check block; the child limits each block,
        # this is the backstop for code that hangs where a signal cannot reach it.
        self.time_limit = time_limit or (STARTUP_ALLOWANCE + per_block * 2 * self.planned)
        self.cancelled = False
        self.timed_out = False
        self.started = 0.0
        self.elapsed = 0.0
        self.torch_version = ""
        self.outcomes: list[Outcome] = []
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def command(self) -> list[str]:
        argv = [sys.executable, "-m", "kb.prove", self.path]
        for device in self.devices:
            argv += ["--device", device]
        if self.block_timeout:
            argv += ["--timeout", str(self.block_timeout)]
        return argv

    def __iter__(self) -> Iterator[Outcome]:
        self.started = time.monotonic()
        env = dict(os.environ)
        # The child's stdout is the outcome channel: unbuffered, so each line arrives
        # the moment it is judged.
        env["PYTHONUNBUFFERED"] = "1"
        with self._lock:
            if self.cancelled:
                return
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                # Its own process group, so a cancel also ends DataLoader workers it forked.
                start_new_session=os.name == "posix",
            )
        proc = self._proc
        stderr_tail: list[str] = []
        reader = threading.Thread(target=_drain, args=(proc.stderr, stderr_tail), daemon=True)
        reader.start()
        watchdog = threading.Timer(self.time_limit, self._time_up)
        watchdog.daemon = True
        watchdog.start()
        seen: set[tuple[str, str]] = set()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                message = _parse(raw)
                if message is None:
                    continue
                if message.get("event") == "start":
                    self.torch_version = str(message.get("torch", ""))
                    continue
                outcome = Outcome(
                    str(message.get("device", "")),
                    str(message.get("phase", "")),
                    str(message.get("status", "error")),
                    str(message.get("summary", "")),
                    [str(d) for d in message.get("details") or []],
                    float(message.get("seconds") or 0.0),
                )
                seen.add((outcome.device, outcome.phase))
                self.outcomes.append(outcome)
                yield outcome
            proc.wait()
            reader.join(timeout=2)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                self._kill()
            self.elapsed = time.monotonic() - self.started
        if self.cancelled:
            return
        phases = ENV_PHASES if any(p in ENV_PHASES for _, p in seen) else PHASES
        devices = ("cpu",) if phases == ENV_PHASES else self.devices
        missing = [(d, p) for d in devices for p in phases if (d, p) not in seen]
        if not missing:
            return
        if self.timed_out:
            why = f"did not finish within the time limit of {self.time_limit:g} s"
        elif proc.returncode:
            why = f"the proof process ended with {_exit_reason(proc.returncode)}"
        else:
            why = "the proof process ended without judging this phase"
        detail = [line for line in stderr_tail[-6:] if line.strip()]
        for device, phase in missing:
            outcome = Outcome(device, phase, "error", why, detail, 0.0)
            self.outcomes.append(outcome)
            yield outcome

    @property
    def ok(self) -> bool:
        """Every phase that ran passed, and at least one ran."""
        ran = [o for o in self.outcomes if o.status != "skipped"]
        return bool(ran) and all(o.status == "passed" for o in ran) and not self.cancelled

    def cancel(self) -> None:
        """Stop the run now; the iteration ends without further outcomes."""
        with self._lock:
            self.cancelled = True
            if self._proc is not None and self._proc.poll() is None:
                self._kill()

    def _time_up(self) -> None:
        self.timed_out = True
        self._kill()

    def _kill(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            if os.name == "posix":
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except (ProcessLookupError, PermissionError):
            pass


def proof_for(
    entry_id: str,
    devices: list[str] | tuple[str, ...] = DEVICES,
    time_limit: float | None = None,
) -> Proof:
    """A Proof of a catalogue entry by id; ProofError if there is no such entry."""
    from kb.search import get_entry, suggest_ids

    entry, _ = get_entry(entry_id)
    if entry is None:
        close = suggest_ids(entry_id)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ProofError(f"no entry '{entry_id}'{hint}")
    return Proof(entry["path"], entry_id, devices, time_limit, planned=planned(entry, devices))


def planned(entry: dict, devices: list[str] | tuple[str, ...] = DEVICES) -> int:
    """How many outcomes a proof of this entry (the `kb show --json` shape) reports."""
    if entry["kind"] == "environment":
        return len(ENV_PHASES)
    return len(devices) * (len(PHASES) + len(entry["bandaids"]))


def summarize(outcomes: list[Outcome], elapsed: float) -> str:
    """One line: `repro on cpu: ... · fix on cpu: ... · 1.8 s`."""
    parts = [o.line() for o in outcomes]
    return " · ".join([*parts, f"{elapsed:.1f} s"])


def _drain(stream, tail: list[str]) -> None:
    # stderr must be read as it comes, or a chatty child blocks on a full pipe.
    for raw in stream:
        tail.append(raw.decode("utf-8", "replace").rstrip("\n"))
        del tail[:-50]


def _parse(raw: bytes) -> dict | None:
    try:
        value = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return None  # entry code printing to stdout; its own output is not an outcome
    return value if isinstance(value, dict) and value.get("kb_prove") == 1 else None


def _exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


# -- the child ---------------------------------------------------------------------------


def _emit(channel, **fields: object) -> None:
    channel.write(json.dumps({"kb_prove": 1, **fields}) + "\n")
    channel.flush()


def child_main(argv: list[str]) -> int:
    """Judge each device and phase of one entry file, printing outcomes as JSON lines."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m kb.prove")
    parser.add_argument("path")
    parser.add_argument("--device", action="append", choices=DEVICES)
    parser.add_argument("--timeout", type=float)
    args = parser.parse_args(argv)
    # Entry code may print; keep the real stdout for outcomes and send prints to stderr.
    # (at the descriptor level too, for output written by C code).
    sys.stdout.flush()
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)

    # torch.distributions too: the harness loads it on its first block, and those seconds
    # would otherwise be counted as the repro's.
    import torch
    import torch.distributions  # noqa: F401

    from kb import verify
    from kb.entries import EntryError, load_entry

    _emit(channel, event="start", torch=torch.__version__)
    try:
        entry = load_entry(Path(args.path))
    except EntryError as exc:
        for device in args.device or DEVICES:
            for phase in PHASES:
                _emit(
                    channel,
                    device=device,
                    phase=phase,
                    status="error",
                    summary="the entry does not follow the format (see `kb lint`)",
                    details=[str(p) for p in exc.problems][:5],
                )
        return 1
    if args.timeout:
        import dataclasses

        entry = dataclasses.replace(entry, timeout=args.timeout)
    # The band-aids too: the check must reject each tempting wrong fix, as it rejects the repro.
    judges = [(phase, lambda d, p=phase: verify.verify(entry, p, d)) for phase in PHASES] + [
        (verify.bandaid_phase(n), lambda d, n=n: verify.verify_bandaid(entry, n, d))
        for n in range(1, len(entry.bandaids) + 1)
    ]
    if entry.kind == "environment":  # proven once per machine, recorded under cpu
        judges = [(p, lambda d, p=p: verify.verify(entry, p, "cpu")) for p in ENV_PHASES]
        args.device = ["cpu"]
    for device in args.device or DEVICES:
        for phase, judge in judges:
            start = time.monotonic()
            try:
                verdict = judge(device)
            except verify.Skip as skip:
                _emit(channel, device=device, phase=phase, status="skipped", summary=str(skip))
                continue
            _emit(
                channel,
                device=device,
                phase=phase,
                status="passed" if verdict.ok else "failed",
                summary=verdict.summary,
                details=list(verdict.details),
                seconds=time.monotonic() - start,
            )
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
