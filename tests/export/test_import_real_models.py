"""Real code that needed more than the importer had: the word-language-model example's LSTM with
dropout between its layers (equal to torch in training, with the same random masks, and in
evaluation), `x.norm()` in its spellings, and a forward that returns a layer's state as a tuple.
Each imported graph's outputs equal the module's to 1e-6."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from graphcore.exchange.importer import import_module
from graphcore.program import lower
from graphcore.runtime import Runtime


class WordLanguageModel(nn.Module):
    """pytorch/examples word_language_model's RNNModel (LSTM), smaller, starting from a zero state."""

    def __init__(self, ntoken=11, ninp=6, nhid=5, nlayers=2, dropout=0.3, rnn_type="LSTM"):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, input):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden


class Norms(nn.Module):
    def forward(self, x):
        return x.norm(dim=-1, keepdim=True), torch.linalg.vector_norm(x, ord=2, dim=1), x.norm(), x.norm(p=1)


TOKENS = {"input": {"shape": [5, "N"], "dtype": "long"}}


def flat(value) -> list[torch.Tensor]:
    if isinstance(value, tuple | list):
        return [t for v in value for t in flat(v)]
    return [value]


def run_both(
    module: nn.Module, declared: dict, values: dict, training: bool, seed: int = 5
) -> tuple[list, list]:
    """The module's returned values and the imported graph's outputs, each run after seeding torch
    alike, so dropout draws the same masks in both."""
    result = import_module(module, declared)
    runtime = Runtime(lower(result.graph), dtype="float32")
    module.train(training)
    runtime.module.train(training)
    torch.manual_seed(seed)
    expected = flat(module(**values))
    torch.manual_seed(seed)
    got = runtime.forward(values)
    return expected, [got[v] for v in lower(result.graph).sinks]


@pytest.mark.parametrize("rnn_type", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("training", [True, False], ids=["training", "evaluation"])
def test_the_word_language_model_imports_with_dropout_between_layers(rnn_type, training):
    torch.manual_seed(0)
    module = WordLanguageModel(rnn_type=rnn_type)
    tokens = torch.randint(0, 11, (5, 3), generator=torch.Generator().manual_seed(1))
    result = import_module(module, TOKENS)
    (layer,) = [n for n in result.graph.nodes if n.type == rnn_type]
    assert layer.params["dropout"] == 0.3 and result.opaque == []
    expected, got = run_both(module, TOKENS, {"input": tokens}, training)
    assert len(got) == len(expected) == (3 if rnn_type == "LSTM" else 2)  # log-probabilities, h (and c)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=1e-6)


def test_dropout_draws_other_masks_with_another_seed():
    torch.manual_seed(0)
    module = WordLanguageModel()
    tokens = torch.randint(0, 11, (5, 3))
    one, _ = run_both(module, TOKENS, {"input": tokens}, True, seed=1)
    two, _ = run_both(module, TOKENS, {"input": tokens}, True, seed=2)
    assert not torch.equal(one[0], two[0])


def test_every_spelling_of_a_norm_is_the_norm_node():
    result = import_module(Norms(), {"x": {"shape": ["N", 3]}})
    assert result.opaque == [] and [n.params["p"] for n in result.graph.nodes if n.type == "norm"] == [
        2,
        2,
        2,
        1,
    ]
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))
    expected, got = run_both(Norms(), {"x": {"shape": ["N", 3]}}, {"x": x}, False)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


class OddNorm(nn.Module):
    def forward(self, x):
        return x.norm(p=3), x.norm(p="nuc")


def test_a_norm_the_node_does_not_compute_stays_an_opaque_call_with_the_same_value():
    result = import_module(OddNorm(), {"x": {"shape": ["N", 3]}})
    assert [target for _, target in result.opaque] == ["torch.Tensor.norm", "torch.Tensor.norm"]
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))
    expected, got = run_both(OddNorm(), {"x": {"shape": ["N", 3]}}, {"x": x}, False)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dropout", [-0.1, 1.5, float("nan"), float("inf"), "0.3", True, [0.3]])
def test_a_hostile_dropout_param_is_one_line(dropout):
    from graphcore.registry import REGISTRY

    problems = REGISTRY["LSTM"].param_problems(
        {"input_size": 2, "hidden_size": 2, "num_layers": 2, "dropout": dropout}
    )
    assert problems and problems[0][0] == "dropout" and "\n" not in problems[0][1]


def test_dropout_on_one_layer_is_refused_by_name():
    from graphcore.graph import Graph, Node, PortRef
    from graphcore.validate import validate

    graph = Graph()
    graph.add_node(Node("x", "Input", {"shape": [3, "N", 2]}))
    graph.add_node(Node("rnn", "LSTM", {"input_size": 2, "hidden_size": 2, "dropout": 0.2}))
    graph.connect(PortRef("x", "out"), PortRef("rnn", "x"))
    (problem,) = validate(graph).diagnostics
    assert problem.node == "rnn" and "needs num_layers > 1" in problem.message


