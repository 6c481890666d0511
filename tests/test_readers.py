"""kb.readers: the cause a shared message shows in its variable parts."""

import sys
from pathlib import Path

import pytest

from kb.entries import load_catalogue
from kb.paths import entry_files
from kb.readers import READERS, verdicts
from kb.readers import unlikely as less_likely
from kb.readers.inplace import operation
from kb.search import search

ROOT = Path(__file__).resolve().parent.parent

INPLACE = (
    "RuntimeError: one of the variables needed for gradient computation has been modified "
    "by an inplace operation: [torch.FloatTensor [4, 1]], which is output 0 of {op}, is at "
    "version 1; expected version 0 instead. Hint: enable anomaly detection to find the "
    "operation that failed to compute its gradient, with "
    "torch.autograd.set_detect_anomaly(True, check_nan=False)."
)


@pytest.mark.parametrize(
    "named, function",
    [
        ("Sigmoid", "Sigmoid"),
        ("SigmoidBackward0", "Sigmoid"),
        ("ReluBackward", "Relu"),
        ("TBackward0", "T"),
        ("AsStrided", "AsStrided"),
    ],
)
def test_the_operation_is_read_under_each_releases_naming(named, function):
    assert operation(INPLACE.format(op=named)) == function


def test_a_message_without_the_operation_names_none():
    leaf = (
        "RuntimeError: one of the variables needed for gradient computation has been "
        "modified by an inplace operation: [torch.FloatTensor [3]] is at version 2; "
        "expected version 1 instead."
    )
    assert operation(leaf) is None
    assert verdicts(leaf) == []


@pytest.mark.parametrize(
    "op, expected",
    [
        ("Sigmoid", "inplace-activation-modifies-saved-output"),
        ("ReluBackward0", "inplace-activation-modifies-saved-output"),
        ("TanhBackward0", "inplace-activation-modifies-saved-output"),
        ("TBackward0", "gan-step-between-backwards"),
    ],
)
def test_search_puts_the_entry_the_operation_shows_first(op, expected):
    hits, _ = search(INPLACE.format(op=op))
    assert hits[0].id == expected
    assert hits[0].parts.get("reader", 0) > 0 and hits[0].match == "exact"


@pytest.mark.parametrize("op", ["AsStrided", "DivBackward0", "Stack", "CopySlices"])
def test_operations_of_no_single_cause_decide_nothing(op):
    assert verdicts(INPLACE.format(op=op)) == []
    hits, _ = search(INPLACE.format(op=op))
    assert all("reader" not in h.parts for h in hits)


def test_every_reader_points_to_entries_of_the_catalogue():
    ids = {e.id for e in load_catalogue([Path(p) for p in entry_files(ROOT / "entries")])}
    from kb.readers import inplace, statedict, weightsonly

    assert set(statedict.ENTRY_FOR.values()) <= ids
    assert {inplace.ACTIVATION, inplace.WEIGHT_STEPPED, weightsonly.METHOD_SAVED} <= ids
    assert weightsonly.NOT_A_PICKLE in ids
    from kb.readers import undefinedsymbol

    assert {undefinedsymbol.TORCH_OWN, undefinedsymbol.EXTENSION} <= ids
    from kb.readers import devices

    assert {devices.CPU_AND_GPU, devices.TWO_GPUS} <= ids
    from kb.readers import inputtype

    assert {inputtype.DEVICE, inputtype.UINT8, inputtype.FLOAT64} <= ids
    from kb.readers import viewbatch

    assert viewbatch.BATCH in ids
    from kb.readers import sharedobject

    assert {sharedobject.CUDA, sharedobject.TORCH} <= ids
    from kb.readers import batchsizes

    assert batchsizes.SQUEEZED in ids
    from kb.readers import checkpointwarning, elementzero

    assert {elementzero.CHECKPOINT, checkpointwarning.CHECKPOINT} <= ids
    from kb.readers import pagingfile

    assert pagingfile.PAGING_FILE in ids
    from kb.readers import scalaroutputs

    assert scalaroutputs.ITEM in ids
    from kb.readers import childfailed

    assert childfailed.ENTRY in ids
    from kb.readers import parametercopy

    assert parametercopy.ENTRY in ids
    from kb.readers import gradcopy

    assert gradcopy.ENTRY in ids
    from kb.readers import deviceassert

    assert deviceassert.GENERAL in ids
    assert {entry for _, entry in deviceassert.CONDITIONS} <= ids
    from kb.readers import functionbackward

    assert functionbackward.ENTRY in ids
    from kb.readers import dllnotfound

    assert dllnotfound.ENTRY in ids
    from kb.readers import emptyfile

    assert emptyfile.LOAD in ids
    for name, trigger in READERS.items():
        module = sys.modules.get(f"kb.readers.{name}") or __import__(
            f"kb.readers.{name}", fromlist=["TRIGGER"]
        )
        assert trigger == module.TRIGGER


