"""`%load_ext kb` in IPython's InteractiveShell (in-process) and in a real Jupyter kernel.

IPython's own behaviour that rules out `set_custom_exc` for this is pinned here too, so
a release that changes it shows up as a failing test rather than a design gone stale.
"""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("IPython")

MESSAGE = "grad can be implicitly created only for scalar outputs"  # one entry has it
CRASH = f"raise RuntimeError({MESSAGE!r})"
ENTRY = "kb show backward-non-scalar"


@pytest.fixture()
def shell(monkeypatch, tmp_path):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    config = Config()
    config.HistoryManager.enabled = False
    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance(config=config, colors="nocolor")
    published = []
    real_publish = sh.display_pub.publish

    def publish(data, *args, **kwargs):
        published.append(data)
        real_publish(data, *args, **kwargs)

    monkeypatch.setattr(sh.display_pub, "publish", publish)
    sh.published = published
    yield sh
    sh.run_cell("%unload_ext kb")
    InteractiveShell.clear_instance()


def test_note_below_the_traceback(shell, capsys):
    shell.run_cell("%load_ext kb")
    capsys.readouterr()
    shell.run_cell(CRASH)
    out = capsys.readouterr().out
    assert out.index(f"RuntimeError: {MESSAGE}") < out.index(ENTRY)
    bundle = shell.published[-1]
    assert set(bundle) == {"text/plain", "text/html"}
    html = bundle["text/html"]
    assert html.startswith("<details") and "<pre" in html and ENTRY in html
    shell.run_cell("1 + 1")
    shell.run_cell("raise ValueError('my own bug <b>42</b>')")
    out = capsys.readouterr().out
    assert "kb:" not in out and len(shell.published) == 1


def test_xmode_and_other_traceback_customisers_keep_working(shell, capsys):
    shell.run_cell("%load_ext kb")
    for mode, marker in (("Minimal", None), ("Verbose", "Cell In[")):
        shell.run_cell(f"%xmode {mode}")
        capsys.readouterr()
        shell.run_cell(CRASH)
        out = capsys.readouterr().out
        assert ENTRY in out
        if marker is None:
            assert "Traceback" not in out and out.lstrip().startswith("RuntimeError")
        else:
            assert marker in out
    # An extension that replaces showtraceback: still the one that prints the traceback.
    original = shell.showtraceback
    shell.showtraceback = lambda *a, **k: print("CUSTOM TRACEBACK")
    capsys.readouterr()
    shell.run_cell(CRASH)
    out = capsys.readouterr().out
    assert out.index("CUSTOM TRACEBACK") < out.index(ENTRY)
    shell.showtraceback = original


def test_set_custom_exc_is_no_way_in_but_kb_works_beside_it(shell, capsys):
    # IPython discards what a custom handler returns when a cell fails...
    shell.set_custom_exc((RuntimeError,), lambda self, etype, value, tb, tb_offset=None: ["EXTRA"])
    shell.run_cell("%load_ext kb")
    capsys.readouterr()
    shell.run_cell(CRASH)
    out = capsys.readouterr().out
    assert "EXTRA" not in out and ENTRY in out  # kb's note comes all the same

    # ...and unregisters a handler that raises.
    def broken(self, etype, value, tb, tb_offset=None):
        raise KeyError("bug in handler")

    shell.set_custom_exc((RuntimeError,), broken)
    shell.run_cell(CRASH)
    assert shell.custom_exceptions == ()
    captured = capsys.readouterr()
    assert "unregistering" in captured.err and ENTRY in captured.out


def test_unload_restores(shell, capsys):
    before = list(shell.events.callbacks["post_run_cell"])
    showwarning = warnings.showwarning
    shell.run_cell("%load_ext kb")
    assert warnings.showwarning is not showwarning
    shell.run_cell("%unload_ext kb")
    assert shell.events.callbacks["post_run_cell"] == before
    assert warnings.showwarning is showwarning
    capsys.readouterr()
    shell.run_cell(CRASH)
    assert "kb:" not in capsys.readouterr().out


def test_kb_install_inside_ipython_notes_cells_too(shell, capsys):
    shell.run_cell("import kb; kb.install()")
    capsys.readouterr()
    shell.run_cell(CRASH)
    assert ENTRY in capsys.readouterr().out
    shell.run_cell("kb.uninstall()")
    shell.run_cell(CRASH)
    assert "kb:" not in capsys.readouterr().out


def test_in_a_jupyter_kernel(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext kb"),
        nbformat.v4.new_code_cell(CRASH),
        nbformat.v4.new_code_cell("%unload_ext kb"),
        nbformat.v4.new_code_cell(CRASH),
    ]
    client = nbclient.NotebookClient(
        nb, timeout=60, kernel_name="python3", allow_errors=True, resources={}
    )
    client.execute()
    outputs = nb.cells[1].outputs
    assert [o.output_type for o in outputs] == ["error", "display_data"]
    assert outputs[0].evalue == MESSAGE
    html = outputs[1].data["text/html"]
    assert html.startswith("<details") and ENTRY in html
    assert ENTRY in outputs[1].data["text/plain"]
    assert [o.output_type for o in nb.cells[3].outputs] == ["error"]
