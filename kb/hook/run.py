"""`kb run script.py [args]` / `kb run -m package.module [args]`: run with the crash hook.

The program runs as `python script.py` / `python -m package.module` would run it: its
own `sys.argv`, `sys.path[0]` (the script's folder, or the working directory for -m), a
fresh `__main__` module (so pickling classes defined there works), its signal handlers
and its exit status. An uncaught exception is printed by `sys.excepthook` with the
frames kb and runpy added left out, so the traceback reads as Python's would, and
KeyboardInterrupt ends the process by SIGINT as Python does.
"""

from __future__ import annotations

import os
import sys

USAGE = "usage: kb run SCRIPT [ARGS...] | kb run -m MODULE [ARGS...]"


def _ours(filename: str) -> bool:
    import runpy

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the kb package
    return (
        filename == runpy._run_code.__code__.co_filename
        or filename == runpy.__file__
        or os.path.abspath(filename).startswith(here + os.sep)
    )


def _user_traceback(tb: object, keep_runpy: bool) -> object:
    """Drop the leading frames of kb's runner (and runpy's, which `python script.py` lacks)."""
    import runpy

    runpy_file = runpy._run_code.__code__.co_filename
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if keep_runpy and name == runpy_file:
            break
        if not _ours(name):
            break
        tb = tb.tb_next
    return tb


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or (argv[0] == "-m" and len(argv) < 2):
        sys.stderr.write(USAGE + "\n")
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    import runpy
    import types

    from kb.hook import install

    install()
    as_module = argv[0] == "-m"
    if as_module:
        target, args = argv[1], argv[2:]
        sys.argv = ["-m", *args]  # runpy puts the module's file in argv[0], as python -m does
        sys.path[0] = os.getcwd()
    else:
        target, args = argv[0], argv[1:]
        if not os.path.exists(target):
            sys.stderr.write(f"kb run: can't open file {target!r}: no such file\n")
            return 2
        sys.argv = [target, *args]
        sys.path[0] = os.path.dirname(os.path.abspath(target))
    main_module = types.ModuleType("__main__")
    sys.modules["__main__"] = main_module
    try:
        if as_module:
            # What `python -m` itself calls: the module runs in the real __main__.
            runpy._run_module_as_main(target, alter_argv=True)
        elif os.path.isfile(target):
            _run_file(os.path.abspath(target), main_module)
        else:  # a folder or zip file with __main__.py
            runpy.run_path(target, run_name="__main__")
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - printed as Python would, then exit
        # The default hook prints the exception's own __traceback__, not its argument.
        exc = exc.with_traceback(_user_traceback(exc.__traceback__, keep_runpy=as_module))
        sys.excepthook(type(exc), exc, exc.__traceback__)
        if isinstance(exc, KeyboardInterrupt):
            _die_by_sigint()
        return 1
    return 0


def _run_file(path: str, module: object) -> None:
    """Run a script the way `python path` does: absolute __file__, in __main__."""
    import builtins
    from importlib.machinery import SourceFileLoader

    with open(path, "rb") as fh:
        source = fh.read()
    code = compile(source, path, "exec", dont_inherit=True)
    module.__dict__.update(
        __file__=path,
        __builtins__=builtins,
        __loader__=SourceFileLoader("__main__", path),
        __spec__=None,
        __package__=None,
        __cached__=None,
    )
    exec(code, module.__dict__)


def _die_by_sigint() -> None:
    """End the process as an uncaught KeyboardInterrupt ends Python: killed by SIGINT."""
    import signal

    sys.stdout.flush()
    sys.stderr.flush()
    if hasattr(signal, "SIGINT") and hasattr(os, "kill"):
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    sys.exit(130)
