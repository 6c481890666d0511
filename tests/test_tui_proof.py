"""Running an entry's proof from the TUI: outcomes per device and phase, and cancelling.

Each run starts a Python with torch in a child process, the slowest thing kb tui does,
so there are only these three tests here (the CLI's `kb verify ID` has its own).
"""

from __future__ import annotations

import asyncio

from tui_helpers import ready, screen_text, until

from kb.tui.app import KbApp
from kb.tui.screens import ProofScreen


def test_proof_run_on_cpu_shows_both_phases():
    async def go():
        app = KbApp("grad can be implicitly created only for scalar outputs")
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            assert app.current_id == "backward-non-scalar"
            await pilot.press("f5")
            await until(pilot, lambda: isinstance(app.screen, ProofScreen))
            screen = app.screen
            await until(pilot, lambda: not screen.running, timeout=180)
            outcomes = {(o.device, o.phase): o for o in screen.outcomes}
            assert outcomes[("cpu", "repro")].status == "passed"
            assert outcomes[("cpu", "fix")].status == "passed"
            assert "RuntimeError" in outcomes[("cpu", "repro")].summary
            text = screen_text(app)
            assert "repro on cpu: raised as documented: RuntimeError" in text
            assert "fix on cpu: raised nothing; gradients flow (" in text
            # Without a GPU the cuda variants say why they did not run; with one, they ran.
            cuda = outcomes[("cuda", "repro")]
            assert cuda.status == "passed" or "no CUDA" in cuda.summary
            assert "Proven here" in text
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, ProofScreen))
            assert "Proven here" in app.last_status

    asyncio.run(go())


def test_proof_of_an_environment_entry_and_its_fix_steps():
    async def go():
        app = KbApp("CUDA_HOME environment variable is not set")
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            assert app.current_id == "cuda-extension-no-cuda-home"
            # Its fix is steps, not code: nothing is copied, and the status says why.
            await pilot.press("down", "c")
            await until(pilot, lambda: "Nothing copied" in app.last_status)
            await pilot.press("r")
            await until(pilot, lambda: isinstance(app.screen, ProofScreen))
            screen = app.screen
            await until(pilot, lambda: not screen.running, timeout=180)
            assert [(o.phase, o.status) for o in screen.outcomes] == [
                ("messages", "passed"),
                ("diagnose", "passed"),
            ]
            assert screen._total() == 2
            text = screen_text(app)
            assert "Proven here: its messages are in this torch's own files" in text

    asyncio.run(go())


def test_cancelled_proof_run_stops_the_process():
    async def go():
        app = KbApp("grad can be implicitly created only for scalar outputs")
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            # Escape at once: the run is cancelled as it starts, and nothing breaks when
            # its last messages arrive after the screen is gone.
            await pilot.press("f5")
            await until(pilot, lambda: isinstance(app.screen, ProofScreen))
            closed = app.screen
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, ProofScreen))
            await until(pilot, lambda: closed.proof is not None and closed.proof.cancelled)
            await pilot.press("f5")
            await until(pilot, lambda: isinstance(app.screen, ProofScreen))
            screen = app.screen
            # Cancel while the child is still starting (importing torch).
            await until(pilot, lambda: screen.proof is not None and screen.proof._proc)
            process = screen.proof._proc
            await pilot.press("x")
            await until(pilot, lambda: not screen.running, timeout=30)
            assert process.wait(timeout=10) is not None
            assert screen.proof.cancelled and screen.outcomes == []
            assert "Cancelled after" in screen_text(app)
            # The interface answers keys right away.
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, ProofScreen))

    asyncio.run(go())