WEIGHTS_ONLY = (
    "_pickle.UnpicklingError: Weights only load failed. This file can still be loaded, to do "
    "so you have two options, do those steps only if you trust the source of the checkpoint."
)


def test_global_getattr_points_to_a_saved_bound_method():
    hits, _ = search(
        WEIGHTS_ONLY + "\nWeightsUnpickler error: Unsupported global: GLOBAL getattr was not "
        "an allowed global by default."
    )
    assert hits[0].id == "torch-save-state-dict-method"
    assert "getattr" in hits[0].why and hits[0].parts["reader"] > 0


@pytest.mark.parametrize(
    "detail",
    ["", "\nWeightsUnpickler error: Unsupported global: GLOBAL models.yolo.DetectionModel"],
)
def test_without_global_getattr_the_bound_method_cause_is_less_likely(detail):
    hits, _ = search(WEIGHTS_ONLY + detail)
    method = next(h for h in hits if h.id == "torch-save-state-dict-method")
    assert method.parts["reader"] < 0 and method.match == "exact"
    assert hits[0].id != "torch-save-state-dict-method"


NOT_A_PICKLE = (
    "_pickle.UnpicklingError: Weights only load failed. In PyTorch 2.6, we changed the default "
    "value of the `weights_only` argument in `torch.load` from `False` to `True`. Re-running "
    "`torch.load` with `weights_only` set to `False` will likely succeed, but it can result in "
    "arbitrary code execution. Do it only if you got the file from a trusted source.\n"
    "Please file an issue with the following so that we can make `weights_only=True` "
    "compatible with your use case: WeightsUnpickler error: \n\nUnsupported operand {n}\n"
)


@pytest.mark.parametrize(("n", "byte"), [(118, "'v'"), (60, "'<'"), (10, "'\\n'")])
def test_an_operand_that_is_a_text_byte_points_to_a_file_that_is_not_a_checkpoint(n, byte):
    for paste in (NOT_A_PICKLE.format(n=n), f"WeightsUnpickler error: Unsupported operand {n}"):
        hits, _ = search(paste)
        assert hits[0].id == "checkpoint-file-not-a-checkpoint", paste
        assert byte in hits[0].why and hits[0].parts["reader"] > 0


@pytest.mark.parametrize("n", [149, 140, 1, 0])
def test_an_operand_that_is_no_text_byte_decides_nothing(n):
    # 149 is FRAME, 140 SHORT_BINUNICODE: a newer pickle protocol, not a text file.
    assert verdicts(NOT_A_PICKLE.format(n=n)) == []


@pytest.mark.parametrize(
    "library",
    [
        "/opt/env/lib/python3.8/site-packages/torch/lib/libTHD.so.1",
        "/home/u/conda/lib/python3.9/site-packages/torch/_C.cpython-39-x86_64-linux-gnu.so",
        "/home/u/venv/lib/python3.10/site-packages/torch/lib/libc10_cuda.so",
        "/home/u/libtorch/lib/libtorch_python.so",
    ],
)
def test_undefined_symbol_in_torchs_own_library_points_to_a_mixed_install(library):
    hits, _ = search(f"ImportError: {library}: undefined symbol: _ZN3c104impl8GPUTrace")
    assert hits[0].id == "torch-library-shadowed" and hits[0].match == "exact"
    assert "torch's own" in hits[0].why
    extension = next(h for h in hits if h.id == "extension-built-for-other-torch")
    assert extension.parts["reader"] < 0 and extension.match == "exact"


