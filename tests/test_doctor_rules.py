"""Each kb doctor rule: proven by its entry, documented, and right on the shapes its entry
does not show (each case: code the rule must flag, and near-identical code it must not)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kb.doctor import all_rules, check_text, select_rules
from kb.doctor.docs import rules_markdown
from kb.entries import load_entry

ROOT = Path(__file__).resolve().parent.parent
RULES = all_rules()


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_names_an_entry_that_proves_it(code):
    rule = RULES[code]
    entry = load_entry(ROOT / "entries" / f"{rule.entry}.md")
    assert code in entry.doctor, f"entries/{rule.entry}.md must list doctor: [{code}]"


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_page_example_is_flagged_and_its_fix_is_not(code):
    rule = RULES[code]
    only = select_rules([code])
    assert [f.code for f in check_text(rule.example, rules=only)] != []
    assert [f.code for f in check_text(rule.fix, rules=only) if f.code == code] == []


def test_generated_rules_page_is_in_sync():
    page = (ROOT / "docs" / "doctor-rules.md").read_text(encoding="utf-8")
    assert page == rules_markdown(list(RULES.values())), (
        "docs/doctor-rules.md is stale: kb doctor --rules --format markdown > docs/doctor-rules.md"
    )


HEAD = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"

CASES = {
    "KBD001": (
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList()
                self.layers.append(torch.zeros(3))
        """,
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList()
                self.layers.append(nn.Linear(3, 3))
        """,
    ),
    "KBD003": (
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.heads = {"a": nn.Linear(2, 2), "b": nn.Linear(2, 2)}
        """,
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1, self.fc2 = nn.Linear(2, 2), nn.Linear(2, 2)
                self.order = [self.fc1, self.fc2]  # references to registered modules
        """,
    ),
    "KBD004": (
        """
        class Net(nn.Module):
            def forward(self, x):
                scale = nn.Parameter(torch.ones(1))
                return x * scale
        """,
        """
        class Lazy(nn.Module):
            def forward(self, x):
                if not hasattr(self, "weight"):
                    self.weight = nn.Parameter(torch.ones(x.shape[-1]))  # registered once
                return x * self.weight
        """,
    ),
    "KBD005": (
        """
        class Norm(nn.Module):
            def __init__(self):
                super().__init__()
                self.mean = torch.zeros(3)
            def forward(self, x):
                return x - self.mean
        """,
        """
        class Norm(nn.Module):
            def __init__(self):
                super().__init__()
                self.mean = torch.zeros(3)
            def forward(self, x):
                return x - self.mean.to(x.device)  # moved by hand
        """,
    ),
    "KBD009": (
        """
        class Net(nn.Module):
            def foward(self, x):
                return x
        """,
        """
        class Net(nn.Module):
            def forward_features(self, x):
                return x
            def forward(self, x):
                return self.forward_features(x)

        class Mine(nn.Linear):
            def fowrard(self, x):  # not a typo'd override: Linear.forward runs
                return x
        """,
    ),
    "KBD010": (
        """
        model = nn.Linear(3, 1)
        a, b = model(torch.ones(3)), model(torch.zeros(3))
        both = torch.tensor([a, b])
        """,
        """
        model = nn.Linear(3, 1)
        a, b = model(torch.ones(3)), model(torch.zeros(3))
        both = torch.tensor([a.item(), b.item()])
        """,
    ),
    "KBD016": (
        """
        model = nn.Linear(3, 1)
        optimizer = torch.optim.Adam(model.parameters())
        for x in range(3):
            model(torch.ones(3)).sum().backward()
            optimizer.step()
        """,
        """
        model = nn.Linear(3, 1)
        optimizer = torch.optim.Adam(model.parameters())
        for x in range(3):
            for p in model.parameters():
                p.grad = None
            model(torch.ones(3)).sum().backward()
            optimizer.step()
        """,
    ),
    "KBD018": (
        """
        model = nn.Linear(3, 1)
        criterion = nn.MSELoss()
        history = []
        for x in range(3):
            val_loss = criterion(model(torch.ones(3)), torch.zeros(1))
            history.append(val_loss)
        """,
        """
        model = nn.Linear(3, 1)
        criterion = nn.MSELoss()
        losses = []
        for x in range(3):
            loss = criterion(model(torch.ones(3)), torch.zeros(1))
            losses.append(loss)
        torch.stack(losses).mean().backward()  # kept on purpose, for one backward
        """,
    ),
    "KBD025": (
        """
        logits = nn.Linear(3, 2)(torch.ones(4, 3))
        loss = F.cross_entropy(logits.softmax(dim=1), torch.zeros(4, dtype=torch.long))
        """,
        """
        logits = nn.Linear(3, 2)(torch.ones(4, 3))
        loss = F.cross_entropy(logits, torch.zeros(4, dtype=torch.long))
        probs = logits.softmax(dim=1)  # for reporting only
        """,
    ),
    "KBD027": (
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(2, 2))
            def forward(self, x, mask):
                return self.body(x, mask)
        """,
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(2, 2))
            def forward(self, x, mask):
                return self.body(x * mask)
        """,
    ),
    "KBD029": (
        """
        class Net(nn.Module):
            def save(self, path):
                torch.save(self, path)
        """,
        """
        class Net(nn.Module):
            def save(self, path):
                torch.save({"model": self.state_dict()}, path)
        """,
    ),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_on_shapes_beyond_its_entry(code):
    flagged, clean = (HEAD + textwrap.dedent(src) for src in CASES[code])
    rules = select_rules([code])
    assert [f.code for f in check_text(flagged, rules=rules)], f"{code} missed:\n{flagged}"
    assert [str(f) for f in check_text(clean, rules=rules)] == []
