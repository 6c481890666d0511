"""Run an entry's repro and fix on a device and judge them: the proof behind every entry.

The rules, for each kind:

* error: the repro raises the documented exception with a documented message; the fix
  raises nothing and passes the health check.
* warning: the repro emits the documented warning; the fix emits none of the documented
  warnings and passes the health check.
* silent, guide: the repro raises nothing but fails the health check; the fix raises
  nothing and passes it.

The health check is the entry's `check` block if it has one, else gradient flow: every
trainable parameter and leaf tensor the code left in its namespace (directly, inside a
module or optimizer, or one level inside a list or dict) has a finite, non-zero `.grad`.

Pytest is not imported here, so other tools (a crash hook, `kb verify`) can reuse it.
"""

from __future__ import annotations

import contextlib
import linecache
import random
import signal
import sys
import threading
import traceback
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from kb.model import CodeBlock, Entry
from kb.templates import first_line, matches
from kb.wording import older_in_range

MODULE_NAME = "__kb_entry__"
DEFAULT_TIMEOUT = 60.0


class BlockTimeout(Exception):
    """A block ran past its time limit."""


class Skip(Exception):
    """This entry cannot be verified here (device, torch version); the reason says why."""


@dataclass
class BlockRun:
    """What running one block produced."""

    error: BaseException | None
    traceback: str
    warnings: list[warnings.WarningMessage]
    namespace: dict
    frames: list[str] = field(default_factory=list)  # the entry's own lines in the traceback


@dataclass
class Verdict:
    """The judgement on one phase of one entry on one device."""

    ok: bool
    entry: Entry
    phase: str
    device: str
    summary: str
    details: list[str] = field(default_factory=list)
    block: CodeBlock | None = None

    def report(self) -> str:
        where = f"{self.entry.path}:{self.block.line if self.block else self.entry.line}"
        lines = [f"{where}: {self.phase} on {self.device}: {self.summary}"]
        lines += ["  " + d for d in self.details]
        return "\n".join(lines)


def cuda_skip_reason() -> str | None:
    """Why the cuda variants cannot run here, or None when they can."""
    if torch.cuda.is_available():
        return None
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "no CUDA (CPU-only build)"
    return f"no CUDA device available (torch {torch.__version__}, built with {build})"


def skip_reason(entry: Entry, phase: str, device: str, any_torch: bool = False) -> str | None:
    """Why this entry/phase/device is skipped here, or None to run it.

    `any_torch` ignores the entry's torch range and fixed_in: that is how the verification
    matrix measures on which releases a failure really exists.
    """
    if device not in entry.devices:
        return f"{entry.id} applies to {', '.join(entry.devices)} only"
    reason = None if any_torch else version_skip_reason(entry, phase)
    if reason:
        return reason
    if entry.without_cuda and torch.cuda.is_available():
        return f"{entry.id} only fails where CUDA is unavailable, and this machine has CUDA"
    if entry.needs:
        from kb.environment import unmet

        reason = unmet(entry.needs)
        if reason:
            return f"{entry.id} {reason}"
    import importlib.util

    missing = [m for m in entry.requires if importlib.util.find_spec(m) is None]
    if missing:
        if len(missing) == 1:
            return f"{entry.id} needs {missing[0]}, which is not installed"
        return (
            f"{entry.id} needs {', '.join(missing[:-1])} and {missing[-1]}, which are not installed"
        )
    if device == "cuda":
        return cuda_skip_reason()
    return None