@pytest.mark.parametrize(
    "library",
    [
        "/home/u/venv/lib/python3.10/site-packages/torch_sparse/_version_cpu.so",
        "/home/u/proj/build/lib.linux-x86_64-3.8/_C.cpython-38-x86_64-linux-gnu.so",
        "/usr/lib/python3/site-packages/torchvision/_C.so",
    ],
)
def test_undefined_symbol_in_an_extension_points_to_a_rebuild(library):
    hits, _ = search(f"ImportError: {library}: undefined symbol: _ZN2at5zerosEv")
    assert hits[0].id == "extension-built-for-other-torch"
    assert "an extension's" in hits[0].why and hits[0].parts["reader"] > 0


def test_undefined_symbol_without_a_library_file_decides_nothing():
    assert verdicts("undefined symbol: cudnnGetVersion") == []
    assert verdicts("error: undefined symbol foo in module bar") == []


SAME_DEVICE = "RuntimeError: Expected all tensors to be on the same device, but "


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ("found at least two devices, cuda:0 and cpu! (when checking argument for argument "
         "index in method wrapper_CUDA__index_select)", "device-mismatch-cuda-cpu"),
        ("found at least two devices, cpu and cuda:3!", "device-mismatch-cuda-cpu"),
        ("got index is on cpu, different from other tensors on cuda:0 (when checking "
         "argument in method wrapper_CUDA__index_select)", "device-mismatch-cuda-cpu"),
        ("found at least two devices, cuda:1 and cuda:0!", "device-mismatch-two-gpus"),
        ("got mat2 is on cuda:1, different from other tensors on cuda:0 (when checking "
         "argument in method wrapper_CUDA_mm)", "device-mismatch-two-gpus"),
    ],
)  # fmt: skip
def test_the_two_devices_named_tell_a_cpu_tensor_from_a_second_gpu(detail, expected):
    hits, _ = search(SAME_DEVICE + detail)
    assert hits[0].id == expected and hits[0].parts["reader"] > 0
    other = next(h for h in hits if h.id != expected and h.id.startswith("device-mismatch"))
    assert other.parts["reader"] < 0 and other.match == "exact"


@pytest.mark.parametrize(
    "detail", ["found at least two devices, mps:0 and cpu!", "found at least two devices"]
)
def test_devices_of_neither_pair_decide_nothing(detail):
    assert verdicts(SAME_DEVICE + detail) == []


@pytest.mark.parametrize(
    ("message", "expected", "unlikely"),
    [
        (
            "Input type (torch.cuda.ByteTensor) and weight type (torch.cuda.FloatTensor) "
            "should be the same",
            "conv-input-uint8-image",
            {"device-mismatch-cuda-cpu", "conv-input-float64"},
        ),
        (
            "Input type (torch.cuda.DoubleTensor) and weight type (torch.cuda.FloatTensor) "
            "should be the same",
            "conv-input-float64",
            {"device-mismatch-cuda-cpu", "conv-input-uint8-image"},
        ),
        (
            "Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor) should "
            "be the same or input should be a MKLDNN tensor and weight is a dense tensor",
            "device-mismatch-cuda-cpu",
            {"conv-input-float64", "conv-input-uint8-image"},
        ),
        (
            "Input type (double) and bias type (float) should be the same",
            "conv-input-float64",
            {"conv-input-uint8-image"},  # no device template matches this wording
        ),
    ],
)
def test_the_two_types_tell_a_device_from_a_dtype_mismatch(message, expected, unlikely):
    hits, _ = search("RuntimeError: " + message)
    assert hits[0].id == expected and hits[0].parts["reader"] > 0
    down = {h.id for h in hits if h.parts.get("reader", 0) < 0}
    assert unlikely <= down


def test_types_that_differ_in_nothing_it_knows_decide_nothing():
    message = "Input type (torch.cuda.HalfTensor) and weight type (torch.cuda.FloatTensor)"
    assert verdicts(message) == []


@pytest.mark.parametrize(
    "message",
    [
        "RuntimeError: shape '[4, 64]' is invalid for input of size 128",
        "RuntimeError: shape '[64, 10]' is invalid for input of size 160",
        "RuntimeError: shape '[32, 3, 32, 32]' is invalid for input of size 49152",
    ],
)
def test_fewer_whole_rows_than_the_first_size_is_a_hard_coded_batch(message):
    hits, _ = search(message)
    assert hits[0].id == "batch-size-hardcoded-in-model" and hits[0].parts["reader"] > 0


