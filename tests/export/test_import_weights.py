"""`graphcore import-torch` keeps the model: the module's parameters and buffers become the graph's
weights file under the module's own names, ties stay tied, and the imported graph computes what the
module computes, to 1e-6, through a saved and loaded file, `graphcore run` and an export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import real_modules as real
import safetensors.torch
import torch
from export_cases import load_file, write_export

from graphcore.cli.main import main
from graphcore.exchange.importer import import_module
from graphcore.files.fileformat import load, save
from graphcore.program import lower
from graphcore.runtime import Runtime

MODULES = {
    "Net": (real.Net, {"x": {"shape": ["N", 1, 28, 28]}}),
    "VAE": (real.VAE, {"x": {"shape": ["N", 784]}, "eps": {"shape": ["N", 4]}}),
    "BasicBlock": (real.BasicBlock, {"x": {"shape": ["N", 8, 6, 6]}}),
    "ResNet18": (real.ResNet18, {"x": {"shape": ["N", 3, 32, 32]}}),
    "Block": (real.Block, {"x": {"shape": ["N", 8, 16]}}),
    "GPT": (real.GPT, {"idx": {"shape": ["N", 8], "dtype": "long"}}),
    "TextLSTM": (real.TextLSTM, {"tokens": {"shape": ["N", 5], "dtype": "long"}}),
    "LeNet5": (real.LeNet5, {"x": {"shape": ["N", 1, 32, 32]}}),
}


def built(name: str) -> torch.nn.Module:
    """The module with weights of its own (BatchNorm statistics too), in eval mode."""
    torch.manual_seed(7)
    module = MODULES[name][0]()
    for layer in module.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-1, 1)
            layer.running_var.uniform_(0.5, 2)
            layer.num_batches_tracked.fill_(3)
    return module.eval()


def example(name: str) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    values = {}
    for argument, params in MODULES[name][1].items():
        shape = [3 if isinstance(d, str) else d for d in params["shape"]]
        if params.get("dtype") == "long":
            values[argument] = torch.randint(0, 5, shape, generator=generator)
        else:
            values[argument] = torch.randn(shape, generator=generator)
    return values


def returned(module: torch.nn.Module, inputs: dict) -> tuple:
    with torch.no_grad():
        result = module(**inputs)
    return result if isinstance(result, tuple) else (result,)


def graph_outputs(graph, values: list[str], inputs: dict, node_of: dict[str, str]) -> tuple:
    runtime = Runtime(lower(graph), dtype="float32", outputs=values)
    runtime.module.eval()
    with torch.no_grad():
        result = runtime.forward({node_of[k]: v for k, v in inputs.items()})
    return tuple(result[v] for v in values)


@pytest.mark.parametrize("name", MODULES)
def test_an_imported_module_computes_what_the_module_computes(name, tmp_path):
    module = built(name)
    result = import_module(module, MODULES[name][1])
    assert result.graph.weights is not None, result.notes
    path = tmp_path / "model.json"
    save(result.graph, path)
    assert json.loads(path.read_text())["weights"] == "model.safetensors"
    stored = safetensors.torch.load_file(tmp_path / "model.safetensors")
    own = module.state_dict()
    assert set(stored) | set(result.graph.weights.ties) == set(own)  # the module's own names, all of them
    graph = load(path)
    inputs = example(name)
    expected = returned(module, inputs)
    got = graph_outputs(graph, result.returned, inputs, {k: k for k in inputs})
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["ResNet18", "GPT", "VAE"])
def test_the_export_loads_the_modules_state_dict_and_the_weights_file(name, tmp_path, capsys):
    module = built(name)
    result = import_module(module, MODULES[name][1])
    save(result.graph, tmp_path / "model.json")
    path, class_name = write_export(load(tmp_path / "model.json"), tmp_path, "model")
    exported_file = load_file(path)
    exported = getattr(exported_file, class_name)(seed=1).eval()
    assert set(exported.state_dict()) == set(module.state_dict())
    exported.load_state_dict(module.state_dict())  # strict: every name matches
    inputs = example(name)
    expected = returned(module, inputs)  # the VAE's mu and logvar too, though z reads them
    torch.testing.assert_close(returned(exported, inputs), expected, rtol=0, atol=1e-6)
    fresh = getattr(exported_file, class_name)(seed=1).eval()
    fresh.load_state_dict(safetensors.torch.load_file(tmp_path / "model.safetensors"))
    torch.testing.assert_close(returned(fresh, inputs), expected, rtol=0, atol=1e-6)
    exported_file.main(["--dtype", "float32"])  # the script's default: the weights file beside it
    assert "=" in capsys.readouterr().out


def test_tied_weights_stay_tied_and_training_moves_both():
    module = built("GPT")
    result = import_module(module, MODULES["GPT"][1])
    weights = result.graph.weights
    assert weights.ties == {"lm_head.weight": "transformer.wte.weight"}
    runtime = Runtime(lower(result.graph), dtype="float32")
    state = runtime.module.state_dict(keep_vars=True)
    places = {key: place for key, place in weights.places.items()}
    names = {
        key: f"{runtime.generated.attributes[p.partition('.')[0]]}.{p.partition('.')[2]}"
        for key, p in places.items()
    }
    head, embedding = state[names["lm_head.weight"]], state[names["transformer.wte.weight"]]
    assert head is embedding
    before = head.detach().clone()
    optimizer = torch.optim.SGD(runtime.module.parameters(), lr=0.5)
    sum(v.sum() for v in runtime.forward().values()).backward()
    optimizer.step()
    assert not torch.equal(head.detach(), before)
    assert torch.equal(head.detach(), embedding.detach())


def test_a_layer_called_twice_is_one_weight(tmp_path):
    class Twice(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(torch.tanh(self.fc(x)))

    torch.manual_seed(0)
    module = Twice()
    result = import_module(module, {"x": {"shape": ["N", 4]}})
    weights = result.graph.weights
    assert set(weights.tensors) == {"fc.weight", "fc.bias"} and len(weights.ties) == 2
    save(result.graph, tmp_path / "twice.json")
    x = torch.randn(3, 4)
    got = graph_outputs(load(tmp_path / "twice.json"), result.returned, {"x": x}, {"x": "x"})
    torch.testing.assert_close(got[0], module(x).detach(), rtol=0, atol=1e-6)


def test_graphcore_import_torch_writes_the_weights_beside_the_graph(tmp_path, capsys):
    source = Path(real.__file__)
    out = tmp_path / "lenet.json"
    torch.manual_seed(11)
    code = main(["import-torch", f"{source}:LeNet5", "--args", "x=[N,1,32,32]", "-o", str(out)])
    assert code == 0, capsys.readouterr()
    torch.manual_seed(11)
    module = real.LeNet5().eval()
    assert json.loads(out.read_text())["weights"] == "lenet.safetensors"
    stored = safetensors.torch.load_file(tmp_path / "lenet.safetensors")
    assert all(torch.equal(stored[k], v) for k, v in module.state_dict().items())
    capsys.readouterr()
    assert main(["run", str(out), "--json", "--dtype", "float32"]) == 0
    printed = json.loads(capsys.readouterr().out)["outputs"]
    x = Runtime(lower(load(out)), dtype="float32").inputs["x"]
    (value,) = printed.values()
    torch.testing.assert_close(torch.tensor(value), module(x).detach(), rtol=0, atol=1e-5)
