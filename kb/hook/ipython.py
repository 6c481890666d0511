"""`%load_ext kb`: the crash note below a cell's traceback, in IPython and Jupyter.

IPython never calls `sys.excepthook` for an error in a cell: it formats the traceback
itself (`showtraceback`, shaped by `%xmode`). `set_custom_exc` is no way in either: the
structured traceback its handler returns is discarded when a cell fails, and a handler
that raises is unregistered on the spot. So kb does not touch traceback display at
all. It listens to the `post_run_cell` event, which IPython fires after the cell and its
traceback, whatever printed that traceback (`%xmode` in any mode, rich, another
extension), and publishes the note as one display item: HTML in Jupyter (collapsible,
with the fix's code), plain text in terminal IPython. Documented warnings get their note
as with `kb.install()`.
"""

from __future__ import annotations

import contextlib

_loaded: dict = {}


def _post_run_cell(result: object) -> None:
    exc = getattr(result, "error_in_exec", None)
    if exc is None or not isinstance(exc, Exception):
        return
    try:
        from kb.hook.notes import note_for_exception

        note = note_for_exception(type(exc), exc, exc.__traceback__)
        if note is None:
            return
        from IPython.display import display

        display({"text/plain": note.text(), "text/html": note.html()}, raw=True)
    except Exception:  # noqa: BLE001 - a failing note must not add an error to the cell
        import os

        if os.environ.get("KB_DEBUG"):
            raise


def load(ipython: object) -> None:
    if _loaded.get("shell") is ipython:
        return
    ipython.events.register("post_run_cell", _post_run_cell)
    from kb import hook

    already = hook.is_installed()
    if not already:
        # Warnings and threads only: cells never reach sys.excepthook.
        hook.install(exceptions=False)
    _loaded.update(shell=ipython, installed_hook=not already)


def unload(ipython: object) -> None:
    if _loaded.get("shell") is not ipython:
        return
    with contextlib.suppress(ValueError):  # already unregistered by hand
        ipython.events.unregister("post_run_cell", _post_run_cell)
    if _loaded.get("installed_hook"):
        from kb import hook

        hook.uninstall()
    _loaded.clear()
