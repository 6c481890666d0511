"""kb: a verified field guide to PyTorch failures."""

__version__ = "0.1.0"


def install(*, warnings: bool = True, threads: bool = True, exceptions: bool = True) -> None:
    """After an uncaught exception's traceback, name the catalogue entry that explains it.

    Chains onto the hooks already installed; see kb.hook. Costs nothing until a crash.
    """
    from kb.hook import install as _install

    _install(warnings=warnings, threads=threads, exceptions=exceptions)


def uninstall() -> None:
    from kb.hook import uninstall as _uninstall

    _uninstall()


def load_ipython_extension(ipython: object) -> None:
    """`%load_ext kb`: notes below cell tracebacks in IPython and Jupyter."""
    from kb.hook.ipython import load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    from kb.hook.ipython import unload

    unload(ipython)