@pytest.mark.parametrize(
    "message",
    [
        "RuntimeError: shape '[-1, 400]' is invalid for input of size 18432",
        "RuntimeError: shape '[32, 400]' is invalid for input of size 18432",  # rows don't fit
        "RuntimeError: shape '[4, 64]' is invalid for input of size 512",  # more rows
    ],
)
def test_a_feature_size_that_does_not_fit_is_not_a_batch_size(message):
    hits, _ = search(message)
    assert hits[0].id == "view-shape-invalid-size"
    assert verdicts(message) == []


CANNOT_OPEN = "OSError: {}: cannot open shared object file: No such file or directory"


@pytest.mark.parametrize(
    ("library", "expected"),
    [
        ("libcurand.so.10", "cuda-library-cannot-open"),
        ("libcudnn.so.8", "cuda-library-cannot-open"),
        ("libnvToolsExt.so.1", "cuda-library-cannot-open"),
        ("libc10.so", "extension-imported-before-torch"),
        ("libtorch_cuda.so", "extension-imported-before-torch"),
    ],
)
def test_the_library_the_loader_cannot_open_names_the_failure(library, expected):
    hits, _ = search(CANNOT_OPEN.format(library))
    assert hits[0].id == expected and hits[0].parts["reader"] > 0
    # Named by the reader, at least a partial match: never "no entry explains this".
    assert hits[0].match in ("exact", "partial")


def test_a_library_neither_cudas_nor_torchs_is_no_entrys():
    message = CANNOT_OPEN.format("libGL.so.1")
    assert verdicts(message) == []
    hits, _ = search(message)
    assert all(h.match == "related" for h in hits)


def test_an_input_of_one_row_against_a_longer_target_is_a_squeezed_batch():
    hits, _ = search("ValueError: Expected input batch_size (1) to match target batch_size (256).")
    assert hits[0].id == "squeeze-drops-batch-dim" and hits[0].parts["reader"] > 0


def test_an_input_of_several_rows_is_not_a_squeezed_batch():
    message = "ValueError: Expected input batch_size (32768) to match target batch_size (64)."
    hits, _ = search(message)
    assert hits[0].id != "squeeze-drops-batch-dim"
    assert verdicts(message) == []


ELEMENT_0 = "RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn"


@pytest.mark.parametrize(
    "context",
    [
        "UserWarning: None of the inputs have requires_grad=True. Gradients will be None\n",
        '  File "/venv/lib/python3.10/site-packages/torch/utils/checkpoint.py", line 90\n',
        "I enabled gradient checkpointing with LoRA and got\n",
    ],
)
def test_element_0_with_checkpointing_in_the_paste_points_to_its_entry(context):
    hits, _ = search(context + ELEMENT_0)
    assert hits[0].id == "activation-checkpoint-no-input-requires-grad"
    assert hits[0].parts["reader"] > 0


@pytest.mark.parametrize(
    "context",
    ["", '  File "train.py", line 80, in <module>\n    load_checkpoint(model, args.resume)\n'],
)
def test_element_0_without_checkpointing_makes_that_cause_less_likely(context):
    hits, _ = search(context + ELEMENT_0)
    checkpoint = next(h for h in hits if h.id == "activation-checkpoint-no-input-requires-grad")
    assert checkpoint.parts["reader"] < 0 and hits[0].id != checkpoint.id


def test_the_checkpoint_warning_alone_names_its_entry():
    hits, _ = search(
        "UserWarning: None of the inputs have requires_grad=True. Gradients will be None"
    )
    assert hits[0].id == "activation-checkpoint-no-input-requires-grad"
    assert hits[0].match == "partial"


def test_windows_error_1455_alone_names_the_paging_file_entry_partial():
    paste = "OSError: [WinError 1455] The paging file is too small for this operation to complete."
    hits, _ = search(paste)
    assert hits[0].id == "windows-paging-file-too-small" and hits[0].match == "partial"


