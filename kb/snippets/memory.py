"""Estimate activation and attention-map memory of a forward pass, without running it.

Paste-alone helper from kb (`kb show --snippet memory_estimate`); needs only torch.

    print(estimate_memory(model, (32, 512, 768)))       # an input shape, or tensors
    print(attention_bytes(batch=32, heads=12, seq=4096))  # the N x N arithmetic alone
    print(measure_memory(model, torch.randn(32, 512, 768)))  # the real figure, to compare

Training memory is parameters + gradients + optimizer state + *activations*, and the
last grows with batch and sequence length: every tensor autograd saves for backward
stays allocated from the forward pass until backward frees it. An attention layer saves
its softmax output, a [batch, heads, N, N] map, so doubling the sequence quadruples it.
The estimate runs the forward pass on the meta device (shapes only: no memory, no
compute, the model itself untouched) with saved-tensor hooks that add up what autograd
keeps, leaving out the parameters themselves, and names the largest saved tensors.
Fused attention kernels (scaled_dot_product_attention's flash and memory-efficient
backends) keep no N x N map; the meta pass takes the math path, so for them the figure
is an upper bound.
`measure_memory` runs the real forward and reports what stayed allocated: CUDA's
allocator statistics on a GPU, glibc's malloc statistics (mallinfo2) on a Linux CPU.
"""

from __future__ import annotations

import dataclasses

import torch
from torch.func import functional_call


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


@dataclasses.dataclass
class MemoryReport:
    parameter_bytes: int
    input_bytes: int
    activation_bytes: int  # saved for backward, parameters and inputs excluded
    attention_bytes: int  # the part of activation_bytes in square [..., N, N] maps
    output_bytes: int
    largest: list  # (shape, dtype, bytes, node that made it) of the largest saved tensors
    budget: int | None = None

    @property
    def forward_bytes(self) -> int:
        """What a forward pass keeps allocated beyond the model and its inputs."""
        return self.activation_bytes + self.output_bytes

    @property
    def clean(self) -> bool:
        """False when a budget was given and the forward pass alone exceeds it."""
        total = self.parameter_bytes + self.input_bytes + self.forward_bytes
        return self.budget is None or total <= self.budget

    def as_dict(self) -> dict:
        return {
            **{k: v for k, v in dataclasses.asdict(self).items() if k != "largest"},
            "forward_bytes": self.forward_bytes,
            "clean": self.clean,
            "largest": [
                {"shape": list(s), "dtype": str(d), "bytes": b, "node": n}
                for s, d, b, n in self.largest
            ],
        }

    def __str__(self) -> str:
        lines = [
            "memory estimate (one forward pass, kept for backward):",
            f"  parameters       {_mib(self.parameter_bytes)} (gradients add as much again;"
            " Adam's state twice that)",
            f"  inputs           {_mib(self.input_bytes)}",
            f"  activations      {_mib(self.activation_bytes)}"
            + (
                f" of which attention maps {_mib(self.attention_bytes)}"
                if self.attention_bytes
                else ""
            ),
            f"  output           {_mib(self.output_bytes)}",
        ]
        if self.budget is not None:
            verdict = "fits" if self.clean else "does NOT fit"
            lines.append(f"  budget           {_mib(self.budget)}: {verdict}")
        if self.largest:
            lines.append("  largest saved tensors:")
            for shape, dtype, nbytes, node in self.largest:
                lines.append(f"    {list(shape)} {dtype} {_mib(nbytes)} (made by {node})")
        return "\n".join(lines)

    __repr__ = __str__


def attention_bytes(batch: int, heads: int, seq: int, dtype=torch.float32, maps: int = 1) -> int:
    """Bytes of `maps` [batch, heads, seq, seq] attention maps: the N x N arithmetic.

    Eager attention keeps at least the softmax output for backward (dropout on it keeps
    a second map and a mask): pass maps=2 or 3 for those.
    """
    return batch * heads * seq * seq * torch.empty((), dtype=dtype).element_size() * maps


def _as_inputs(inputs, dtype, device):
    out = []
    for item in inputs:
        if isinstance(item, torch.Tensor):
            out.append(torch.empty(item.shape, dtype=item.dtype, device=device))
        else:  # a shape
            out.append(torch.empty(tuple(item), dtype=dtype, device=device))
    return out


