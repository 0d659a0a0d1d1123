"""Memory budget: the estimate matches what torch allocates, and graphs over the budget are refused
before anything is allocated, in the runtime, the trainer and the stepping engine; an exception
inside a node comes out as one line naming the node."""

import json
import time
from pathlib import Path

import pytest
import torch

from graphcore import memory
from graphcore.derivatives.autodiff import trace_forward
from graphcore.derivatives.paths import jacobian
from graphcore.files.fileformat import graph_from_dict, load, loads
from graphcore.graph import BLOCK_TYPE
from graphcore.memory import MemoryBudgetError, Workload
from graphcore.program import NodeError, lower
from graphcore.registry import REGISTRY, load_library
from graphcore.runtime import Runtime
from graphcore.stepping import Stepper
from graphcore.training.train import Trainer
from graphcore.validate import validate
from tests.nodes.node_cases import NODE, cases

load_library()

EXAMPLES = Path(__file__).parents[2] / "examples"


def linear_graph(n_in: int, n_out: int, batch_dim="N", label: str = "") -> dict:
    return {
        "format": "backprop-studio-graph",
        "version": 1,
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [batch_dim, n_in]}},
            {
                "id": "fc1",
                "type": "Linear",
                "label": label,
                "params": {"in_features": n_in, "out_features": n_out},
            },
            {"id": "t", "type": "tanh"},
            {"id": "loss", "type": "sum"},
        ],
        "edges": [
            {"from": "x.out", "to": "fc1.x"},
            {"from": "fc1.out", "to": "t.x"},
            {"from": "t.out", "to": "loss.x"},
        ],
    }


def regression(optimizer: dict, width: int = 1, batch: int = 8) -> str:
    """y ≈ fc2(tanh(fc(x))) on the sine set, `width` hidden units."""
    return json.dumps(
        {
            "format": "backprop-studio-graph",
            "version": 1,
            "nodes": [
                {"id": "x", "type": "Input", "params": {"shape": ["N", 1]}},
                {"id": "fc", "type": "Linear", "params": {"in_features": 1, "out_features": width}},
                {"id": "t", "type": "tanh"},
                {"id": "fc2", "type": "Linear", "params": {"in_features": width, "out_features": 1}},
                {"id": "y", "type": "Input", "params": {"shape": ["N", 1]}},
                {"id": "loss", "type": "MSELoss"},
            ],
            "edges": [
                {"from": "x.out", "to": "fc.x"},
                {"from": "fc.out", "to": "t.x"},
                {"from": "t.out", "to": "fc2.x"},
                {"from": "fc2.out", "to": "loss.input"},
                {"from": "y.out", "to": "loss.target"},
            ],
            "training": {
                "dataset": {"name": "sine", "n": 40},
                "inputs": {"x": "x", "y": "y"},
                "loss": "loss.out",
                "batch_size": batch,
                "steps": 3,
                "optimizer": optimizer,
            },
        }
    )


@pytest.fixture
def budget(monkeypatch):
    """Set BACKPROP_MEMORY_BUDGET for one test."""
    return lambda text: monkeypatch.setenv(memory.ENV, text)


# --- the estimate against real allocations ---------------------------------------------------------


@pytest.mark.parametrize("name", ["xor", "cnn_bars_stripes", "gru_sequence_sign", "vae_bars_stripes"])
def test_estimate_is_the_bytes_torch_allocates(name):
    runtime = Runtime(lower(load(EXAMPLES / f"{name}.json")), dtype="float64", batch=4)
    needs = runtime.memory.needs
    trace = trace_forward(runtime)
    weights = {**dict(runtime.module.named_parameters()), **dict(runtime.module.named_buffers())}
    weight_bytes = sum(t.numel() * t.element_size() * (2 if t.requires_grad else 1) for t in weights.values())
    assert sum(n.bytes for n in needs if not n.what.startswith("output")) == weight_bytes
    for instr in runtime.program:
        if instr.spec.kind in ("parameter", "constant"):
            continue
        for out in instr.outs:
            tensor = trace.values[out]
            copies = 2 if tensor.is_floating_point() else 1
            port = out.rpartition(".")[2]
            what = "output" if port == "out" else f"output {port}"
            (need,) = [n for n in needs if n.node == instr.node and n.what.startswith(what + " [")]
            assert need.bytes == tensor.numel() * tensor.element_size() * copies, out


