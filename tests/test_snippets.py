"""kb.snippets: the helpers on cases beyond the catalogue's, their reports, their source.

The catalogue itself proves each helper on the entries that name it (`pytest entries/`
runs `snippet-*` items); these tests cover what entries cannot: reasons the entries do
not exercise, the memory estimate against a real measurement, and the printed source
working in a Python without kb.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import types

import pytest
import torch
from torch import nn

from kb import snippets
from kb.snippets import (
    attention_bytes,
    check_optimizer,
    estimate_memory,
    find_unregistered,
    gradient_flow,
    gradient_report,
    locate_nonfinite,
    measure_memory,
    watch_graphs,
)

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device available"),
    ),
]


def test_import_is_light():
    code = "import sys, kb.snippets; print('torch' in sys.modules, sorted(kb.snippets.HELPERS))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("False"), out.stdout


def test_printed_source_works_pasted_alone():
    # Each helper's source runs as a module of its own while kb cannot be imported.
    usage = {
        "gradient_flow": """
m = torch.nn.Linear(2, 1)
with gradient_flow(m) as f:
    m(torch.ones(1, 2)).sum().backward()
r = f.report()""",
        "unregistered": """
m = torch.nn.Linear(2, 1)
m.extra = [torch.nn.Linear(1, 1)]
r = find_unregistered(m)""",
        "optimizer_coverage": """
m = torch.nn.Linear(2, 1)
r = check_optimizer(m, torch.optim.SGD(m.parameters(), lr=0.1))""",
        "graph_kept_alive": """
with watch_graphs() as w:
    y = torch.ones(1, requires_grad=True) * 2
r = w.report()""",
        "memory_estimate": "r = estimate_memory(torch.nn.Linear(4, 4), (2, 4))",
        "nonfinite": """
with locate_nonfinite() as loc:
    torch.log(torch.zeros(2))