def estimate_memory(model: torch.nn.Module, *inputs, dtype=None, budget: int | None = None):
    """Estimate memory of model(*inputs); each input is a tensor or a shape (a tuple).

    Nothing real is allocated: parameters and inputs are replaced by meta tensors of the
    same shapes for the duration of the call.
    """
    dtype = dtype or torch.get_default_dtype()
    params = {n: p for n, p in model.named_parameters()}
    state = {
        **{
            n: torch.empty_like(p, device="meta").requires_grad_(p.requires_grad)
            for n, p in params.items()
        },
        **{n: torch.empty_like(b, device="meta") for n, b in model.named_buffers()},
    }
    meta_inputs = _as_inputs(inputs, dtype, "meta")
    excluded = {t.untyped_storage()._cdata for t in list(state.values()) + meta_inputs}
    saved: dict = {}  # storage id -> (bytes, shape, dtype, node)

    def pack(t):
        key = t.untyped_storage()._cdata
        if key not in excluded and key not in saved:
            name = type(t.grad_fn).__name__ if t.grad_fn is not None else "no grad_fn"
            saved[key] = (t.untyped_storage().nbytes(), tuple(t.shape), t.dtype, name, t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), torch.enable_grad():
        output = functional_call(model, state, tuple(meta_inputs))
    outputs = [t for t in _leaves(output)]
    output_bytes = sum(
        t.untyped_storage().nbytes() for t in outputs if t.untyped_storage()._cdata not in saved
    )
    entries = sorted(saved.values(), key=lambda e: -e[0])
    attention = sum(nbytes for nbytes, shape, _, node, _ in entries if _is_attention(shape, node))
    return MemoryReport(
        parameter_bytes=sum(p.numel() * p.element_size() for p in params.values()),
        input_bytes=sum(t.numel() * t.element_size() for t in meta_inputs),
        activation_bytes=sum(e[0] for e in entries),
        attention_bytes=attention,
        output_bytes=output_bytes,
        largest=[(shape, dt, nbytes, node) for nbytes, shape, dt, node, _ in entries[:5]],
        budget=budget,
    )


def _is_attention(shape, node) -> bool:
    """A square [..., N, N] map made by a softmax (or a view of one): attention weights."""
    square = len(shape) >= 3 and shape[-1] == shape[-2] > 1
    return square and ("Softmax" in node or len(shape) >= 4)


def _leaves(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)


def _malloc_in_use() -> int | None:
    """glibc's bytes in use (heap + mmap), or None where mallinfo2 is unavailable."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None

    class Info(ctypes.Structure):
        names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
        _fields_ = [(name, ctypes.c_size_t) for name in names.split()]

    mallinfo2.restype = Info
    info = mallinfo2()
    return info.uordblks + info.hblkhd


def measure_memory(model: torch.nn.Module, *inputs) -> dict:
    """Run model(*inputs) for real and report the bytes the forward pass left allocated.

    `held_bytes` is what stays allocated while the output (and so its graph) is alive:
    the figure `estimate_memory(...).forward_bytes` predicts. On CUDA `peak_bytes` adds
    the temporaries freed during the pass (torch.cuda.max_memory_allocated). One pass
    runs first and is thrown away: BLAS and cuBLAS keep workspaces from their first call
    with a shape, which are not the model's.
    """
    model(*inputs)
    device = next(iter(model.parameters()), torch.empty(0)).device
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        output = model(*inputs)
        torch.cuda.synchronize(device)
        held = torch.cuda.memory_allocated(device) - before
        peak = torch.cuda.max_memory_allocated(device) - before
        del output
        return {
            "device": str(device),
            "held_bytes": held,
            "peak_bytes": peak,
            "how": "cuda allocator",
        }
    before = _malloc_in_use()
    if before is None:
        raise RuntimeError("measuring CPU memory needs glibc's mallinfo2 (Linux)")
    output = model(*inputs)
    held = _malloc_in_use() - before
    del output
    return {"device": str(device), "held_bytes": held, "peak_bytes": None, "how": "glibc mallinfo2"}