def version_skip_reason(entry: Entry, phase: str) -> str | None:
    """Why the installed torch is outside the entry's range (or past its fix), or None."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    version = Version(torch.__version__.split("+")[0])
    if not SpecifierSet(entry.torch).contains(version, prereleases=True):
        return f"{entry.id} applies to torch {entry.torch}; this is {version}"
    if phase == "repro" and entry.fixed_in and version >= Version(entry.fixed_in):
        return f"{entry.id} was fixed in torch {entry.fixed_in}; this is {version}"
    return None


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable or seconds <= 0:
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise BlockTimeout(f"timed out after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _default_device() -> torch.device | None:
    """The device new tensors go to; None before torch 2.0, which cannot change it."""
    get = getattr(torch, "get_default_device", None)  # torch 2.3+
    if get is not None:
        return get()
    if not hasattr(torch, "set_default_device"):
        return None
    # torch 2.0-2.2: set_default_device keeps its DeviceContext in this module global.
    context = getattr(torch, "_GLOBAL_DEVICE_CONTEXT", None)
    return torch.device(context.device) if context is not None else torch.device("cpu")


def _deterministic_mode() -> tuple[bool, bool | None]:
    """Deterministic algorithms on, and warn-only (None before torch 1.11 had it)."""
    warn_only = getattr(torch, "is_deterministic_algorithms_warn_only_enabled", None)
    return (
        torch.are_deterministic_algorithms_enabled(),
        warn_only() if warn_only is not None else None,
    )


@contextlib.contextmanager
def _isolated_torch_state() -> Iterator[None]:
    """Undo global switches a block may flip, so one entry cannot change the next."""
    grad = torch.is_grad_enabled()
    anomaly = torch.is_anomaly_enabled()
    # torch before 1.13 has no check_nan switch to read; its anomaly mode always checks.
    nan_switch = getattr(torch, "is_anomaly_check_nan_enabled", None)
    anomaly_nan = nan_switch() if nan_switch is not None else None
    dtype = torch.get_default_dtype()
    default_device = _default_device()
    deterministic = _deterministic_mode()
    # torch.compile's first call switches distribution argument checks off process-wide.
    validate = torch.distributions.Distribution._validate_args
    tf32 = _tf32_switches()
    try:
        yield
    finally:
        if _tf32_switches() != tf32:
            # Only when a block changed them: on 2.10+ setting allow_tf32 also rewrites
            # the newer fp32_precision switches, which a restore must not touch otherwise.
            cudnn_tf32, matmul_tf32, precision = tf32
            torch.backends.cudnn.allow_tf32 = cudnn_tf32
            torch.backends.cuda.matmul.allow_tf32 = matmul_tf32
            torch.set_float32_matmul_precision(precision)
        torch.set_grad_enabled(grad)
        if anomaly_nan is None:
            torch.autograd.set_detect_anomaly(anomaly)
        else:
            torch.autograd.set_detect_anomaly(anomaly, check_nan=anomaly_nan)
        torch.set_default_dtype(dtype)
        if _default_device() != default_device:
            # None clears the device context; setting "cpu" would install one for good.
            is_plain_cpu = default_device == torch.device("cpu")
            torch.set_default_device(None if is_plain_cpu else default_device)
        if _deterministic_mode() != deterministic:
            # Only when a block changed it: setting it imports torch._inductor (seconds).
            enabled, warn_only = deterministic
            if warn_only is None:
                torch.use_deterministic_algorithms(enabled)
            else:
                torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.distributions.Distribution.set_default_validate_args(validate)


def _tf32_switches() -> tuple[bool, bool, str]:
    """Whether convolutions and matmuls may round float32 to TF32 (Ampere and newer)."""
    return (
        torch.backends.cudnn.allow_tf32,
        torch.backends.cuda.matmul.allow_tf32,
        torch.get_float32_matmul_precision(),
    )


def _seed() -> None:
    torch.manual_seed(0)
    random.seed(0)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(0)


def block_filename(path: str, role: str) -> str:
    """The name a block's code runs under: `entries/x.md::repro`."""
    return f"{path}::{role}"


def new_namespace(device: str) -> types.ModuleType:
    """A fresh module for a block: `device` bound, importable by name so pickling works."""
    module = types.ModuleType(MODULE_NAME)
    module.__dict__["device"] = device
    return module