class MinGPTMask(nn.Module):
    """minGPT's CausalSelfAttention masking: a (1, 1, block, block) buffer cut to the sequence length T
    of the input, read three ways."""

    def __init__(self, block=8, spelling="unpack"):
        super().__init__()
        self.spelling = spelling
        self.register_buffer("bias", torch.tril(torch.ones(block, block)).view(1, 1, block, block))

    def forward(self, att):
        if self.spelling == "unpack":
            B, nh, T, _ = att.size()
        elif self.spelling == "size":
            T = att.size(2)
        else:
            T = att.shape[-1]
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        return F.softmax(att, dim=-1)


@pytest.mark.parametrize("spelling", ["unpack", "size", "shape"])
def test_mingpts_mask_follows_the_sequence_length(spelling):
    module = MinGPTMask(spelling=spelling)
    declared = {"att": {"shape": ["N", 2, "T", "T"]}}
    result = import_module(module, declared)
    assert [n.type for n in result.graph.nodes].count("narrow_to") == 2
    (eq,) = [node_id for node_id, target in result.opaque if target == "torch.eq"]
    assert result.notes == [  # the mask stays a comparison, and says why
        f"{eq}: torch.eq gives bool values (bool), and node types compute float tensors: it stays an "
        "Opaque call, which passes no gradient"
    ]
    for t in (2, 5, 8):  # the traced length was 4
        att = torch.randn(3, 2, t, t, generator=torch.Generator().manual_seed(t))
        expected, got = run_both(module, declared, {"att": att}, False)
        torch.testing.assert_close(got[0], expected[0], rtol=0, atol=1e-6)


def test_a_sequence_longer_than_the_buffer_is_refused_by_the_shape_rule():
    from graphcore.validate import validate

    result = import_module(MinGPTMask(), {"att": {"shape": ["N", 2, "T", "T"]}})
    (x,) = [n for n in result.graph.nodes if n.type == "Input"]
    result.graph.set_param(x.id, "shape", [2, 2, 9, 9])
    messages = [d.message for d in validate(result.graph).diagnostics]
    assert any("like's dim 2 has 9 entries but x's dim 2 only 8" in m for m in messages), messages


class Picks(nn.Module):
    def forward(self, x):
        return x.argmax(dim=1), x * 2


def test_an_integer_result_that_stays_opaque_says_why():
    result = import_module(Picks(), {"x": {"shape": ["N", 3]}})
    ((node_id, target),) = result.opaque
    assert target == "torch.Tensor.argmax"
    assert result.notes == [
        f"{node_id}: torch.Tensor.argmax gives integer values (int64), and node types compute float "
        "tensors: it stays an Opaque call, which passes no gradient"
    ]


class Autoencoder(nn.Module):
    """Attribute names a torch.fx GraphModule takes for itself: `code` and `graph`."""

    def __init__(self):
        super().__init__()
        self.code = nn.Linear(4, 2)
        self.graph = nn.Parameter(torch.randn(2))
        self.decode = nn.Linear(2, 4)

    def forward(self, x):
        return self.decode(torch.tanh(self.code(x)) * self.graph)


def test_layers_named_code_or_graph_import_with_their_own_names_and_weights():
    torch.manual_seed(0)
    module = Autoencoder()
    result = import_module(module, {"x": {"shape": ["N", 4]}})
    assert set(result.graph.weights.places) == set(module.state_dict())
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(4))
    expected, got = run_both(module, {"x": {"shape": ["N", 4]}}, {"x": x}, False)
    torch.testing.assert_close(got[0], expected[0].detach(), rtol=0, atol=1e-6)


class Positions(nn.Module):
    """nanoGPT's position embedding: `torch.arange(0, t, dtype=torch.long)` indexes wpe."""

    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(10, 3)
        self.wpe = nn.Embedding(8, 3)

    def forward(self, idx):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        return self.wte(idx) + self.wpe(pos)


def test_integer_positions_import_as_a_long_input_and_run():
    torch.manual_seed(0)
    module = Positions().eval()
    declared = {"idx": {"shape": ["N", 6], "dtype": "long"}}
    result = import_module(module, declared)
    (pos,) = [n for n in result.graph.nodes if n.type == "Input" and n.id != "idx"]
    assert pos.params == {"shape": [6], "value": [0, 1, 2, 3, 4, 5], "dtype": "long"}
    assert result.notes == [f"{pos.id}: an integer tensor forward computes, imported as a long Input"]
    idx = torch.randint(0, 10, (3, 6), generator=torch.Generator().manual_seed(1))
    expected, got = run_both(module, declared, {"idx": idx}, False)
    torch.testing.assert_close(got[0], expected[0].detach(), rtol=0, atol=1e-6)


def test_positions_that_follow_a_symbolic_length_say_their_shape_is_fixed():
    result = import_module(Positions(), {"idx": {"shape": ["N", "T"], "dtype": "long"}})
    (note,) = result.notes
    assert note.endswith("imported as a long Input, its shape fixed to [4]")
