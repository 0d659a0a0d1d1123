"""`graphcore import-torch` on the constructs real models use (nanoGPT, minGPT, the PyTorch tutorial's
LeNet, the word-language-model example): each small module here imports, and the graph computes what
the module does on the same input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from graphcore.exchange.importer import ImportTorchError, import_module
from graphcore.program import lower
from graphcore.runtime import Runtime
from graphcore.validate import validate


def imported_outputs(module: nn.Module, inputs: dict, values: dict) -> list[torch.Tensor]:
    result = import_module(module, inputs)
    report = validate(result.graph)
    assert report.ok, report.diagnostics
    runtime = Runtime(lower(result.graph), dtype="float32", inputs=values)
    return list(runtime.forward().values())


def assert_imports_exactly(module: nn.Module, inputs: dict, values: dict, opaque: int = 0) -> None:
    module.eval()
    with torch.no_grad():
        expected = module(**values)
    expected = list(expected) if isinstance(expected, tuple) else [expected]
    result = import_module(module, inputs)
    assert len(result.opaque) == opaque, result.opaque
    got = imported_outputs(module, inputs, values)
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


class SizeAssert(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block_size = 8

    def forward(self, x):
        b, t, c = x.size()
        assert t <= self.block_size, f"sequence of {t} is longer than {self.block_size}"
        return x * 2.0


class LeNetTail(nn.Module):
    def forward(self, x):
        return torch.tanh(x.view(-1, self.num_flat_features(x)))

    def num_flat_features(self, x):
        size = x.size()[1:]
        count = 1
        for s in size:
            count *= s
        return count


class Causal(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("bias", torch.tril(torch.ones(8, 8)).view(1, 1, 8, 8))

    def forward(self, x):
        b, t, c = x.size()
        att = (x @ x.transpose(-2, -1)).unsqueeze(1)
        att = att.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf"))
        return F.softmax(att, dim=-1)


class Indexing(nn.Module):
    def forward(self, x):
        return x[:, None] * 2, x[..., 0], x[:, [0, 2]], x[None, ..., 1:3], x[:, ::2], x[-1]


class Flat(nn.Module):
    def forward(self, x):
        return x.view(-1) * 2, x.reshape(-1) + 1


class Targets(nn.Module):
    def forward(self, x, targets=None):
        logits = torch.tanh(x)
        if targets is None:
            return logits
        return F.cross_entropy(logits, targets)


class TwoSizes(nn.Module):
    def forward(self, x):
        b, t, c = x.shape
        return x.reshape(b * t, c) * 2


class Ops(nn.Module):
    def forward(self, x):
        return (
            F.pad(x, (1, 1)),
            torch.where(x > 0.5, x, -x),
            torch.einsum("bij,bjk->bik", x, x.transpose(1, 2)),
            torch.bmm(x, x.transpose(1, 2)),
            torch.cumsum(x, 1),
            x[:, :1].expand(-1, 3, -1),
            x.repeat(1, 2, 1),
            x.max(dim=-1)[0],
            torch.max(x, 1).values,
            torch.rsqrt(x),
            F.normalize(x, dim=-1),
            torch.tril(x),
            x.type_as(x) * 3,
            x.float() + 1,
            x.var(-1),
            x.std(-1, unbiased=False),
            F.layer_norm(x, (4,)),
        )


X3 = {"x": {"shape": ["N", 3, 4]}}


@pytest.mark.parametrize(
    ("module", "inputs", "shape", "opaque"),
    [
        (SizeAssert(), X3, (2, 3, 4), 0),
        (LeNetTail(), X3, (2, 3, 4), 0),
        (Causal(), {"x": {"shape": ["N", 6, 4]}}, (2, 6, 4), 1),  # the comparison bias == 0
        (Indexing(), X3, (2, 3, 4), 0),
        (Flat(), {"x": {"shape": ["N", 3]}}, (2, 3), 0),
        (Targets(), {"x": {"shape": ["N", 3]}}, (2, 3), 0),
        (Ops(), X3, (2, 3, 4), 1),  # the comparison x > 0.5
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else None,
)
def test_real_code_constructs_import_and_compute_the_same(module, inputs, shape, opaque):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(3)) + 0.1
    assert_imports_exactly(module, inputs, {"x": x}, opaque)


def test_a_second_symbolic_size_stays_symbolic():
    inputs = {"x": {"shape": ["N", "T", 3]}}
    result = import_module(TwoSizes(), inputs)
    assert result.notes == []
    for t in (2, 5):
        x = torch.randn(3, t, 3)
        assert_imports_exactly(TwoSizes(), inputs, {"x": x})


class DataDependent(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


def test_control_flow_on_a_tensor_names_the_source_line():
    with pytest.raises(ImportTorchError) as error:
        import_module(DataDependent(), {"x": {"shape": ["N", 3]}})
    message = str(error.value)
    assert "\n" not in message and message.startswith("test_import_real_code.py:")
    assert "a condition on a tensor's values cannot be traced" in message