def run_block(
    block: CodeBlock, path: str, module: types.ModuleType, timeout: float = DEFAULT_TIMEOUT
) -> BlockRun:
    """Execute one block inside `module`, recording its exception and warnings."""
    # Padding with newlines keeps the Markdown file's own line numbers. The code gets a
    # file name of its own, backed by linecache, because tools that read a frame's source
    # (tracebacks, inspect, torch.compile's tracer) must find Python there, not Markdown.
    source = "\n" * (block.line - 1) + block.code
    filename = block_filename(path, block.role)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = compile(source, filename, "exec")
    error: BaseException | None = None
    tb = ""
    frames: list[str] = []
    previous = sys.modules.get(MODULE_NAME)
    sys.modules[MODULE_NAME] = module
    try:
        with warnings.catch_warnings(record=True) as caught, _isolated_torch_state():
            warnings.simplefilter("always")
            _seed()
            try:
                with _time_limit(timeout):
                    exec(code, module.__dict__)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - any failure is data here
                error = exc
                tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                frames_ = traceback.extract_tb(exc.__traceback__)
                # The traceback holds this frame, and so the block's objects, in a cycle:
                # a DataLoader kept alive that way shuts its workers down late and slowly.
                traceback.clear_frames(exc.__traceback__)
                frames = [
                    f"at {path}:{fs.lineno}: {(fs.line or '').strip()}"
                    for fs in frames_
                    if fs.filename == filename
                ]
    finally:
        if previous is None:
            sys.modules.pop(MODULE_NAME, None)
        else:
            sys.modules[MODULE_NAME] = previous
    return BlockRun(error, tb, list(caught), module.__dict__, frames)


def _names_in_mro(obj_type: type) -> set[str]:
    names = set()
    for klass in obj_type.__mro__:
        names.add(klass.__name__)
        names.add(f"{klass.__module__}.{klass.__qualname__}")
    return names


def exception_matches(entry: Entry, exc: BaseException) -> bool:
    """Is this the entry's exception: the documented class and one of its messages?

    Older wordings count too, where their torch range holds the running release, so an
    entry verifies on the older releases it covers with the wording each one prints; a
    new wording that is in neither list still fails, which is how a change is caught.
    """
    names = _names_in_mro(type(exc))
    if not any(cls in names and matches(t, str(exc)) for t, cls in accepted_here(entry)):
        return False
    if entry.cause_errors:
        return any(matches(t, str(link)) for t in entry.cause_errors for link in _chain(exc))
    return True


def _chain(exc: BaseException) -> list[BaseException]:
    """The exceptions this one was raised from or during, nearest first."""
    out: list[BaseException] = []
    link = exc.__cause__ or exc.__context__
    while link is not None and link not in out:
        out.append(link)
        link = link.__cause__ or link.__context__
    return out


def warning_matches(entry: Entry, caught: warnings.WarningMessage) -> bool:
    names = _names_in_mro(caught.category)
    return any(cls in names and matches(t, str(caught.message)) for t, cls in accepted_here(entry))


def accepted_here(entry: Entry) -> list[tuple[str, str | None]]:
    """(template, class raised with it) valid on the running torch: every current wording
    with the entry's exception; older wordings only in their range, with the class those
    releases raised (the entry's unless the wording names another)."""
    return [(t, entry.exception) for t in entry.errors] + older_in_range(entry, torch.__version__)


def templates_here(entry: Entry) -> list[str]:
    """The entry's templates valid on the running torch, each with the class it is raised
    as where that is not the entry's exception."""
    return [
        t if cls == entry.exception else f"{t}    (as {cls})" for t, cls in accepted_here(entry)
    ]


def trainable_tensors(namespace: dict) -> dict[str, torch.Tensor]:
    """Parameters and leaf tensors requiring grad that the code left reachable by name."""
    found: dict[int, tuple[str, torch.Tensor]] = {}

    def add(name: str, value: object, depth: int) -> None:
        if isinstance(value, torch.Tensor):
            if value.requires_grad and value.is_leaf:
                found.setdefault(id(value), (name, value))
        elif isinstance(value, torch.nn.Module):
            for pname, param in value.named_parameters():
                if param.requires_grad:
                    found.setdefault(id(param), (f"{name}.{pname}", param))
        elif isinstance(value, torch.optim.Optimizer):
            for g, group in enumerate(value.param_groups):
                for i, param in enumerate(group["params"]):
                    if param.requires_grad:
                        found.setdefault(id(param), (f"{name}.param_groups[{g}][{i}]", param))
        elif depth == 0 and isinstance(value, list | tuple):
            for i, item in enumerate(value):
                add(f"{name}[{i}]", item, depth + 1)
        elif depth == 0 and isinstance(value, dict):
            for key, item in value.items():
                add(f"{name}[{key!r}]", item, depth + 1)

    for name, value in list(namespace.items()):
        if not name.startswith("_"):
            add(name, value, 0)
    return {name: tensor for name, tensor in found.values()}


