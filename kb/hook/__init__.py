"""The crash hook: after an uncaught exception's traceback, the entry that explains it.

`kb.install()` chains onto `sys.excepthook` and `threading.excepthook` (whatever is there:
Python's default, rich.traceback, a debugger's post-mortem hook): the previous hook runs
first and prints the traceback exactly as it would have, then kb adds its note below, and
only for an exact or partial message match. Documented warnings get a note too, once per
warning site, after the warning itself. Nothing runs until something fails: installing
costs a few attribute assignments, and the search (kb search's path: no torch, no
textual) is imported only at the first crash or warning. A failure inside kb is
swallowed: it must never turn one crash into two.
"""

from __future__ import annotations

import sys

_state: dict = {}


def _write(text: str, stream: object = None) -> None:
    stream = stream if stream is not None else sys.stderr
    if stream is None:  # pythonw, a closed stderr
        return
    try:
        stream.write(text + "\n")
        stream.flush()
    except Exception:  # noqa: BLE001 - a broken stream must not make a second crash
        pass


def _note_exception(exc_type: type, exc: BaseException, tb: object) -> None:
    try:
        from kb.hook.notes import note_for_exception

        note = note_for_exception(exc_type, exc, tb)
    except Exception:  # noqa: BLE001 - see the module docstring
        if _debug():
            raise
        return
    if note is not None:
        _write("\n" + note.text())


def _debug() -> bool:
    import os

    return bool(os.environ.get("KB_DEBUG"))


def _excepthook(exc_type: type, exc: BaseException, tb: object) -> None:
    previous = _state.get("excepthook") or sys.__excepthook__
    try:
        previous(exc_type, exc, tb)
    finally:
        _note_exception(exc_type, exc, tb)


def _threading_excepthook(args: object) -> None:
    previous = _state.get("threading_excepthook")
    try:
        if previous is not None:
            previous(args)
    finally:
        if args.exc_type is not None and not issubclass(args.exc_type, SystemExit):
            _note_exception(args.exc_type, args.exc_value, args.exc_traceback)


def _showwarning(message, category, filename, lineno, file=None, line=None) -> None:
    previous = _state.get("showwarning")
    if previous is not None:
        previous(message, category, filename, lineno, file, line)
    site = (filename, lineno, category)
    noted = _state.setdefault("warning_sites", set())
    if site in noted:
        return
    noted.add(site)
    try:
        from kb.hook.notes import note_for_warning

        cache = _state.setdefault("warning_notes", {})
        key = (category, str(message))
        if key not in cache:
            cache[key] = note_for_warning(message, category)
        note = cache[key]
    except Exception:  # noqa: BLE001 - see the module docstring
        if _debug():
            raise
        return
    if note is not None:
        _write(note.text(), file)


def is_installed() -> bool:
    return bool(_state.get("installed"))


def install(*, warnings: bool = True, threads: bool = True, exceptions: bool = True) -> None:
    """Add kb's note after uncaught exceptions (and documented warnings). Idempotent."""
    if _state.get("installed"):
        return
    _state["installed"] = True
    if exceptions:
        _state["excepthook"] = sys.excepthook
        sys.excepthook = _excepthook
    if threads:
        import threading

        _state["threading_excepthook"] = threading.excepthook
        threading.excepthook = _threading_excepthook
    if warnings:
        import warnings as _warnings

        _state["showwarning"] = _warnings.showwarning
        _warnings.showwarning = _showwarning
    shell = _ipython_shell()
    if shell is not None:
        # In IPython and Jupyter, cell errors never reach sys.excepthook.
        from kb.hook.ipython import load

        load(shell)
        _state["ipython"] = shell


def _ipython_shell() -> object:
    """The running IPython shell, found without importing IPython where it is not loaded."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    try:
        return get() if get is not None else None
    except Exception:  # noqa: BLE001 - an odd IPython must not stop install()
        return None


def uninstall() -> None:
    """Put back the hooks that were there before install(), where kb's are still in place."""
    if not _state.pop("installed", False):
        return
    if "ipython" in _state:
        from kb.hook.ipython import unload

        unload(_state.pop("ipython"))
    if "excepthook" in _state and sys.excepthook is _excepthook:
        sys.excepthook = _state["excepthook"]
    if "threading_excepthook" in _state:
        import threading

        if threading.excepthook is _threading_excepthook:
            threading.excepthook = _state.pop("threading_excepthook")
    if "showwarning" in _state:
        import warnings

        if warnings.showwarning is _showwarning:
            warnings.showwarning = _state.pop("showwarning")
    _state.clear()
