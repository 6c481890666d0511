# ruff: noqa: E501  (messages stay on one line, as torch prints them)
"""The most common PyTorch errors: each message, as torch 2.13 prints it (with a user's
values filled in), finds its entry first. Three of the sixty have no entry because no
deterministic trigger exists (cuBLAS execution failures, NCCL watchdog timeouts, a CUDA
wheel without kernels for the GPU); see the catalogue notes.
"""

import pytest

from kb.search import search

ELEMENT_0 = {"torch-tensor-cuts-graph", "loss-computed-under-no-grad", "all-parameters-frozen"}

MESSAGES = [
    (
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB of which 1.06 GiB is free. Including non-PyTorch memory, this process has 78.12 GiB memory in use. Of the allocated memory 76.50 GiB is allocated by PyTorch, and 1.12 GiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)",
        {"cuda-out-of-memory", "cuda-oom-attention", "cuda-oom-memory-held-by-previous-run"},
    ),
    (
        "RuntimeError: Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!",
        {"device-mismatch-cuda-cpu"},
    ),
    (
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x2048 and 512x10)",
        {"linear-shape-mismatch"},
    ),
    (
        "torch.AcceleratorError: CUDA error: device-side assert triggered",
        {"cuda-device-side-assert"},
    ),
    ("IndexError: Target 5 is out of bounds.", {"cross-entropy-target-out-of-bounds"}),
    ("IndexError: index out of range in self", {"embedding-index-out-of-range"}),
    ("AssertionError: Torch not compiled with CUDA enabled", {"torch-not-compiled-with-cuda"}),
    (
        "RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation: [torch.FloatTensor [3]], which is output 0 of Sigmoid, is at version 1; expected version 0 instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).",
        {"inplace-modified-saved-tensor", "inplace-activation-modifies-saved-output"},
    ),
    (
        "RuntimeError: Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if you need to access saved tensors after calling backward.",
        # three look-alikes print this message; the bare message cannot tell them apart
        {
            "backward-twice-retain-graph",
            "backward-twice-reused-tensor",
            "rnn-hidden-state-not-detached",
        },
    ),
    (
        "RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn",
        ELEMENT_0,
    ),
    (
        "RuntimeError: The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1",
        {"broadcast-size-mismatch"},
    ),
    (
        'RuntimeError: Error(s) in loading state_dict for ResNet:\n\tMissing key(s) in state_dict: "conv1.weight", "bn1.weight".\n\tUnexpected key(s) in state_dict: "module.conv1.weight", "module.bn1.weight".',
        {"state-dict-module-prefix"},
    ),
    (
        "RuntimeError: Given groups=1, weight of size [64, 3, 7, 7], expected input[8, 1, 224, 224] to have 3 channels, but got 1 channels instead",
        {"conv-input-channels-mismatch"},
    ),
    (
        "_pickle.UnpicklingError: Weights only load failed. This file can still be loaded, to do so you have two options, \x1b[1mdo those steps only if you trust the source of the checkpoint\x1b[0m.",
        {"torch-load-weights-only-default", "cached-model-weights-only-load"},
    ),
    (
        "RuntimeError: mat1 and mat2 must have the same dtype, but got Double and Float",
        {"input-float64-weights-float32"},
    ),
    (
        "RuntimeError: Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. If you are running on a CPU-only machine, please use torch.load with map_location=torch.device('cpu') to map your storages to the CPU.",
        {"load-cuda-checkpoint-on-cpu"},
    ),
    (
        "RuntimeError: Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.",
        {"numpy-on-tensor-requiring-grad"},
    ),
    (
        "TypeError: can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.",
        {"numpy-on-cuda-tensor"},
    ),
    (
        "RuntimeError: Error(s) in loading state_dict for Net:\n\tsize mismatch for fc.weight: copying a param with shape torch.Size([10, 512]) from checkpoint, the shape in current model is torch.Size([100, 512]).",
        {"state-dict-size-mismatch"},
    ),
    (
        "RuntimeError: expected target dtype to be Long or Byte, but got Float",
        {"cross-entropy-target-dtype"},
    ),
    (
        "RuntimeError: stack expects each tensor to be equal size, but got [3, 224, 224] at entry 0 and [3, 256, 256] at entry 5",
        {"collate-unequal-tensor-sizes"},
    ),
    (
        "Traceback (most recent call last):\nRuntimeError: DataLoader worker (pid 12345) is killed by signal: Killed.\n\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\nRuntimeError: DataLoader worker (pid(s) 12345) exited unexpectedly",
        {"dataloader-worker-killed"},
    ),
    (
        "Traceback (most recent call last):\nRuntimeError: DataLoader worker (pid 4242) is killed by signal: Bus error. It is possible that dataloader's workers are out of shared memory. Please try to raise your shared memory limit.\n\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\nRuntimeError: DataLoader worker (pid(s) 4242) exited unexpectedly",
        {"dataloader-worker-bus-error"},
    ),
    (
        "RuntimeError: Boolean value of Tensor with more than one value is ambiguous",
        {"tensor-bool-ambiguous", "loss-class-given-tensors"},
    ),
    (
        "RuntimeError: view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.",
        {"view-non-contiguous"},
    ),
    # 6 elements are 3 whole rows of 2: the feature size fits, the first size does not,
    # which is batch-size-hardcoded-in-model's case as much as the general entry's.
    (
        "RuntimeError: shape '[4, 2]' is invalid for input of size 6",
        {"view-shape-invalid-size", "batch-size-hardcoded-in-model"},
    ),
    (
        "RuntimeError: shape '[-1, 196]' is invalid for input of size 288",
        {"view-shape-invalid-size"},
    ),
    (
        "RuntimeError: MPS backend out of memory (MPS allocated: 8.91 GB, other allocations: "
        "3.20 MB, max allowed: 9.07 GB). Tried to allocate 256.00 MB on private pool. Use "
        "PYTORCH_MPS_HIGH_WATERMARK_RATIO=0.0 to disable upper limit for memory allocations "
        "(may cause system failure).",
        {"mps-out-of-memory"},
    ),
    (
        "RuntimeError: 0D or 1D target tensor expected, multi-target not supported",
        {"cross-entropy-one-hot-target"},
    ),
    (
        "ValueError: Expected input batch_size (64) to match target batch_size (32).",
        {"input-target-batch-size-mismatch"},
    ),
    (
        "ValueError: Expected more than 1 value per channel when training, got input size torch.Size([1, 64])",
        {"batchnorm-batch-size-one"},
    ),
    (
        "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation.",
        {"leaf-inplace-update"},
    ),
    (
        "RuntimeError: grad can be implicitly created only for scalar outputs",
        {"backward-non-scalar"},
    ),
    (
        "RuntimeError: Expected to have finished reduction in the prior iteration before starting a new one. This error indicates that your module has parameters that were not used in producing loss.",
        {"ddp-unused-parameters"},
    ),
    (
        "ValueError: Target size (torch.Size([16])) must be the same as input size (torch.Size([16, 1]))",
        {"bce-target-size-mismatch"},
    ),
    ("RuntimeError: Found dtype Long but expected Float", {"bce-target-dtype-long"}),
    (
        "RuntimeError: Sizes of tensors must match except in dimension 1. Expected size 28 but got size 27 for tensor number 1 in the list.",
        {"cat-sizes-mismatch"},
    ),
    (
        "RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central directory",
        {"torch-load-truncated-file"},
    ),
    (
        "RuntimeError: Cannot re-initialize CUDA in forked subprocess. To use CUDA with multiprocessing, you must use the 'spawn' start method",
        {"cuda-reinit-forked-subprocess"},
    ),
    (
        "/usr/lib/python3/site-packages/torch/optim/lr_scheduler.py:198: UserWarning: Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 and later, you should call them in the opposite order: `optimizer.step()` before `lr_scheduler.step()`.  Failure to do this will result in PyTorch skipping the first value of the learning rate schedule. See more details at https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate",
        {"scheduler-step-before-optimizer"},
    ),
    (
        "RuntimeError: Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [3, 32]",
        {"conv-input-missing-batch-dim"},
    ),
    (
        "IndexError: Dimension out of range (expected to be in range of [-1, 0], but got 1)",
        {"dimension-out-of-range"},
    ),
    ("ValueError: can't optimize a non-leaf Tensor", {"optimizer-non-leaf-tensor"}),
    ("AttributeError: 'NoneType' object has no attribute 'zero_'", {"grad-none-zero"}),
    (
        "IndexError: invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a number",
        {"index-0-dim-tensor"},
    ),
    ("ValueError: Attempting to unscale FP16 gradients.", {"gradscaler-fp16-params"}),
    (
        "NotImplementedError: Cannot copy out of meta tensor; no data! Please use torch.nn.Module.to_empty() instead of torch.nn.Module.to() when moving module from meta to a different device.",
        {"meta-module-to"},
    ),
    (
        "RuntimeError: probability tensor contains either `inf`, `nan` or element < 0",
        {"multinomial-invalid-probabilities"},
    ),
    ("KeyError: Caught KeyError in DataLoader worker process 0.", {"dataloader-worker-exception"}),
    # Alone, the message fits torch.save and spawned DataLoader workers alike (the frames
    # tell them apart: kb/readers/localobject.py).
    (
        "AttributeError: Can't pickle local object 'main.<locals>.<lambda>'",
        {"pickle-local-lambda", "spawn-worker-pickle-local-object"},
    ),
    ("ValueError: expected sequence of length 4 at dim 1 (got 3)", {"tensor-from-ragged-list"}),
    (
        "RuntimeError: Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't be greater than actual input size",
        {"kernel-larger-than-input"},
    ),
    ("ValueError: optimizer got an empty parameter list", {"optimizer-empty-parameter-list"}),
    (
        'NotImplementedError: Module [Net] is missing the required "forward" function',
        {"forward-misspelled"},
    ),
    (
        "AttributeError: cannot assign module before Module.__init__() call",
        {"module-init-not-called"},
    ),
    (
        "ValueError: Expected parameter loc (Tensor of shape (2,)) of distribution Normal(loc: torch.Size([2]), scale: torch.Size([2])) to satisfy the constraint Real(), but found invalid values:",
        {"distribution-parameter-nan"},
    ),
    (
        "RuntimeError: The expanded size of the tensor (4) must match the existing size (2) at non-singleton dimension 1.  Target sizes: [2, 4, 5, 5].  Tensor sizes: [2, 5, 5]",
        {"expand-size-mismatch"},
    ),
    (
        "ValueError: Default process group has not been initialized, please make sure to call init_process_group.",
        {"process-group-not-initialized"},
    ),
    (
        "TypeError: default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found <class 'PIL.Image.Image'>",
        {"collate-pil-image"},
    ),
    (
        "torch._dynamo.exc.Unsupported: Tensor.tolist() with non-integer tensor",
        {"compile-fullgraph-graph-break"},
    ),
    (
        "RuntimeError: input.size(-1) must be equal to input_size. Expected 10, got 3",
        {"rnn-input-size-mismatch"},
    ),
]


@pytest.mark.parametrize(("message", "expected"), MESSAGES, ids=[sorted(e)[0] for _, e in MESSAGES])
@pytest.mark.parametrize("large", [False, True], ids=["small", "large"])
def test_common_message_finds_its_entry_first(message, expected, large, monkeypatch):
    if large:
        # The shortcuts a catalogue of 2,000 entries or more takes (rarest words only,
        # messages asked for with every word first, named entries looked up one by one),
        # here on the real catalogue; scripts/bench_scale.py measures them at 10,000.
        monkeypatch.setattr("kb.search.PRUNE_FROM", 0)
    hits, _ = search(message, limit=len(expected) + 2)
    ids = [h.id for h in hits]
    assert ids[:1] and ids[0] in expected, ids
    if not large:  # look-alikes sharing the message all come next
        assert set(ids[: len(expected)]) == expected, ids