def gradient_problems(namespace: dict) -> list[str]:
    """The default health check; an empty list means gradients flow everywhere."""
    tensors = trainable_tensors(namespace)
    if not tensors:
        return [
            "the code left no trainable parameters or leaf tensors to check: "
            "give the entry a ```python check block"
        ]
    problems = []
    for name, tensor in tensors.items():
        grad = tensor.grad
        if grad is None:
            problems.append(f"{name}: .grad is None (no gradient reached it)")
            continue
        values = grad.detach().float()
        if not bool(torch.isfinite(values).all()):
            problems.append(f"{name}: .grad has NaN or inf")
        elif not bool((values != 0).any()):
            problems.append(f"{name}: .grad is all zeros")
    return problems


def run_check(entry: Entry, module: types.ModuleType, timeout: float) -> tuple[bool, list[str]]:
    """Run the health check in the block's namespace: (passed, what failed)."""
    block = entry.blocks.get("check")
    if block is None:
        problems = gradient_problems(module.__dict__)
        return (not problems, problems)
    run = run_block(block, entry.path, module, timeout)
    if run.error is None:
        return True, []
    if isinstance(run.error, AssertionError):
        detail = str(run.error) or "assertion failed"
        return False, [f"check failed: {detail}", *_frame_lines(run)]
    raise CheckBroken(run)


def healthy(entry: Entry, module: types.ModuleType) -> str:
    """What a passed health check showed, in the reader's words."""
    if "check" in entry.blocks:
        return "the entry's check passes"
    count = len(trainable_tensors(module.__dict__))
    return f"gradients flow ({count}/{count} parameters)"


class CheckBroken(Exception):
    """The check block itself crashed (not an assertion): the entry is broken."""

    def __init__(self, run: BlockRun) -> None:
        super().__init__(first_line(str(run.error)))
        self.run = run


def _frame_lines(run: BlockRun) -> list[str]:
    """Where in the entry it went wrong; torch's internal frames say nothing to a reader."""
    if run.frames:
        return run.frames[-3:]
    lines = [ln for ln in run.traceback.rstrip().splitlines() if ln.strip()]
    return lines[-4:]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {first_line(str(exc))}"


