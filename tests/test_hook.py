"""The crash hook and `kb run`, each in a fresh Python as a user's program meets them.

The scripts raise the messages torch prints without importing torch, so every run
costs a Python start-up, not a torch import; the hook cannot tell the difference.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

MESSAGE = "grad can be implicitly created only for scalar outputs"  # one entry has it
NON_LEAF = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead. See github.com/pytorch/pytorch/pull/30531 for more information. (Triggered "
    "internally at /pytorch/build/aten/src/ATen/core/TensorBody.h:489.)"
)


@pytest.fixture()
def script(tmp_path):
    def write(body: str, name: str = "train.py"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(body), encoding="utf-8")
        return path

    return write


def python(*args, cwd=None, **kw):
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, cwd=cwd, **kw
    )


CRASH = f"""
    def train():
        raise RuntimeError({MESSAGE!r})
    train()
"""


def test_note_follows_the_untouched_traceback(script):
    plain = python(script(CRASH))
    hooked = python(script("import kb; kb.install()\n" + textwrap.dedent(CRASH), "hooked.py"))
    assert plain.returncode == hooked.returncode == 1
    # Line numbers differ by the one added line; the traceback is otherwise Python's own.
    expected = plain.stderr.replace("train.py", "hooked.py").replace("line 4,", "line 5,")
    expected = expected.replace("line 3,", "line 4,")
    assert hooked.stderr.startswith(expected)
    note = hooked.stderr[len(expected) :]
    assert "kb: a known failure (exact match" in note
    assert "kb show backward-non-scalar" in note
    assert "fix: " in note


def test_no_note_without_a_sure_match(script):
    done = python(script("import kb; kb.install()\nraise ValueError('my own bug: 42 widgets')"))
    assert done.returncode == 1 and "kb:" not in done.stderr
    assert done.stderr.rstrip().endswith("ValueError: my own bug: 42 widgets")


def test_chains_the_previous_hooks(script):
    body = f"""
        import sys, threading
        def mine(t, e, tb):
            print("MINE", t.__name__, file=sys.stderr)
        sys.excepthook = mine
        threading.excepthook = lambda args: print("THREAD-MINE", file=sys.stderr)
        import kb; kb.install()
        t = threading.Thread(target=lambda: (_ for _ in ()).throw(RuntimeError({MESSAGE!r})))
        t.start(); t.join()
        raise RuntimeError({MESSAGE!r})
    """
    done = python(script(body))
    lines = done.stderr.splitlines()
    assert lines[0] == "THREAD-MINE" and "MINE RuntimeError" in lines
    assert done.stderr.count("kb show backward-non-scalar") == 2
    assert lines.index("MINE RuntimeError") < len(lines) - 3  # the note comes after it


def test_thread_exception_gets_a_note_under_the_default_hook(script):
    body = f"""
        import threading, kb
        kb.install()
        def work():
            raise RuntimeError({MESSAGE!r})
        t = threading.Thread(target=work, name="loader"); t.start(); t.join()
        print("main goes on")
    """
    done = python(script(body))
    assert done.returncode == 0 and "main goes on" in done.stdout
    assert "Exception in thread loader" in done.stderr
    assert done.stderr.index("RuntimeError: grad can be") < done.stderr.index("kb show")


def test_documented_warning_noted_once_per_site(script):
    body = f"""
        import warnings, kb
        kb.install()
        warnings.simplefilter("always")
        for _ in range(3):
            warnings.warn({NON_LEAF!r}, UserWarning)      # one site, three times
        warnings.warn({NON_LEAF!r}, UserWarning)          # a second site
        warnings.warn("something else entirely", UserWarning)
    """
    done = python(script(body))
    assert done.returncode == 0
    assert done.stderr.count("UserWarning: The .grad attribute") == 4  # all still shown
    assert done.stderr.count("kb: a known warning") == 2
    assert "kb show " in done.stderr


def test_import_and_install_stay_light(script):
    body = """
        import sys, kb
        kb.install()
        heavy = ("torch", "textual", "kb.search", "sqlite3", "rich")
        heavy = [m for m in heavy if m in sys.modules]
        print(heavy)
    """
    assert python(script(body)).stdout.strip() == "[]"


def test_uninstall_restores(script):
    body = """
        import sys, threading, warnings, kb
        before = (sys.excepthook, threading.excepthook, warnings.showwarning)
        kb.install(); kb.install()
        kb.uninstall()
        print(before == (sys.excepthook, threading.excepthook, warnings.showwarning))
    """
    assert python(script(body)).stdout.strip() == "True"


RUN_SCRIPT = f"""
    import pickle, sys
    class Point:
        pass
    pickle.dumps(Point())          # classes defined in __main__ pickle as under python
    print(sys.argv, __name__, __file__ == sys.argv[0] or __file__)
    print(sys.path[0])
    if sys.argv[1:] == ["exit"]:
        sys.exit(3)
    if sys.argv[1:] == ["crash"]:
        raise RuntimeError({MESSAGE!r})
"""


def test_kb_run_behaves_like_python(script, tmp_path):
    path = script(RUN_SCRIPT)
    for args in (["a", "b"], ["exit"], ["crash"]):
        plain = python(path.name, *args, cwd=tmp_path)
        ran = python("-m", "kb", "run", path.name, *args, cwd=tmp_path)
        assert (ran.returncode, ran.stdout) == (plain.returncode, plain.stdout), args
        assert ran.stderr.startswith(plain.stderr)
    assert "kb show backward-non-scalar" in ran.stderr
    assert "kb/" not in ran.stderr.split("kb:")[0]  # no frames of kb's runner


def test_kb_run_module(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "train.py").write_text(
        f"import sys\nprint(sys.argv[1:], __name__)\nraise RuntimeError({MESSAGE!r})\n"
    )
    plain = python("-m", "pkg.train", "--lr", "1", cwd=tmp_path)
    ran = python("-m", "kb", "run", "-m", "pkg.train", "--lr", "1", cwd=tmp_path)
    assert ran.stdout == plain.stdout == "['--lr', '1'] __main__\n"
    assert ran.returncode == plain.returncode == 1
    assert ran.stderr.startswith(plain.stderr) and "kb show" in ran.stderr


def test_kb_run_usage_and_missing_file(tmp_path):
    missing = python("-m", "kb", "run", "nope.py", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.py" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert python("-m", "kb", "run", cwd=tmp_path).returncode == 2


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_kb_run_ctrl_c_ends_like_python(script, tmp_path):
    path = script("import time\nprint('ready', flush=True)\ntime.sleep(30)\n")
    codes = []
    for cmd in ([path.name], ["-m", "kb", "run", path.name]):
        proc = subprocess.Popen(
            [sys.executable, *cmd],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # A job started in the background of a script inherits SIGINT ignored, and
            # Python then never raises KeyboardInterrupt: give the child the default.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        assert proc.stdout.readline() == "ready\n"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        codes.append(proc.returncode)
        assert "KeyboardInterrupt" in err and "kb:" not in err
    assert codes[0] == codes[1] == -signal.SIGINT