def test_weights_are_sized_on_the_meta_device_with_gradients_and_optimizer_state():
    graph = graph_from_dict(linear_graph(3, 5))
    runtime = Runtime(lower(graph), dtype="float32", workload=Workload(batch=7, optimizer_slots=2))
    by_what = {n.what.split(" [")[0]: n.bytes for n in runtime.memory.needs if n.node == "fc1"}
    assert by_what == {"weight": 15 * 4 * 4, "bias": 5 * 4 * 4, "output": 7 * 5 * 4 * 2}
    assert runtime.memory.by_node()["x"] == 7 * 3 * 4 * 2


@pytest.mark.parametrize(
    ("optimizer", "slots"),
    [
        ({"name": "sgd"}, 0),
        ({"name": "sgd", "momentum": 0.9}, 1),
        ({"name": "momentum"}, 1),
        ({"name": "adagrad"}, 1),
        ({"name": "rmsprop", "momentum": 0.5, "centered": True}, 3),
        ({"name": "adam"}, 2),
        ({"name": "adam", "amsgrad": True}, 3),
        ({"name": "adamw"}, 2),
    ],
)
def test_optimizer_slots_are_the_state_torch_optim_keeps(optimizer, slots):
    trainer = Trainer(loads(regression({**optimizer, "lr": 0.01})))
    trainer.run()
    state = [t for s in trainer.optimizer.state.values() for t in s.values() if t.dim() > 0]
    weights = list(trainer.module.parameters())
    assert memory.optimizer_slots(optimizer) == slots
    assert sum(t.numel() for t in state) == slots * sum(w.numel() for w in weights)


# --- sizes and the budget --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4GB", 4 * 2**30),
        ("512 MB", 512 * 2**20),
        ("1.5g", int(1.5 * 2**30)),
        ("2TiB", 2 * 2**40),
        ("100", 100),
    ],
)
def test_sizes_parse_in_binary_units(text, size):
    assert memory.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "4 GBB", "-1GB", "0", "1e400GB", "4 PB"])
def test_bad_sizes_are_refused_in_one_line(text):
    with pytest.raises(ValueError, match="memory budget") as caught:
        memory.parse_size(text)
    assert "\n" not in str(caught.value)


def test_sizes_show_in_gb():
    assert memory.show_size(8 * 10**9) == "7.45 GB"
    assert memory.show_size(8 * 10**15) == "7,450,581 GB"
    assert memory.show_size(3 * 2**20) == "3 MB"


def test_budget_is_the_env_var_else_a_share_of_memavailable(monkeypatch, tmp_path, budget):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       32000000 kB\nMemAvailable:   10000000 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", str(meminfo))
    monkeypatch.delenv(memory.ENV, raising=False)
    assert memory.budget() == int(10000000 * 1024 * memory.FREE_SHARE)
    monkeypatch.setattr(memory, "MEMINFO", str(tmp_path / "missing"))
    assert memory.budget() > 0  # sysconf, else the fallback
    budget("3GB")
    assert memory.budget() == 3 * 2**30
    budget("lots")
    with pytest.raises(ValueError, match=f"^{memory.ENV}: a memory budget is a size"):
        memory.budget()


def test_set_budget_is_what_a_cli_option_calls(monkeypatch):
    monkeypatch.delenv(memory.ENV, raising=False)
    memory.set_budget("2MB")
    assert memory.budget() == 2 * 2**20
    memory.set_budget(None)
    assert memory.ENV not in __import__("os").environ
    with pytest.raises(ValueError):
        memory.set_budget("two")


# --- refusals --------------------------------------------------------------------------------------


def test_enormous_shapes_validate_and_their_runs_are_refused_at_once():
    graph = graph_from_dict(
        {
            "format": "backprop-studio-graph",
            "version": 1,
            "nodes": [
                {"id": "x", "type": "Input", "params": {"shape": [100000, 100000, 100000]}},
                {"id": "t", "type": "tanh"},
            ],
            "edges": [{"from": "x.out", "to": "t.x"}],
        }
    )
    report = validate(graph)
    assert report.ok and report.shapes["t.out"] == (100000, 100000, 100000)
    with pytest.raises(MemoryBudgetError) as caught:
        Runtime(lower(graph))
    assert caught.value.node == "x"
    assert str(caught.value).startswith(
        "x: needs 14,901,161 GB for its output [100000, 100000, 100000] (float64) with its gradient; "
        "the budget is "
    )
    assert str(caught.value).endswith(f"(set {memory.ENV} to change it)")


def test_a_huge_linear_validates_and_is_refused_naming_its_label():
    graph = graph_from_dict(linear_graph(100000, 100000, label="wide"))
    assert validate(graph).ok
    with pytest.raises(MemoryBudgetError, match=r"^wide: needs 149 GB for its weight \[100000, 100000\]"):
        Runtime(lower(graph), dtype="float64")