@pytest.mark.parametrize(
    "paste",
    [
        "W0811 21:16:49.580000 11928 torch/_dynamo/variables/tensor.py:776] [0/0] "
        "Graph break from `Tensor.item()`, consider setting:\n"
        "W0811 21:16:49.580000 11928 torch/_dynamo/variables/tensor.py:776] [0/0]     "
        "torch._dynamo.config.capture_scalar_outputs = True",
        "torch._dynamo.exc.Unsupported: Unsupported Tensor.item() call with "
        "capture_scalar_outputs=False",
    ],
)
def test_the_scalar_outputs_setting_names_the_item_graph_break(paste):
    hits, _ = search(paste)
    assert hits[0].id == "compile-item-graph-break"
    assert hits[0].match in ("exact", "partial")


MAIN_ATTR = "AttributeError: Can't get attribute 'Squares' on <module '__main__' (built-in)>"
WORKER_FRAMES = (
    '  File "C:\\Python311\\Lib\\multiprocessing\\spawn.py", line 122, in spawn_main\n'
    "    exitcode = _main(fd, parent_sentinel)\n"
    "    self = reduction.pickle.load(from_parent)\n"
)
LOAD_FRAMES = (
    '  File "predict.py", line 9, in <module>\n'
    "    model = torch.load('model.pth')\n"
    '  File "/usr/lib/python3.8/site-packages/torch/serialization.py", line 607, in load\n'
)


@pytest.mark.parametrize(
    "paste, expected",
    [
        (WORKER_FRAMES + MAIN_ATTR, "spawn-worker-class-in-main"),
        (
            "AttributeError: Can't get attribute 'ChatDataset' on "
            "<module '__mp_main__' from 'C:\\\\Users\\\\hp\\\\train.py'>",
            "spawn-worker-class-in-main",
        ),
        (LOAD_FRAMES + MAIN_ATTR, "torch-load-class-not-found"),
    ],
)
def test_the_frames_tell_a_spawned_worker_from_torch_load(paste, expected):
    assert [v[0] for v in verdicts(paste)] == [expected]
    hits, _ = search(paste)
    assert hits[0].id == expected


@pytest.mark.parametrize(
    "paste",
    [
        MAIN_ATTR,  # no frame: either cause
        WORKER_FRAMES + LOAD_FRAMES + MAIN_ATTR,  # both: no guess
        # another module named: a file from a newer torch, neither cause
        WORKER_FRAMES + "AttributeError: Can't get attribute '_rebuild_tensor_v2' on "
        "<module 'torch._utils' from '/x/torch/_utils.py'>",
    ],
)
def test_main_attr_without_telling_frames_decides_nothing(paste):
    assert [
        v
        for v in verdicts(paste)
        if v[0] in ("spawn-worker-class-in-main", "torch-load-class-not-found")
    ] == []


LOCAL = "AttributeError: Can't pickle local object 'get_cifar.<locals>.<lambda>'"
SPAWN_FRAMES = (
    '  File "E:\\envs\\lib\\site-packages\\torch\\utils\\data\\dataloader.py", line 819,'
    " in __iter__\n"
    '  File "E:\\envs\\lib\\multiprocessing\\popen_spawn_win32.py", line 65, in __init__\n'
    "    reduction.dump(process_obj, to_child)\n"
)
SAVE_FRAMES = (
    "    torch.save(model, 'checkpoints/epoch_1.pth')\n"
    '  File "/ve/lib/python3.6/site-packages/torch/serialization.py", line 443, in _legacy_save\n'
)


@pytest.mark.parametrize(
    "paste, expected",
    [
        (SPAWN_FRAMES + LOCAL, "spawn-worker-pickle-local-object"),
        (
            SPAWN_FRAMES + "AttributeError: Can't get local object 'main.<locals>.Pairs'",
            "spawn-worker-pickle-local-object",
        ),
        (SAVE_FRAMES + LOCAL, "pickle-local-lambda"),
    ],
)
def test_the_frames_tell_dataloader_workers_from_torch_save(paste, expected):
    assert [v[0] for v in verdicts(paste)] == [expected]
    hits, _ = search(paste)
    assert hits[0].id == expected


