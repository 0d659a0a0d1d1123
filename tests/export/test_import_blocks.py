"""`graphcore import-torch` makes blocks: a module class used several times is one block definition
with a Block node per use, and a run of one through an nn.Sequential or nn.ModuleList is one Block
node with `repeat`. The imported graph computes what the module computes (to 1e-6) with the
module's own weights under its state_dict names; what cannot be a block stays flat, never wrong."""

from __future__ import annotations

import json
import textwrap

import pytest
import safetensors.torch
import torch
import torch.nn.functional as F
from export_cases import load_file, write_export
from real_modules import CausalSelfAttention
from torch import nn

from graphcore.blocks import flatten
from graphcore.cli.main import main
from graphcore.exchange.importer import import_from_file, import_module
from graphcore.files.fileformat import load
from graphcore.graph import BLOCK_TYPE, PortRef
from graphcore.program import lower
from graphcore.runtime import Runtime
from graphcore.validate import validate

# --- modules, written the way torchvision's ResNet and nanoGPT are ---------------------------------


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """Layers of two BasicBlocks; the first of each layer after the first downsamples."""

    def __init__(self, width=4, classes=5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(BasicBlock(width, width), BasicBlock(width, width))
        self.layer2 = nn.Sequential(BasicBlock(width, 2 * width, 2), BasicBlock(2 * width, 2 * width))
        self.layer3 = nn.Sequential(BasicBlock(2 * width, 4 * width, 2), BasicBlock(4 * width, 4 * width))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(4 * width, classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TransformerBlock(nn.Module):
    def __init__(self, n_embd, n_head, block_size):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.proj(F.gelu(self.fc(self.ln_2(x))))


class GPT(nn.Module):
    """nanoGPT's layout: an nn.ModuleList of Blocks, the token embedding tied to the head."""

    def __init__(self, vocab=11, block_size=6, n_layer=3, n_embd=8, n_head=2, order=None, twice=False):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.h = nn.ModuleList([TransformerBlock(n_embd, n_head, block_size) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        self.wte.weight = self.lm_head.weight
        self.order = order or list(range(n_layer))
        self.twice = twice

    def forward(self, idx):
        x = self.wte(idx) + self.wpe.weight
        for _ in range(2 if self.twice else 1):
            for i in self.order:
                x = self.h[i](x)
        return self.lm_head(self.ln_f(x))


class MLPBlock(nn.Module):
    def __init__(self, width=8, hidden=16):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x):
        return x + self.fc2(torch.tanh(self.fc1(self.norm(x))))


class Gate(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return x * torch.sigmoid(self.fc(x))


class Stack(nn.Module):
    """An nn.Sequential of blocks before a head."""

    def __init__(self, *blocks):
        super().__init__()
        self.blocks = nn.Sequential(*(blocks or [MLPBlock() for _ in range(4)]))
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.blocks(x))


IMAGES = {"x": {"shape": ["N", 3, 8, 8]}}
TOKENS = {"idx": {"shape": ["N", 6], "dtype": "long"}}
VECTORS = {"x": {"shape": ["N", 8]}}


def built(module: nn.Module) -> nn.Module:
    """The module with weights of its own, BatchNorm statistics too, in eval mode."""
    torch.manual_seed(7)
    for name, tensor in module.state_dict().items():
        if tensor.is_floating_point() and not name.endswith("mask"):
            tensor.copy_(torch.randn_like(tensor) * 0.5 + (1.0 if name.endswith("running_var") else 0.0))
            if name.endswith("running_var"):
                tensor.abs_()
    return module.eval()


def example(declared: dict) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    (name, params), *_ = declared.items()
    shape = [3 if isinstance(d, str) else d for d in params["shape"]]
    if params.get("dtype") == "long":
        return {name: torch.randint(0, 11, shape, generator=generator)}
    return {name: torch.randn(shape, generator=generator)}


def assert_computes_the_same(module: nn.Module, result, declared: dict) -> None:
    inputs = example(declared)
    runtime = Runtime(lower(result.graph), dtype="float32")
    runtime.module.eval()
    with torch.no_grad():
        got = runtime.forward(inputs)
        expected = module(**inputs)
    (value,) = lower(result.graph).sinks
    torch.testing.assert_close(got[value], expected, rtol=0, atol=1e-6)


def blocks_used(graph) -> list[tuple[str, str, int]]:
    return [(n.id, n.params["block"], n.params["repeat"]) for n in graph.nodes if n.type == BLOCK_TYPE]


def assert_weights_kept(module: nn.Module, result) -> None:
    weights = result.graph.weights
    assert weights is not None, result.notes
    assert set(weights.tensors) | set(weights.ties) == set(module.state_dict())
    for key, tensor in weights.tensors.items():
        assert torch.equal(tensor, module.state_dict()[key].to(tensor.dtype)), key


# --- the three shapes of model ------------------------------------------------------------------


def test_a_resnet_imports_its_basic_blocks_as_blocks_with_layer1_one_repeated_node():
    module = built(ResNet())
    result = import_module(module, IMAGES)
    graph = result.graph
    assert blocks_used(graph) == [
        ("layer1", "BasicBlock", 2),
        ("layer2_0", "BasicBlock_2", 1),
        ("layer2_1", "BasicBlock_3", 1),
        ("layer3_0", "BasicBlock_4", 1),
        ("layer3_1", "BasicBlock_5", 1),
    ]
    inner = {n.id: n.type for n in graph.blocks["BasicBlock"].graph.nodes}
    assert inner["conv1"] == "Conv2d" and inner["x"] == "Input" and "downsample_0" not in inner
    assert "downsample_0" in [n.id for n in graph.blocks["BasicBlock_2"].graph.nodes]
    (note,) = result.notes
    assert note.startswith("BasicBlock: its instances differ") and "BasicBlock at layer1 ×2;" in note
    flat = import_module(module, IMAGES, flat=True).graph
    assert len(flatten(graph)) == len(flat) and len(graph) * 3 < len(flat), (len(graph), len(flat))
    assert_computes_the_same(module, result, IMAGES)
    assert_weights_kept(module, result)
    places = graph.weights.places
    assert places["layer1.1.conv1.weight"] == "layer1/2/conv1.weight"
    assert places["layer2.0.downsample.1.running_mean"] == "layer2_0/downsample_1.running_mean"


def test_a_gpt_imports_its_module_list_of_blocks_as_one_repeated_block_with_a_block_inside():
    module = built(GPT())
    result = import_module(module, TOKENS)
    graph = result.graph
    assert blocks_used(graph) == [("h", "TransformerBlock", 3)] and result.notes == []
    assert graph.blocks["TransformerBlock"].inputs == ("x",)
    assert list(graph.blocks["TransformerBlock"].outputs) == ["out"]
    assert len(graph) < 10 < len(import_module(module, TOKENS, flat=True).graph)
    assert_computes_the_same(module, result, TOKENS)
    assert_weights_kept(module, result)
    assert graph.weights.ties == {"lm_head.weight": "wte.weight"} or graph.weights.ties == {
        "wte.weight": "lm_head.weight"
    }
    # the attention each Block holds is a block inside it: CausalSelfAttention is used three times
    inner = {n.id: (n.type, n.params.get("block")) for n in graph.blocks["TransformerBlock"].graph.nodes}
    assert inner["attn"] == (BLOCK_TYPE, "CausalSelfAttention") and inner["ln_1"] == ("LayerNorm", None)
    assert graph.weights.places["h.2.attn.mask"] == "h/3/attn/mask"
    assert graph.weights.places["h.0.attn.c_attn.weight"] == "h/1/attn/c_attn.weight"


def test_a_sequential_of_four_identical_blocks_is_one_block_repeated_four_times():
    module = built(Stack())
    result = import_module(module, VECTORS)
    assert blocks_used(result.graph) == [("blocks", "MLPBlock", 4)] and result.notes == []
    assert [n.type for n in result.graph.nodes] == ["Input", BLOCK_TYPE, "Linear"]
    assert_computes_the_same(module, result, VECTORS)
    assert_weights_kept(module, result)


@pytest.mark.parametrize(
    ("make", "declared"),
    [(ResNet, IMAGES), (GPT, TOKENS), (Stack, VECTORS), (lambda: Stack(Pair(), Pair(), Gate()), VECTORS)],
    ids=["resnet", "gpt", "mlp", "nested"],
)
def test_the_export_of_a_blocks_import_loads_the_modules_state_dict(make, declared, tmp_path):
    module = built(make())
    result = import_module(module, declared)
    assert result.graph.blocks
    path, class_name = write_export(result.graph, tmp_path, "model")
    exported = getattr(load_file(path), class_name)(seed=1).eval()
    assert set(exported.state_dict()) == set(module.state_dict())
    exported.load_state_dict(module.state_dict())  # strict: every name matches
    inputs = example(declared)
    with torch.no_grad():
        torch.testing.assert_close(exported(**inputs), module(**inputs), rtol=0, atol=1e-6)


def test_a_module_returning_a_value_inside_a_block_declares_the_blocks_port():
    class Both(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second = MLPBlock(), MLPBlock()

        def forward(self, x):
            h = self.first(x)
            return self.second(h), h

    module = built(Both())
    result = import_module(module, VECTORS)
    assert blocks_used(result.graph) == [("first", "MLPBlock", 1), ("second", "MLPBlock", 1)]
    assert result.returned == ["second.out", "first.out"]
    inputs = example(VECTORS)
    runtime = Runtime(lower(result.graph), dtype="float32")
    with torch.no_grad():
        got = runtime.forward(inputs)
        expected = module(**inputs)
    values = lower(result.graph).sinks
    assert len(values) == 2
    for value, tensor in zip(values, expected, strict=True):
        torch.testing.assert_close(got[value], tensor, rtol=0, atol=1e-6)


class Mix(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, a, b):
        return a + self.fc(b), torch.tanh(a) * b


class TwoMixes(nn.Module):
    def __init__(self):
        super().__init__()
        self.one, self.two = Mix(), Mix()

    def forward(self, x):
        p, q = self.one(torch.sigmoid(x), x)
        r, s = self.two(q, p)  # the second reads the first's outputs crossed over
        return r - s


def test_a_block_of_two_inputs_and_two_outputs_names_its_ports_after_forward():
    module = built(TwoMixes())
    result = import_module(module, VECTORS)
    graph = result.graph
    assert blocks_used(graph) == [("one", "Mix", 1), ("two", "Mix", 1)]
    definition = graph.blocks["Mix"]
    assert definition.inputs == ("a", "b") and list(definition.outputs) == ["out1", "out2"]
    assert str(graph.source_of(PortRef("two", "a"))) == "one.out2"
    assert str(graph.source_of(PortRef("two", "b"))) == "one.out1"
    assert_computes_the_same(module, result, VECTORS)


class ConvBNReLU(nn.Sequential):
    """torchvision's Conv2dNormActivation: a Sequential subclass, a unit of its own."""

    def __init__(self, inplanes, planes):
        super().__init__(nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU())


def test_a_sequential_subclass_used_several_times_is_a_block():
    module = built(nn.Sequential(ConvBNReLU(3, 4), ConvBNReLU(4, 4), ConvBNReLU(4, 4), nn.Flatten()))
    declared = {"input": IMAGES["x"]}  # nn.Sequential.forward's argument
    result = import_module(module, declared)
    assert blocks_used(result.graph) == [
        ("convbnrelu_0", "ConvBNReLU", 1),
        ("convbnrelu_2", "ConvBNReLU_2", 2),
    ]
    assert_computes_the_same(module, result, declared)
    assert_weights_kept(module, result)


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(MLPBlock(), MLPBlock())
        self.gate = Gate()

    def forward(self, x):
        return self.gate(self.inner(x))


def test_blocks_inside_blocks_repeat_there_too():
    module = built(Stack(Pair(), Pair(), Gate()))
    result = import_module(module, VECTORS)
    graph = result.graph
    assert blocks_used(graph) == [("blocks", "Pair", 2), ("blocks_2", "Gate", 1)]
    assert blocks_used(graph.blocks["Pair"].graph) == [("inner", "MLPBlock", 2), ("gate", "Gate", 1)]
    assert graph.weights.places["blocks.1.inner.1.fc2.weight"] == "blocks/2/inner/2/fc2.weight"
    assert_computes_the_same(module, result, VECTORS)
    assert_weights_kept(module, result)


# --- what cannot be one block ------------------------------------------------------------------


def test_a_module_list_used_out_of_order_keeps_one_node_per_use_in_that_order():
    module = built(GPT(order=[1, 0, 2]))
    result = import_module(module, TOKENS)
    assert blocks_used(result.graph) == [
        ("h_1", "TransformerBlock", 1),
        ("h_0", "TransformerBlock", 1),
        ("h_2", "TransformerBlock", 1),
    ]
    assert_computes_the_same(module, result, TOKENS)
    assert result.graph.weights.places["h.0.fc.weight"] == "h_0/fc.weight"


def test_a_module_list_used_twice_stays_flat():
    module = built(GPT(twice=True))
    result = import_module(module, TOKENS)
    assert not result.graph.blocks
    assert any(
        n.startswith("h.0 (TransformerBlock) stays flat: it is called more than once") for n in result.notes
    )
    assert_computes_the_same(module, result, TOKENS)


def test_instances_that_differ_get_a_definition_each_and_only_equal_neighbours_repeat():
    module = built(Stack(MLPBlock(), MLPBlock(), MLPBlock(hidden=4), MLPBlock()))
    result = import_module(module, VECTORS)
    assert blocks_used(result.graph) == [
        ("blocks", "MLPBlock", 2),
        ("blocks_2", "MLPBlock_2", 1),
        ("blocks_3", "MLPBlock", 1),
    ]
    assert any(n.startswith("MLPBlock: its instances differ") for n in result.notes), result.notes
    assert_computes_the_same(module, result, VECTORS)


def test_a_sequential_of_mixed_classes_has_no_repeat():
    module = built(Stack(MLPBlock(), Gate(), MLPBlock(), Gate(), nn.Tanh()))
    result = import_module(module, VECTORS)
    assert blocks_used(result.graph) == [
        ("blocks_0", "MLPBlock", 1),
        ("blocks_1", "Gate", 1),
        ("blocks_2", "MLPBlock", 1),
        ("blocks_3", "Gate", 1),
    ]
    assert_computes_the_same(module, result, VECTORS)
    assert_weights_kept(module, result)


def test_a_class_used_once_stays_flat():
    module = built(Stack(MLPBlock(), Gate()))
    result = import_module(module, VECTORS)
    assert not result.graph.blocks
    assert_computes_the_same(module, result, VECTORS)


def test_a_blocks_layer_called_again_outside_it_keeps_one_weight():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = Gate(), Gate()

        def forward(self, x):
            return self.b(self.a(x)) + self.a.fc(x)

    module = built(Twice())
    result = import_module(module, VECTORS)
    assert blocks_used(result.graph) == [("a", "Gate", 1), ("b", "Gate", 1)]
    assert result.graph.weights.ties  # the second call of a.fc is tied to the first
    assert_computes_the_same(module, result, VECTORS)


class Scaled(nn.Module):
    def __init__(self, scale: nn.Parameter):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.scale = scale  # one Parameter, shared by every instance

    def forward(self, x):
        return self.fc(x) * self.scale


def test_instances_sharing_a_parameter_compute_with_the_one_tensor():
    shared = nn.Parameter(torch.ones(8))
    module = built(Stack(Scaled(shared), Scaled(shared), Scaled(shared)))
    result = import_module(module, VECTORS)
    assert_computes_the_same(module, result, VECTORS)
    assert len([n for n in flatten(result.graph).nodes if n.type == "Parameter"]) == 1
    # the first instance holds the Parameter and hands it on: its structure differs from the others'
    assert blocks_used(result.graph) == [
        ("blocks_0", "Scaled", 1),
        ("blocks_1", "Scaled_2", 1),
        ("blocks_2", "Scaled_2", 1),
    ]


def test_blocks_that_would_inline_to_another_graph_leave_the_import_flat(monkeypatch):
    import graphcore.exchange.import_blocks as import_blocks

    monkeypatch.setattr(import_blocks, "_inlines_to", lambda *_: False)  # stands for a bug found late
    module = built(Stack())
    result = import_module(module, VECTORS)
    assert not result.graph.blocks and len(result.graph) == len(
        import_module(module, VECTORS, flat=True).graph
    )
    assert result.notes == [
        "the blocks found are not used (they inline to another graph): the module is imported flat"
    ]
    assert_computes_the_same(module, result, VECTORS)
    assert_weights_kept(module, result)


# --- the command ----------------------------------------------------------------------------

SOURCE = textwrap.dedent(
    """
    import torch
    from torch import nn

    class MLPBlock(nn.Module):
        def __init__(self, width=8):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(width, 16), nn.Linear(16, width)

        def forward(self, x):
            return x + self.fc2(torch.tanh(self.fc1(x)))

    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(*[MLPBlock() for _ in range(4)])

        def forward(self, x):
            return self.blocks(x)
    """
)


def test_graphcore_import_torch_makes_blocks_and_flat_keeps_the_flat_graph(tmp_path, capsys):
    source = tmp_path / "stack.py"
    source.write_text(SOURCE)
    spec = f"{source}:Stack"
    assert main(["import-torch", spec, "--args", "x=[N,8]", "--json"]) == 0
    blocked = json.loads(capsys.readouterr().out)
    assert blocked["nodes"] == 2 and blocked["blocks"] == {"MLPBlock": 1}
    assert blocked["graph"]["nodes"][1]["params"] == {"block": "MLPBlock", "repeat": 4}
    assert main(["import-torch", spec, "--args", "x=[N,8]", "--json", "--flat"]) == 0
    flat = json.loads(capsys.readouterr().out)
    assert flat["blocks"] == {} and "blocks" not in flat["graph"]
    assert flat["nodes"] == 1 + 4 * 4  # x, then fc1, tanh, fc2 and add per block
    assert "blocks_0_fc1" in [n["id"] for n in flat["graph"]["nodes"]]


TRAINED = """
import torch
from torch import nn


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return x + torch.tanh(self.fc(x))


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(Residual(), Residual())

    def forward(self, x, y):
        p = self.blocks(x)
        return torch.nn.functional.mse_loss(p[:, :1], y), p


INPUTS = {"x": {"shape": ["N", 2]}, "y": {"shape": ["N", 1]}}
FIELDS = {"x": "x", "y": "y"}
TRAINING = {"dataset": {"name": "xor"}, "inputs": {"a": "x", "b": "y"}, "loss": "l.out",
            "predict": "p.out", "steps": 3}
"""


def test_the_training_section_names_a_blocks_output_port(tmp_path):
    source = tmp_path / "model.py"
    source.write_text(TRAINED)
    _, result = import_from_file(f"{source}:M", [], "{}")
    graph = result.graph
    assert blocks_used(graph) == [("blocks", "Residual", 2)]
    assert graph.training["predict"] == "blocks.out" and graph.training["loss"] == result.returned[0]
    assert graph.meta["outputs"] == result.returned  # blocks.out is read by the loss too
    assert validate(graph).ok, [str(d) for d in validate(graph).diagnostics]
    assert flatten(graph).training["predict"].startswith("blocks/2/")


def test_a_blocks_import_written_with_its_weights_opens_and_runs(tmp_path, capsys):
    source = tmp_path / "stack.py"
    source.write_text(SOURCE)
    out = tmp_path / "stack.json"
    assert main(["import-torch", f"{source}:Stack", "--args", "x=[N,8]", "-o", str(out)]) == 0
    capsys.readouterr()
    graph = load(out)
    assert blocks_used(graph) == [("blocks", "MLPBlock", 4)]
    assert main(["run", str(out), "--json", "--dtype", "float32"]) == 0
    printed = json.loads(capsys.readouterr().out)["outputs"]
    module = load_file(source).Stack()
    module.load_state_dict(safetensors.torch.load_file(tmp_path / "stack.safetensors"))
    x = Runtime(lower(graph), dtype="float32").inputs["x"]
    (value,) = printed.values()
    torch.testing.assert_close(torch.tensor(value), module(x).detach(), rtol=0, atol=1e-5)