def test_linear_30000_is_refused_quickly_over_budget(budget):
    budget("4GB")
    program = lower(graph_from_dict(linear_graph(30000, 30000)))
    start = time.perf_counter()
    with pytest.raises(
        MemoryBudgetError, match=r"^fc1: needs 13.4 GB for its weight \[30000, 30000\] \(float64\)"
    ):
        Runtime(program, dtype="float64")
    assert time.perf_counter() - start < 2.0


def test_over_budget_in_total_names_the_node_that_needs_most(budget):
    budget("1KB")
    with pytest.raises(MemoryBudgetError) as caught:
        Runtime(lower(load(EXAMPLES / "xor.json")))
    message = str(caught.value)
    assert message.startswith("fc1: the graph needs 1.09 KB for one batch of 4, ")
    assert "\n" not in message and caught.value.node == "fc1"


def test_the_trainer_counts_its_batch_and_optimizer_state(budget):
    text = regression({"name": "adam", "lr": 0.01}, width=64, batch=1000)
    fits = Trainer(loads(text))
    total = fits.runtime.memory.total
    weights = sum(p.numel() * 8 for p in fits.module.parameters())  # float32: 4 bytes × (1 + grad + 2)
    assert total >= weights and fits.runtime.memory.by_node()["t"] == 1000 * 64 * 4 * 2
    budget(f"{total - 1}")
    with pytest.raises(MemoryBudgetError, match="one batch of 1000"):
        Trainer(loads(text))
    budget(f"{total}")
    Trainer(loads(text))


def test_the_stepping_engine_and_jacobians_are_refused_over_budget(budget):
    program = lower(graph_from_dict(linear_graph(300, 2)))
    runtime = Runtime(program)
    budget("1MB")  # the graph fits; the Jacobian's 1200 one-hot seeds of x.out (11.1 MB) do not
    with pytest.raises(
        MemoryBudgetError,
        match=r"^x: the Jacobian of t.out with respect to x.out needs 11.1 MB \(\[8, 1200\]",
    ):
        jacobian(runtime, ["t.out"], ["x.out"], "forward")
    budget("1KB")
    with pytest.raises(MemoryBudgetError):
        Stepper(Runtime(program))


# --- exceptions inside nodes -----------------------------------------------------------------------


def raising(error):
    def forward(*args, **kwargs):
        raise error

    return forward


def test_an_error_in_a_training_forward_names_the_node(monkeypatch):
    trainer = Trainer(loads(regression({"name": "sgd", "lr": 0.1})))
    monkeypatch.setattr(torch, "tanh", raising(RuntimeError("boom\nsecond line")))
    with pytest.raises(NodeError) as caught:
        trainer.run()
    assert str(caught.value) == "t (tanh): RuntimeError: boom"
    assert caught.value.node == "t"


def test_an_out_of_memory_error_in_a_layer_names_it_in_one_line(monkeypatch):
    trainer = Trainer(loads(regression({"name": "sgd", "lr": 0.1})))
    text = "CUDA out of memory. Tried to allocate 20.00 GiB. " + "x" * 300 + "\nmore advice"
    monkeypatch.setattr(torch.nn.Linear, "forward", raising(torch.OutOfMemoryError(text)))
    with pytest.raises(NodeError) as caught:
        trainer.step()
    message = str(caught.value)
    assert message.startswith("fc (Linear): OutOfMemoryError: CUDA out of memory. Tried to allocate")
    assert message.endswith("…") and "\n" not in message and len(message) < 220


def test_an_error_in_the_backward_pass_is_found_by_replaying_the_batch(monkeypatch):
    class Failing(torch.autograd.Function):
        """The identity, whose backward raises (under autograd and torch.func alike)."""

        @staticmethod
        def forward(x):
            return x.clone()

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, grad):
            raise RuntimeError("no gradient here")

    trainer = Trainer(loads(regression({"name": "sgd", "lr": 0.1})))
    linear = torch.nn.functional.linear
    monkeypatch.setattr(
        torch.nn.Linear, "forward", lambda self, x: Failing.apply(linear(x, self.weight, self.bias))
    )
    # both layers fail; autograd's backward pass, and the replay's, reach fc2 first
    with pytest.raises(NodeError, match=r"^fc2 \(Linear\): RuntimeError: no gradient here$"):
        trainer.step()


def test_an_error_while_stepping_names_the_node(monkeypatch):
    runtime = Runtime(lower(graph_from_dict(linear_graph(3, 2, label="first layer"))))
    monkeypatch.setattr(torch.nn.Linear, "forward", raising(IndexError("index 7 is out of bounds")))
    events = Stepper(runtime).events()
    assert next(events).node == "x"
    with pytest.raises(NodeError, match=r"^first layer \(Linear\): IndexError: index 7 is out of bounds$"):
        next(events)