@pytest.mark.parametrize("paste", [LOCAL, SPAWN_FRAMES + SAVE_FRAMES + LOCAL])
def test_local_object_without_telling_frames_decides_nothing(paste):
    assert [
        v
        for v in verdicts(paste)
        if v[0] in ("spawn-worker-pickle-local-object", "pickle-local-lambda")
    ] == []


TOO_MANY = "TypeError: {cls}forward() takes {count} positional arguments but 3 were given"


@pytest.mark.parametrize(
    "cls, count",
    [("Pooler.", "2"), ("UNet.", "2"), ("", "3"), ("", "1"), ("", "from 2 to 4")],
)
def test_a_forward_named_or_counted_as_not_sequentials_is_the_general_entry(cls, count):
    message = TOO_MANY.format(cls=cls, count=count)
    hits, _ = search(message)
    assert hits[0].id == "forward-too-many-positional-arguments"
    assert hits[0].parts["reader"] > 0
    sequential = [h for h in hits if h.id == "sequential-multiple-inputs"]
    assert not sequential or sequential[0].parts["reader"] < 0


@pytest.mark.parametrize(
    "context", ["", "model = nn.Sequential(nn.Linear(4, 8), nn.ReLU())\nmodel(x, edge_index)\n"]
)
def test_sequential_named_or_built_in_the_paste_is_the_sequential_entry(context):
    cls = "" if context else "Sequential."
    hits, _ = search(context + TOO_MANY.format(cls=cls, count="2"))
    assert hits[0].id == "sequential-multiple-inputs"
    assert hits[0].parts["reader"] > 0
    general = next(h for h in hits if h.id == "forward-too-many-positional-arguments")
    assert general.parts["reader"] < 0


def test_a_bare_count_of_two_decides_nothing():
    # Sequential.forward takes 2 too; a printed model's "(0): Sequential(" builds nothing.
    message = "  (0): Sequential(\n" + TOO_MANY.format(cls="", count="2")
    assert verdicts(message) == []


CHILD_FAILED = (
    "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: \n"
    "============================================================\n"
    "train.py FAILED\n"
    "------------------------------------------------------------\n"
    "Failures:\n"
    "  <NO_OTHER_FAILURES>\n"
    "------------------------------------------------------------\n"
    "Root Cause (first observed failure):\n"
    "[0]:\n"
    "  rank      : 0 (local_rank: 0)\n"
    "  exitcode  : {code} (pid: 1234)\n"
    "  error_file: <N/A>\n"
    "  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html\n"
)


@pytest.mark.parametrize(
    "code, said", [("1", "an exception"), ("-9", "out-of-memory killer"), ("-11", "segmentation")]
)
def test_torchruns_summary_names_its_entry_and_reads_the_exit_code(code, said):
    paste = CHILD_FAILED.replace("{code}", code)
    hits, _ = search(paste)
    assert hits[0].id == "torchrun-child-failed-root-cause"
    assert said in hits[0].why


def test_an_exit_code_it_does_not_know_is_not_explained():
    from kb.readers import childfailed

    entry, why = childfailed.diagnose(CHILD_FAILED.replace("{code}", "3"))
    assert entry == childfailed.ENTRY and "exitcode" not in why


@pytest.mark.parametrize(
    "line, method",
    [
        ("self.t = torch.nn.Parameter(torch.rand(10), requires_grad=True).cuda()", "cuda"),
        ("self.threshold = nn.Parameter(torch.randn(1)).to('cuda')", "to"),
        ("self.w = nn.Parameter(torch.zeros(3 * (4 + 1))).view(3, 5)", "view"),
    ],
)
def test_a_call_after_parameter_names_the_non_leaf_copy(line, method):
    from kb.readers import parametercopy

    assert (
        (
            parametercopy.ENTRY,
            f"nn.Parameter(...).{method}(...): the result is a new tensor "
            "made from the Parameter, not a Parameter",
        )
    ) in verdicts(line)


@pytest.mark.parametrize(
    "line",
    [
        "self.w = nn.Parameter(torch.randn(3, 4).cuda())",  # shaped first, wrapped last
        "self.w = nn.Parameter(torch.randn(3)).requires_grad_(False)",  # stays the leaf
        "self.w = nn.Parameter(torch.randn(3)",  # cut before its closing parenthesis
        "self.w = nn.Parameter(torch.randn(3)).float()",  # float32 already: returns itself
    ],
)
def test_a_parameter_made_last_decides_nothing(line):
    assert verdicts(line) == []