r = loc.report()""",
    }
    assert set(usage) == set(snippets.HELPERS)
    out = {}
    for name, code in usage.items():
        # A module of its own, as a pasted file is; `kb` cannot be imported meanwhile.
        module = types.ModuleType(f"pasted_{name}")
        source = snippets.source(name) + code
        with _no_kb_imports(), _registered(module):
            exec(compile(source, f"<pasted {name}>", "exec"), module.__dict__)
        report = module.__dict__["r"]
        out[name] = (str(report), json.loads(json.dumps(report.as_dict())))
    clean = {name: result[1]["clean"] for name, result in out.items()}
    assert clean == {
        "gradient_flow": True,
        "unregistered": False,
        "optimizer_coverage": True,
        "graph_kept_alive": False,
        "memory_estimate": True,
        "nonfinite": False,
    }
    assert "extra[0]" in out["unregistered"][0]


@contextlib.contextmanager
def _no_kb_imports():
    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name == "kb" or name.startswith("kb."):
                raise ImportError(f"pasted source imported {name}")
            return None

    finder = Refuse()
    kb_modules = {k: v for k, v in sys.modules.items() if k == "kb" or k.startswith("kb.")}
    for key in kb_modules:
        del sys.modules[key]
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.modules.update(kb_modules)


@contextlib.contextmanager
def _registered(module):
    # dataclasses look their module up in sys.modules, as they would for a pasted file.
    sys.modules[module.__name__] = module
    try:
        yield
    finally:
        del sys.modules[module.__name__]


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 1), nn.Linear(3, 1)

    def forward(self, x, use_b=True):
        h = self.body(x)
        return self.a(h) + (self.b(h) if use_b else 0)


def test_gradient_flow_reasons():
    model = TwoHeads()
    x = torch.randn(4, 3)
    with gradient_flow(model) as flow:
        with torch.no_grad():
            model.b(x)  # used, but only without grad
        model(x, use_b=False).sum().backward()
    report = flow.report()
    reasons = {f.name: f.reason for f in report.findings}
    assert reasons == {"b.weight": "no_grad", "b.bias": "no_grad"}
    # The next step does not reach head b: its old .grad is stale, not fresh.
    model.b.weight.grad = torch.ones_like(model.b.weight)
    with gradient_flow(model) as flow:
        model(x, use_b=False).sum().backward()
    assert {f.name: f.reason for f in flow.report().findings}["b.weight"] == "stale"
    assert json.dumps(flow.report().as_dict())


def test_gradient_report_without_watch_and_frozen():
    model = TwoHeads()
    model(torch.randn(2, 3), use_b=False).sum().backward()
    report = gradient_report(model)
    assert {f.name for f in report.findings} == {"b.weight", "b.bias"}
    assert all(f.reason == "missing" for f in report.findings)
    model.requires_grad_(False)
    frozen = gradient_report(model)
    assert [f.reason for f in frozen.findings] == ["frozen"] and len(frozen.frozen) == 6
    assert "frozen" in str(frozen)


def test_unregistered_containers_and_clean_model():
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.ok = nn.ModuleList([nn.Linear(1, 1)])
            self.alias = [self.ok[0]]  # a second reference to a registered layer: fine
            self.table = {"w": nn.Parameter(torch.ones(2)), "deep": ([nn.Linear(2, 2)],)}
            self.pair = (torch.zeros(3),)

    report = find_unregistered(Holder(), name="net")
    kinds = {f.path: f.kind for f in report.findings}
    assert kinds == {
        "net.table['w']": "parameter",
        "net.table['deep'][0][0]": "module",
        "net.pair[0]": "tensor",
    }
    assert find_unregistered(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))).clean


def test_optimizer_coverage_groups_and_stale():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    opt = torch.optim.SGD([{"params": model[0].parameters()}], lr=0.1)
    report = check_optimizer(model, opt)
    assert {(f.name, f.kind) for f in report.findings} == {
        ("model.1.weight", "missing"),
        ("model.1.bias", "missing"),
    }
    opt.add_param_group({"params": model[1].parameters()})
    assert check_optimizer(model, opt).clean


def test_graph_growing_across_steps():
    rnn = nn.RNNCell(2, 2)
    h = torch.zeros(1, 2)
    with watch_graphs() as watch:
        for _ in range(3):
            h = rnn(torch.randn(1, 2), h)  # not detached: the graph spans every step
            h.sum().backward(retain_graph=True)
    report = watch.report()
    assert "growing" in {f.kind for f in report.findings}, report
    h = torch.zeros(1, 2)
    with watch_graphs() as watch:
        for _ in range(3):
            h = rnn(torch.randn(1, 2), h.detach())
            h.sum().backward()
    assert watch.report().clean, watch.report()


def test_nonfinite_names_module_and_skips_deliberate_masks():
    class Scores(nn.Module):
        def forward(self, x):
            mask = torch.ones(2, 2, dtype=torch.bool).triu(1)
            return torch.softmax(x.masked_fill(mask, float("-inf")), -1)  # finite result

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scores, self.proj = Scores(), nn.Linear(2, 2)

        def forward(self, x):
            return torch.log(self.proj(self.scores(x)) - 10)  # log of negatives: nan

    net = Net()
    with locate_nonfinite(net) as loc:
        net(torch.randn(2, 2)).sum().backward()
    report = loc.report()
    assert report.forward is not None and report.forward.phase == "forward"
    assert report.forward.op == "aten.log.default" and report.forward.module == "Net"
    with locate_nonfinite(net) as loc:
        net.scores(torch.randn(2, 2, requires_grad=True)).sum().backward()
    assert loc.report().clean, loc.report()
    assert torch.is_anomaly_enabled() is False


def test_nonfinite_input_already_bad():
    lin, bad = nn.Linear(2, 2), torch.tensor([[float("nan"), 1.0]])
    with locate_nonfinite(lin) as loc:
        lin(bad)
    event = loc.report().forward
    assert event.phase == "input" and event.module == "Linear"
    # NaN that was in the data, not made by any operation watched.
    assert loc.report().as_dict()["entry"] == "nan-in-input-data"


@pytest.mark.parametrize("device", DEVICES)
def test_memory_estimate_matches_measurement(device):
    class Attention(nn.Module):
        def __init__(self, d=64, heads=4):
            super().__init__()
            self.qkv, self.out, self.heads = nn.Linear(d, 3 * d), nn.Linear(d, d), heads

        def forward(self, x):
            b, n, d = x.shape
            q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
            a = torch.softmax(q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5, dim=-1)
            return self.out((a @ v).transpose(1, 2).reshape(b, n, d))

    model = nn.Sequential(Attention(), nn.LayerNorm(64), nn.Linear(64, 256), nn.GELU()).to(device)
    x = torch.randn(4, 384, 64, device=device)
    estimate = estimate_memory(model, x)
    assert estimate.attention_bytes == attention_bytes(4, 4, 384)
    measured = measure_memory(model, x)
    assert measured["held_bytes"] == pytest.approx(estimate.forward_bytes, rel=0.05), (
        measured,
        str(estimate),
    )
    assert not estimate_memory(model, x, budget=estimate.forward_bytes // 2).clean


def test_kb_show_snippet_prints_source_and_lists():
    out = subprocess.run(
        [sys.executable, "-m", "kb", "show", "--snippet", "gradient_flow"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == snippets.source("gradient_flow")
    bad = subprocess.run(
        [sys.executable, "-m", "kb", "show", "--snippet", "nope"], capture_output=True, text=True
    )
    assert bad.returncode == 1 and "gradient_flow" in bad.stderr and "Traceback" not in bad.stderr


def test_proof_fails_when_the_helper_misses(tmp_path):
    # The harness must be able to fail: a helper named on an entry it cannot see into.
    from kb.entries import load_entry
    from kb.snippets.prove import prove
    from tests.conftest import entry_text

    path = tmp_path / "vector-backward.md"
    text = entry_text().replace(
        "devices: [cpu, cuda]", "devices: [cpu, cuda]\nsnippets: [unregistered]"
    )
    path.write_text(text, encoding="utf-8")
    proof = prove(load_entry(path), "unregistered", "cpu")
    assert not proof.ok
    assert proof.summary == "unregistered did not report the repro's problem"
    assert proof.details == ["(the repro left no object the helper inspects)"]