def test_runtime_forward_names_the_node_that_raised(monkeypatch):
    runtime = Runtime(lower(graph_from_dict(linear_graph(3, 2))))
    monkeypatch.setattr(torch, "tanh", raising(ValueError("bad value")))
    with pytest.raises(NodeError, match=r"^t \(tanh\): ValueError: bad value$"):
        runtime.forward()


@pytest.mark.parametrize(
    ("dim", "size"), [("N", 5), ("N*12", 60), ("(N+1)", 6), ("int(N*2.0)", 10), ("N//2", 2), ("f(N)", 5)]
)
def test_symbolic_dims_are_sized_with_the_batch(dim, size):
    assert memory.numel((dim, 3), batch=5) == size * 3


def test_an_overflowing_shape_rule_is_a_diagnostic_not_a_crash():
    graph = graph_from_dict(
        {
            "format": "backprop-studio-graph",
            "version": 1,
            "nodes": [
                {"id": "x", "type": "Input", "params": {"shape": [1, 1, 10**6, 10**6]}},
                {"id": "up", "type": "Upsample", "params": {"scale_factor": 1e308}},
            ],
            "edges": [{"from": "x.out", "to": "up.x"}],
        }
    )
    (problem,) = validate(graph).diagnostics
    assert str(problem) == "up: cannot infer the output shape: cannot convert float infinity to integer"


def _bytes(tensors, gradients: bool = True) -> int:
    return sum(t.numel() * t.element_size() * (2 if gradients and t.requires_grad else 1) for t in tensors)


@pytest.mark.parametrize("type_", sorted(t for t in REGISTRY if t != BLOCK_TYPE))  # a Block: its inside's
def test_every_node_types_outputs_and_weights_are_estimated_exactly(type_):
    """Registry-driven: the estimate for the node is the bytes of what its code returns and of its
    weights (integer outputs, which have no gradient, are counted as if they had one; a floating output
    is counted at the run's dtype, an upper bound for a cast to a narrower one such as x.float())."""
    for case in cases(type_, draws=1):
        if case.runtime is None:
            continue
        needs = [n for n in case.runtime.memory.needs if n.node == NODE]
        weights = [n.bytes for n in needs if not n.what.startswith("output")]
        instr, module = case.instr, case.module
        if case.spec.kind in ("parameter", "constant"):
            assert weights == [_bytes([case.runtime.source_value(instr)])]
            continue
        if case.spec.kind == "input":
            (need,) = needs
            data = case.runtime.inputs[NODE]  # integer data (class labels) has no gradient
            assert need.bytes == _bytes([data]) * (2 if data.is_floating_point() else 1)
            continue
        assert sum(weights) == (_bytes([*module.parameters(), *module.buffers()]) if module else 0)
        for out, value in zip(instr.outs, case.call(), strict=True):
            port = out.rpartition(".")[2]
            what = "output [" if port == "out" else f"output {port} ["
            (need,) = [n for n in needs if n.what.startswith(what)]
            if value.is_floating_point():
                assert need.bytes == 2 * value.numel() * case.runtime.dtype.itemsize, out
            else:
                assert need.bytes >= _bytes([value], gradients=False), out


def test_an_optimizer_that_fails_stops_the_step_in_one_line(monkeypatch):
    trainer = Trainer(loads(regression({"name": "adam", "lr": 0.1})))
    monkeypatch.setattr(
        torch.optim.Adam, "step", raising(torch.OutOfMemoryError("CUDA out of memory.\nTried to allocate"))
    )
    with pytest.raises(
        ValueError, match=r"^training step 1: the optimizer: OutOfMemoryError: CUDA out of memory\.$"
    ):
        trainer.step()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_line_of_each_examples_module_maps_to_its_node(path):
    """A forward error is named from the generated module's line: each computed node owns its lines."""
    runtime = Runtime(lower(load(path)))
    computed = {i.node for i in runtime.program if not i.spec.is_source}
    assert set(runtime._forward_lines.values()) == computed


def test_the_trainer_counts_the_data_set_it_puts_on_the_device(budget):
    section = json.loads(regression({"name": "sgd", "lr": 0.1}))
    section["training"]["dataset"]["n"] = 200_000
    text = json.dumps(section)
    needs = {n.what: n.bytes for n in Trainer(loads(text)).runtime.memory.needs if n.node == "x"}
    assert needs["training data [200000, 1] (float32)"] == 200_000 * 4
    budget("512KB")
    with pytest.raises(
        MemoryBudgetError, match=r"^x: needs 0.763 MB for its training data \[200000, 1\] \(float32\)"
    ):
        Trainer(loads(text))