def test_a_description_quoting_parameter_cuda_ranks_the_non_leaf_entry_first():
    query = (
        "Parameters transferred to GPU are ignored: self.t = torch.nn.Parameter(torch.rand(10),"
        " requires_grad=True).cuda() is not captured as a model parameter; list(m.parameters())"
        " only produces the parameters of the linear layer and not t."
    )
    hits, _ = search(query)
    assert hits[0].id == "parameter-view-non-leaf"
    assert "nn.Parameter(...).cuda(...)" in hits[0].why


def test_a_short_query_quoting_parameter_cuda_ranks_the_non_leaf_entry_first():
    # The line is the cause itself: its reader outweighs the words a shorter query shares
    # with the entry about plain tensors that require grad.
    hits, _ = search("self.w = nn.Parameter(torch.randn(3)).cuda() and w.grad is None")
    assert hits[0].id == "parameter-view-non-leaf"


@pytest.mark.parametrize(
    "line, method",
    [
        ("x = Variable(torch.ones(10), requires_grad=True).cuda()", "cuda"),
        ("w = torch.randn(3, requires_grad=True).to(device)", "to"),
    ],
)
def test_a_call_after_requires_grad_names_the_non_leaf_copy(line, method):
    from kb.readers import gradcopy

    assert verdicts(line) == [
        (
            gradcopy.ENTRY,
            f"(..., requires_grad=True).{method}(...): the tensor kept is a copy made from the "
            "one that requires grad, not a leaf",
        )
    ]


@pytest.mark.parametrize(
    "line",
    [
        "w = torch.randn(3, device=device, requires_grad=True)",  # made where it is used
        "w = torch.randn(3, requires_grad=True).requires_grad_(False)",
    ],
)
def test_a_tensor_requiring_grad_kept_as_made_decides_nothing(line):
    assert verdicts(line) == []


EMPTY_LOAD_FRAMES = (
    '  File "train.py", line 14, in load_checkpoint\n'
    "    checkpoint = torch.load(path, map_location=device)\n"
    '  File "/venv/lib/python3.10/site-packages/torch/serialization.py", line 1033, in'
    " _legacy_load\n"
    "    magic_number = pickle_module.load(f, **pickle_load_args)\n"
)
WEIGHTS_ONLY_EOF = (
    '  File "/venv/lib/python3.12/site-packages/torch/_weights_only_unpickler.py", line 327,'
    " in load\n"
    "    raise EOFError\n"
    "EOFError\n"
)
SPAWNED_EOF = (
    '  File "C:\\Python310\\lib\\multiprocessing\\spawn.py", line 126, in _main\n'
    "    self = reduction.pickle.load(from_parent)\n"
    "EOFError: Ran out of input\n"
)


@pytest.mark.parametrize(
    "paste",
    [
        EMPTY_LOAD_FRAMES + "EOFError: Ran out of input",
        # torch 2.6 and later: weights_only=True raises EOFError with no message
        EMPTY_LOAD_FRAMES + WEIGHTS_ONLY_EOF,
    ],
)
def test_an_eof_error_raised_in_torch_load_points_to_an_empty_file(paste):
    assert [v[0] for v in verdicts(paste)] == ["torch-load-empty-file"]
    hits, _ = search(paste)
    assert hits[0].id == "torch-load-empty-file"


def test_an_eof_error_of_a_spawned_process_makes_an_empty_checkpoint_less_likely():
    assert verdicts(SPAWNED_EOF) == []
    assert [e for e, _ in less_likely(SPAWNED_EOF)] == ["torch-load-empty-file"]


@pytest.mark.parametrize(
    "paste",
    [
        "EOFError: Ran out of input",  # no frame: either
        EMPTY_LOAD_FRAMES + SPAWNED_EOF,  # both: no guess
    ],
)
def test_an_eof_error_without_telling_frames_decides_nothing(paste):
    assert verdicts(paste) == []
    assert less_likely(paste) == []