def verify(
    entry: Entry, phase: str, device: str, any_torch: bool = False, timeout_scale: float = 1.0
) -> Verdict:
    """Run one phase ('repro' or 'fix') of an entry on a device and judge it.

    `timeout_scale` stretches the blocks' time limits, for a busy machine (the limits stop
    runaway blocks; they do not judge speed).
    """
    if entry.kind == "environment":  # proven by its messages and diagnose (kb.envproof)
        from kb.envproof import verify_environment

        return verify_environment(entry, phase, any_torch, timeout_scale)
    reason = skip_reason(entry, phase, device, any_torch)
    if reason:
        raise Skip(reason)
    block = entry.blocks[phase]
    timeout = (entry.timeout or DEFAULT_TIMEOUT) * timeout_scale
    module = new_namespace(device)
    run = run_block(block, entry.path, module, timeout)

    def verdict(ok: bool, summary: str, details: list[str] | None = None) -> Verdict:
        return Verdict(ok, entry, phase, device, summary, details or [], block)

    # The wordings valid on this release: an older one outside its range is not listed.
    expected = [f"  {t}" for t in templates_here(entry)]
    if isinstance(run.error, BlockTimeout):
        return verdict(False, f"did not finish: {run.error}")

    if phase == "repro" and entry.kind == "error":
        if run.error is None:
            return verdict(
                False,
                f"ran without raising; expected {entry.exception} with one of:",
                [*expected, "(if torch no longer fails here, set fixed_in in the front matter)"],
            )
        if exception_matches(entry, run.error):
            return verdict(True, f"raised as documented: {_describe(run.error)}")
        return verdict(
            False,
            f"raised {_describe(run.error)}",
            [f"expected {entry.exception} with one of:", *expected, *_frame_lines(run)],
        )

    if run.error is not None:
        return verdict(
            False,
            f"raised {_describe(run.error)}; the {phase} must not raise",
            _frame_lines(run),
        )

    documented = [w for w in run.warnings if entry.kind == "warning" and warning_matches(entry, w)]
    if phase == "repro" and entry.kind == "warning":
        if documented:
            w = documented[0]
            return verdict(True, f"warned as documented: {w.category.__name__}: {w.message}")
        seen = [f"  {w.category.__name__}: {first_line(str(w.message))}" for w in run.warnings]
        return verdict(
            False,
            f"emitted no {entry.exception} matching one of:",
            [*expected, "warnings seen:" if seen else "no warnings at all", *seen],
        )
    if phase == "fix" and documented:
        w = documented[0]
        return verdict(False, f"still warns: {w.category.__name__}: {first_line(str(w.message))}")

    try:
        passed, problems = run_check(entry, module, timeout)
    except CheckBroken as broken:
        return verdict(
            False,
            f"the check itself crashed: {_describe(broken.run.error)}",
            _frame_lines(broken.run),
        )
    if phase == "fix":
        if passed:
            return verdict(True, f"raised nothing; {healthy(entry, module)}")
        return verdict(False, "the fix does not heal it: the health check fails", problems)
    # repro of a warning entry: the warning is the proof; the check may go either way.
    if entry.kind == "warning":
        return verdict(True, "warned as documented")
    if passed:
        return verdict(
            False,
            "the health check passes after the repro: it no longer shows the failure",
            ["(if torch fixed it, set fixed_in; else make the check observe the failure)"],
        )
    return verdict(True, "raised nothing and failed the health check, as documented", problems)


def bandaid_phase(number: int) -> str:
    """The phase name of an entry's band-aid `number` (1-based): `bandaid1`."""
    return f"bandaid{number}"


def verify_bandaid(
    entry: Entry, number: int, device: str, any_torch: bool = False, timeout_scale: float = 1.0
) -> Verdict:
    """Prove that the check rejects band-aid `number` (1-based), as it rejects the repro.

    A band-aid is tempting because the symptom goes away: it must run without raising (a
    block that still raises is no band-aid, or is broken), and the health check must then
    fail with an assertion. A check that passes cannot tell the band-aid from the fix.
    """
    # A band-aid works around the failure; where torch fixed it there is nothing to reject.
    reason = skip_reason(entry, "repro", device, any_torch)
    if reason:
        raise Skip(reason)
    bandaid = entry.bandaids[number - 1]
    block = bandaid.block
    timeout = (entry.timeout or DEFAULT_TIMEOUT) * timeout_scale
    module = new_namespace(device)
    run = run_block(block, entry.path, module, timeout)
    phase = bandaid_phase(number)

    def verdict(ok: bool, summary: str, details: list[str] | None = None) -> Verdict:
        return Verdict(ok, entry, phase, device, summary, details or [], block)

    if isinstance(run.error, BlockTimeout):
        return verdict(False, f"did not finish: {run.error}")
    if run.error is not None:
        return verdict(
            False,
            f"raised {_describe(run.error)}; a band-aid runs (it hides the failure) "
            "and the check must reject it",
            _frame_lines(run),
        )
    try:
        passed, problems = run_check(entry, module, timeout)
    except CheckBroken as broken:
        return verdict(
            False,
            f"the check crashed on the band-aid: {_describe(broken.run.error)}; "
            "it must reject it with a failing assert",
            _frame_lines(broken.run),
        )
    if passed:
        return verdict(
            False,
            "the health check passes after this band-aid: it cannot tell it from the fix",
            [f"band-aid: {bandaid.label}", "(make the check observe what the band-aid gets wrong)"],
        )
    return verdict(True, "raised nothing and the health check rejected it", problems)
