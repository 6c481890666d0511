"""Recall of kb doctor on the catalogue: of the entries whose mistake can be seen in the
source code alone, how many does a rule catch?

    python scripts/doctor_recall.py

"Visible statically" is a hand judgment, kept below with the pattern a rule would look
for; every other entry needs values only a run has (shapes, dtypes, devices, data, the
environment, a checkpoint's content). An entry counts as caught when a rule flags its
repro block and not its fix block; `proven` when the entry also names that rule in
`doctor:` (so `pytest entries/` holds the rule to it).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VISIBLE = {
    "all-parameters-frozen": "requires_grad=False set on every parameter after the new head",
    "backward-twice-reused-tensor": "a tensor computed from a Parameter before the loop, "
    "used in the loop's backward",
    "backward-twice-retain-graph": "two backward() calls through one shared graph",
    "cached-model-weights-only-load": "torch.save of a module object",
    "checkpoint-restore-weights-differ": "a requires_grad tensor attribute, not a Parameter",
    "clip-grad-before-unscale": "clip_grad_norm_ between scaler.scale().backward() and step",
    "data-inplace-corrupts-gradient": ".data write between loss and backward",
    "detach-in-forward-breaks-graph": ".detach() on the path to forward's output",
    "edge-weights-plain-tensor": "a learned tensor kept outside the module's parameters",
    "eval-does-not-disable-grad": "evaluation under model.eval() without no_grad",
    "forgot-model-eval": "an evaluation loop without model.eval()",
    "forward-misspelled": "a method named almost forward",
    "frozen-params-in-optimizer": "frozen parameters handed to the optimizer",
    "functional-dropout-ignores-eval": "F.dropout without training=self.training",
    "gradscaler-fp16-params": "model.half() trained with a GradScaler",
    "inplace-activation-modifies-saved-output": "in-place op on sigmoid's output",
    "inplace-modified-saved-tensor": "in-place op on a tensor saved for backward",
    "layer-replaced-after-optimizer": "model layer assigned after the optimizer",
    "leaf-inplace-update": "w -= lr * w.grad outside no_grad",
    "load-state-dict-strict-false": "load_state_dict(..., strict=False) ignoring the result",
    "loss-computed-under-no-grad": "the loss's forward under no_grad, then backward()",
    "loss-history-keeps-graph": "losses.append(loss)",
    "manual-seed-does-not-seed-numpy": "numpy randomness with only torch.manual_seed",
    "meta-module-to": ".to() on a module built on the meta device",
    "missing-zero-grad": "backward and step without zero_grad",
    "model-eval-without-parentheses": "model.eval without ()",
    "module-init-not-called": "attributes set before super().__init__()",
    "module-list-multiplication-shares-weights": "[module] * n",
    "modulelist-parameter-not-module": "nn.Parameter in nn.ModuleList",
    "modulelist-tensor-not-module": "tensor in nn.ModuleList",
    "nan-grad-through-where": "torch.where over a branch with an undefined gradient",
    "non-leaf-grad-retain-grad": "reading .grad of a computed tensor",
    "numpy-on-tensor-requiring-grad": ".numpy() on a model output",
    "optimizer-empty-parameter-list": "layers in a plain list",
    "optimizer-non-leaf-tensor": "requires_grad tensor moved with .to()",
    "parameter-created-in-forward": "nn.Parameter made in forward",
    "parameter-reassigned-non-leaf": "p = p * 2 after p = nn.Parameter(...)",
    "parameter-unused-in-forward": "a layer built in __init__ that forward never uses",
    "parameter-view-non-leaf": "a view of a Parameter used as a leaf",
    "parameters-generator-reused": "params = model.parameters() used twice",
    "parameters-in-python-list": "layers in a plain list",
    "pickle-local-lambda": "torch.save of a module holding a lambda",
    "requires-grad-tensor-not-parameter": "requires_grad tensor attribute",
    "requires-grad-then-to-non-leaf": "requires_grad tensor moved with .to()",
    "scheduler-step-before-optimizer": "scheduler.step() before optimizer.step()",
    "scheduler-stepped-per-batch": "an epoch scheduler stepped in the batch loop",
    "sequential-multiple-inputs": "nn.Sequential called with two inputs",
    "sgd-given-module-not-parameters": "optimizer given the module",
    "sigmoid-before-bce-with-logits": "sigmoid into BCEWithLogitsLoss",
    "softmax-before-cross-entropy": "softmax into CrossEntropyLoss",
    "state-dict-snapshot-reference": "best = model.state_dict() in the loop",
    "tensor-attribute-not-buffer": "tensor attribute, not a buffer",
    "torch-tensor-cuts-graph": "torch.tensor over graph tensors",
    "validation-updates-batchnorm-stats": "validation forward in train mode",
    "zero-grad-between-backward-and-step": "zero_grad between backward and step",
}


def main() -> int:
    from kb import paths
    from kb.doctor import all_rules, check_text
    from kb.entries import load_catalogue

    entries = load_catalogue(Path(p) for p in paths.entry_files(paths.entries_dir()))
    by_id = {e.id: e for e in entries}
    unknown = sorted(set(VISIBLE) - set(by_id))
    if unknown:
        print(f"not in the catalogue: {', '.join(unknown)}", file=sys.stderr)
    rules = list(all_rules().values())
    caught, proven, missed = [], [], []
    for entry_id in sorted(set(VISIBLE) & set(by_id)):
        entry = by_id[entry_id]
        on_repro = {f.code for f in check_text(entry.repro, rules=rules)}
        on_fix = {f.code for f in check_text(entry.fix, rules=rules)}
        codes = sorted(on_repro - on_fix)
        if codes:
            caught.append((entry_id, codes))
            if set(codes) & set(entry.doctor):
                proven.append(entry_id)
        else:
            missed.append(entry_id)
    visible = len(caught) + len(missed)
    print(f"entries: {len(entries)}; visible statically: {visible}")
    print(f"caught by a rule: {len(caught)} ({len(caught) / visible:.0%} recall)")
    print(f"  of which proven (the entry names the rule): {len(proven)}")
    for entry_id, codes in caught:
        print(f"  caught  {entry_id:<45} {', '.join(codes)}")
    for entry_id in missed:
        print(f"  missed  {entry_id:<45} {VISIBLE[entry_id]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