@pytest.mark.parametrize(
    "line, expected",
    [
        (
            "/pytorch/aten/src/ATen/native/cuda/Loss.cu:250: nll_loss_forward_reduce_cuda_kernel_2d"
            ": block: [0,0,0], thread: [5,0,0] Assertion `t >= 0 && t < n_classes` failed.",
            "cuda-device-side-assert",
        ),
        (
            "Indexing.cu:1141: indexSelectLargeIndex: block: [245,0,0], thread: [64,0,0] "
            "Assertion `srcIndex < srcSelectDimSize` failed.",
            "embedding-index-out-of-range",
        ),
        (
            "ScatterGatherKernel.cu:365: operator(): block: [0,0,0], thread: [3,0,0] Assertion "
            '`idx_dim >= 0 && idx_dim < index_size && "index out of bounds"` failed.',
            "scatter-gather-index-out-of-bounds",
        ),
        (
            "Loss.cu:92: operator(): block: [0,0,0], thread: [1,0,0] "
            "Assertion `input_val >= zero && input_val <= one` failed.",
            "bce-input-not-probabilities",
        ),
        (
            "IndexKernel.cu:93: operator(): block: [335,0,0], thread: [102,0,0] Assertion "
            '`-sizes[i] <= index && index < sizes[i] && "index out of bounds"` failed.',
            "cuda-device-side-assert",
        ),
    ],
)
def test_the_failed_kernel_assertion_names_the_mistake(line, expected):
    assert [entry for entry, _ in verdicts(line)] == [expected]


def test_a_host_side_assertion_is_no_kernel_assert():
    # THC's checkGPU assertion (two GPUs) prints no block and thread: not a device assert.
    line = (
        "RuntimeError: Assertion `THCTensor_(checkGPU)(state, 3, self_, src1, src2)' failed.  "
        "at /home/ubuntu/pytorch/torch/lib/THC/generic/THCTensorMathPointwise.cu:214"
    )
    assert verdicts(line) == []


def test_a_kernel_assertion_pasted_alone_ranks_the_device_assert_entry_first():
    hits, _ = search(
        "../aten/src/ATen/native/cuda/IndexKernel.cu:93: operator(): block: [335,0,0], thread: "
        '[102,0,0] Assertion `-sizes[i] <= index && index < sizes[i] && "index out of bounds"` '
        "failed."
    )
    assert hits[0].id == "cuda-device-side-assert"
    assert hits[0].match == "partial"


def test_windows_error_126_alone_names_the_missing_dll_entry():
    paste = (
        '  File "C:\\Anaconda3\\lib\\site-packages\\torch\\__init__.py", line 81, in <module>\n'
        "    ctypes.CDLL(dll)\n"
        "OSError: [WinError 126] The specified module could not be found"
    )
    hits, _ = search(paste)
    assert hits[0].id == "windows-dll-dependency-missing"
    assert hits[0].match == "partial"


OLD_FUNCTION_BACKWARD = """Traceback (most recent call last):
  File "train.py", line 136, in main
    loss.backward()
  File "/usr/lib/python3.6/site-packages/torch/autograd/function.py", line 181, in backward
    raise NotImplementedError
NotImplementedError"""


def test_a_bare_not_implemented_from_functions_backward_names_the_missing_backward():
    hits, _ = search(OLD_FUNCTION_BACKWARD)
    assert hits[0].id == "custom-function-missing-backward"
    assert hits[0].match == "partial"


def test_a_not_implemented_raised_elsewhere_is_not_a_missing_backward():
    paste = OLD_FUNCTION_BACKWARD.replace("torch/autograd/function.py", "mylib/ops.py")
    assert verdicts(paste) == []


@pytest.mark.parametrize(
    "paste",
    [
        "ImportError: /home/u/miniconda3/envs/e/lib/python3.10/site-packages/torch/lib/"
        "libtorch_cpu.so: undefined symbol: iJIT_NotifyEvent",
        "libtorch_cpu.so: undefined symbol: iJIT_NotifyEvent",
    ],
)
def test_a_symbol_that_names_its_cause_outranks_the_library_rule(paste):
    # Any torch library path points to torch-library-shadowed; this symbol is MKL's.
    hits, _ = search(paste)
    assert hits[0].id == "mkl-2024-1-undefined-symbol-ijit" and hits[0].match == "exact"
    assert "MKL 2024.1" in hits[0].why
