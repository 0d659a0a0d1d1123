"""Which node type computes a torch call: the tables `graphcore import-torch` maps fx nodes with.

A rule names a node type and the call's signature, written with torch's own argument names;
`rename` maps them to the type's ports and params. Arguments the type has no param for must keep
their defaults, or the rule does not apply and the call is imported as an Opaque node. Layers
and module-style activations map from the module's attributes instead (`MODULES`).
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphcore._torch import torch

REQUIRED = object()


@dataclass(frozen=True)
class Rule:
    """A call `f(names...)` computed by node type `type`; `*name` collects extra positionals."""

    type: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    varargs: str | None = None
    rename: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)  # params the call implies

    def bind(self, args: list[Any], kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
        """Argument name (renamed) -> value, as Python binds the call; None when it does not fit."""
        bound: dict[str, Any] = {}
        extra = []
        for index, value in enumerate(args):
            if index < len(self.names):
                bound[self.names[index]] = value
            elif self.varargs:
                extra.append(value)
            else:
                return None
        for key, value in kwargs.items():
            if key not in self.names or key in bound:
                return None
            bound[key] = value
        for name in self.names:
            if name not in bound:
                if self.defaults.get(name, REQUIRED) is REQUIRED:
                    return None
                bound[name] = self.defaults[name]
        if extra:  # x.view(2, -1) as x.view((2, -1))
            bound[self.varargs] = [bound[self.varargs], *extra]
        return {self.rename.get(k, k): v for k, v in bound.items()}


def rule(type_: str, signature: str, varargs: bool = False, **rename: str) -> Rule:
    """A rule from a Python parameter list: `rule("sum", "input, dim=None, keepdim=False", input="x")`."""
    function = ast.parse(f"def f({signature}): pass").body[0]
    assert isinstance(function, ast.FunctionDef)
    names = [a.arg for a in [*function.args.args, *function.args.kwonlyargs]]
    positional = function.args.args
    defaults = {
        a.arg: ast.literal_eval(d)
        for a, d in zip(positional[len(positional) - len(function.args.defaults) :], function.args.defaults)
    }
    defaults.update(
        {
            a.arg: ast.literal_eval(d)
            for a, d in zip(function.args.kwonlyargs, function.args.kw_defaults)
            if d is not None
        }
    )
    return Rule(type_, tuple(names), defaults, names[-1] if varargs else None, rename)


X = {"input": "x", "self": "x"}
AB = {"input": "a", "self": "a", "other": "b"}
LOSS = "input, target, size_average=None, reduce=None, reduction='mean'"


def _functions() -> dict[Any, Rule]:
    F = torch.nn.functional
    unary = {
        "square": torch.square,
        "sqrt": torch.sqrt,
        "exp": torch.exp,
        "log": torch.log,
        "abs": torch.abs,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "neg": torch.neg,
        "zeros_like": torch.zeros_like,
        "ones_like": torch.ones_like,
        "randn": torch.randn_like,
    }
    table: dict[Any, Rule] = {f: rule(t, "input", **X) for t, f in unary.items()}
    for type_, functions in {
        "add": (operator.add, torch.add),
        "sub": (operator.sub, torch.sub),
        "mul": (operator.mul, torch.mul),
        "div": (operator.truediv, torch.div),
    }.items():
        table[functions[0]] = rule(type_, "input, other", **AB)
        table[functions[1]] = rule(
            type_, "input, other, alpha=1" if type_ in ("add", "sub") else "input, other", **AB
        )
    table[torch.div] = rule("div", "input, other, rounding_mode=None", **AB)
    table[operator.neg] = rule("neg", "input", **X)
    table[operator.matmul] = table[torch.matmul] = rule("matmul", "input, other", **AB)
    table[torch.maximum] = rule("maximum", "input, other", **AB)
    table[torch.minimum] = rule("minimum", "input, other", **AB)
    table[torch.dot] = rule("dot", "input, other", input="a", other="b")
    table[operator.pow] = table[torch.pow] = rule("pow", "input, exponent", **X)
    table[torch.clamp] = table[torch.clip] = rule("clamp", "input, min=None, max=None", **X)
    table[torch.full_like] = rule("full_like", "input, fill_value", **X)
    table.update(
        {
            F.relu: rule("relu", "input, inplace=False", **X),
            F.sigmoid: rule("sigmoid", "input", **X),
            F.tanh: rule("tanh", "input", **X),
            F.leaky_relu: rule("LeakyReLU", "input, negative_slope=0.01, inplace=False", **X),
            F.elu: rule("ELU", "input, alpha=1.0, inplace=False", **X),
            F.selu: rule("SELU", "input, inplace=False", **X),
            F.silu: rule("SiLU", "input, inplace=False", **X),
            F.mish: rule("Mish", "input, inplace=False", **X),
            F.gelu: rule("GELU", "input, approximate='none'", **X),
            F.softplus: rule("Softplus", "input, beta=1.0, threshold=20.0", **X),
            F.hardtanh: rule("Hardtanh", "input, min_val=-1.0, max_val=1.0, inplace=False", **X),
            F.softmax: rule("Softmax", "input, dim=None, _stacklevel=3, dtype=None", **X),
            torch.softmax: rule("Softmax", "input, dim, dtype=None", **X),
            F.log_softmax: rule("LogSoftmax", "input, dim=None, _stacklevel=3, dtype=None", **X),
            torch.log_softmax: rule("LogSoftmax", "input, dim, dtype=None", **X),
            torch.sum: rule("sum", "input, dim=None, keepdim=False, dtype=None", **X),
            torch.mean: rule("mean", "input, dim=None, keepdim=False, dtype=None", **X),
            torch.max: rule("max", "input", **X),
            torch.min: rule("min", "input", **X),
            torch.amax: rule("max", "input, dim=(), keepdim=False", **X),
            torch.amin: rule("min", "input, dim=(), keepdim=False", **X),
            torch.linalg.vector_norm: rule("norm", "x, ord=2, dim=None, keepdim=False, dtype=None", ord="p"),
            torch.reshape: rule("reshape", "input, shape", **X),
            torch.flatten: rule("flatten", "input, start_dim=0, end_dim=-1", **X),
            torch.transpose: rule("transpose", "input, dim0, dim1", **X),
            torch.permute: rule("permute", "input, dims", **X),
            torch.squeeze: rule("squeeze", "input, dim=None", **X),
            torch.unsqueeze: rule("unsqueeze", "input, dim", **X),
            torch.cat: rule("cat", "tensors, dim=0"),
            torch.concat: rule("cat", "tensors, dim=0"),
            torch.stack: rule("stack", "tensors, dim=0"),
            torch.split: rule("split", "tensor, split_size_or_sections, dim=0", tensor="x"),
            torch.chunk: rule("chunk", "input, chunks=2, dim=0", **X),  # the chunk node makes two
            torch.select: rule("select", "input, dim, index", **X),
            torch.narrow: rule("narrow", "input, dim, start, length", **X),
            # F.dropout(x, p, training=self.training) traced in training mode: a Dropout layer, which
            # follows the model's train/eval mode as the call did
            F.dropout: rule("Dropout", "input, p=0.5, training=True, inplace=False", **X),
            F.scaled_dot_product_attention: rule(
                "scaled_dot_product_attention",
                "query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False",
            ),
            F.max_pool2d: rule(
                "MaxPool2d",
                "input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False",
                **X,
            ),
            F.avg_pool2d: rule(
                "AvgPool2d",
                "input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, "
                "divisor_override=None",
                **X,
            ),
            F.adaptive_avg_pool2d: rule("AdaptiveAvgPool2d", "input, output_size", **X),
            F.interpolate: rule(
                "Upsample",
                "input, size=None, scale_factor=None, mode='nearest', align_corners=None, "
                "recompute_scale_factor=None, antialias=False",
                **X,
            ),
            F.mse_loss: rule("MSELoss", LOSS + ", weight=None"),
            F.l1_loss: rule("L1Loss", LOSS),
            F.huber_loss: rule("HuberLoss", "input, target, reduction='mean', delta=1.0, weight=None"),
            F.smooth_l1_loss: rule("SmoothL1Loss", LOSS + ", beta=1.0"),
            F.binary_cross_entropy: rule(
                "BCELoss", "input, target, weight=None, size_average=None, reduce=None, reduction='mean'"
            ),
            F.binary_cross_entropy_with_logits: rule(
                "BCEWithLogitsLoss",
                "input, target, weight=None, size_average=None, reduce=None, reduction='mean', pos_weight=None",
            ),
            F.cross_entropy: rule(
                "CrossEntropyLoss",
                "input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean', "
                "label_smoothing=0.0",
            ),
            F.nll_loss: rule(
                "NLLLoss",
                "input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean'",
            ),
            F.kl_div: rule("KLDivLoss", LOSS + ", log_target=False"),
            F.hinge_embedding_loss: rule("HingeEmbeddingLoss", "input, target, margin=1.0, " + LOSS[15:]),
            F.multi_margin_loss: rule(
                "MultiMarginLoss", "input, target, p=1, margin=1.0, weight=None, " + LOSS[15:]
            ),
            F.gaussian_nll_loss: rule(
                "GaussianNLLLoss", "input, target, var, full=False, eps=1e-06, reduction='mean'"
            ),
        }
    )
    return table


def _methods() -> dict[str, Rule]:
    table = {
        name: rule(type_, "self", **X)
        for name, type_ in {
            "square": "square",
            "sqrt": "sqrt",
            "exp": "exp",
            "log": "log",
            "abs": "abs",
            "sigmoid": "sigmoid",
            "tanh": "tanh",
            "relu": "relu",
            "neg": "neg",
        }.items()
    }
    for name in ("add", "sub", "mul", "div", "matmul", "maximum", "minimum", "dot"):
        table[name] = rule(
            name if name not in ("maximum", "minimum", "dot") else name, "self, other", self="a", other="b"
        )
    table["pow"] = rule("pow", "self, exponent", **X)
    table["clamp"] = table["clip"] = rule("clamp", "self, min=None, max=None", **X)
    table["softmax"] = rule("Softmax", "self, dim, dtype=None", **X)
    table["log_softmax"] = rule("LogSoftmax", "self, dim, dtype=None", **X)
    table["sum"] = rule("sum", "self, dim=None, keepdim=False, dtype=None", **X)
    table["mean"] = rule("mean", "self, dim=None, keepdim=False, dtype=None", **X)
    table["amax"] = rule("max", "self, dim=(), keepdim=False", **X)
    table["amin"] = rule("min", "self, dim=(), keepdim=False", **X)
    table["reshape"] = rule("reshape", "self, shape", varargs=True, **X)
    table["view"] = rule("view", "self, shape", varargs=True, **X)
    table["flatten"] = rule("flatten", "self, start_dim=0, end_dim=-1", **X)
    table["transpose"] = rule("transpose", "self, dim0, dim1", **X)
    table["permute"] = rule("permute", "self, dims", varargs=True, **X)
    table["squeeze"] = rule("squeeze", "self, dim=None", **X)
    table["unsqueeze"] = rule("unsqueeze", "self, dim", **X)
    table["split"] = rule("split", "self, split_size_or_sections, dim=0", **X)
    table["chunk"] = rule("chunk", "self, chunks=2, dim=0", **X)
    table["select"] = rule("select", "self, dim, index", **X)
    table["narrow"] = rule("narrow", "self, dim, start, length", **X)
    return table


@functools.cache
def functions() -> dict[Any, Rule]:
    return _functions()


@functools.cache
def methods() -> dict[str, Rule]:
    return _methods()


# Python operators on tensors, as the torch functions they call (what an Opaque node may record)
OPERATORS = {
    operator.gt: "torch.gt",
    operator.ge: "torch.ge",
    operator.lt: "torch.lt",
    operator.le: "torch.le",
    operator.eq: "torch.eq",
    operator.ne: "torch.ne",
    operator.mod: "torch.remainder",
    operator.floordiv: "torch.floor_divide",
    operator.and_: "torch.bitwise_and",
    operator.or_: "torch.bitwise_or",
    operator.xor: "torch.bitwise_xor",
    operator.invert: "torch.bitwise_not",
    operator.pow: "torch.pow",
    operator.truediv: "torch.div",
    operator.mul: "torch.mul",
    operator.add: "torch.add",
    operator.sub: "torch.sub",
    operator.matmul: "torch.matmul",
    operator.neg: "torch.neg",
}


# Calls that compute their argument unchanged: the importer wires around them.
IDENTITY_METHODS = {"contiguous"}


def _compact(value: Any) -> Any:
    """(3, 3) as 3, as a user writes it: torch takes one int for every dimension alike."""
    if isinstance(value, tuple | list):
        return value[0] if len(set(value)) == 1 else list(value)
    return value


def _conv(module: Any) -> dict[str, Any] | None:
    if module.padding_mode != "zeros" or isinstance(module.padding, str):
        return None
    params = {
        "in_channels": module.in_channels,
        "out_channels": module.out_channels,
        "kernel_size": _compact(module.kernel_size),
        "stride": _compact(module.stride),
        "padding": _compact(module.padding),
        "dilation": _compact(module.dilation),
        "groups": module.groups,
        "bias": module.bias is not None,
    }
    if isinstance(module, torch.nn.ConvTranspose2d):
        params["output_padding"] = _compact(module.output_padding)
    return params


def _recurrent(module: Any) -> dict[str, Any] | None:
    if module.dropout or getattr(module, "proj_size", 0):
        return None
    params = {
        "input_size": module.input_size,
        "hidden_size": module.hidden_size,
        "num_layers": module.num_layers,
        "bias": module.bias,
        "batch_first": module.batch_first,
        "bidirectional": module.bidirectional,
    }
    if isinstance(module, torch.nn.RNN) and not isinstance(module, torch.nn.LSTM | torch.nn.GRU):
        params["nonlinearity"] = module.nonlinearity
    return params


def _attention(module: Any) -> dict[str, Any] | None:
    if module.bias_k is not None or module.add_zero_attn:
        return None
    return {
        "embed_dim": module.embed_dim,
        "num_heads": module.num_heads,
        "dropout": module.dropout,
        "bias": module.in_proj_bias is not None,
        "kdim": None if module.kdim == module.embed_dim else module.kdim,
        "vdim": None if module.vdim == module.embed_dim else module.vdim,
        "batch_first": module.batch_first,
    }


def _encoder(module: Any) -> dict[str, Any] | None:
    activation = {torch.nn.functional.relu: "relu", torch.nn.functional.gelu: "gelu"}.get(module.activation)
    if activation is None:
        return None
    return {
        "d_model": module.self_attn.embed_dim,
        "nhead": module.self_attn.num_heads,
        "dim_feedforward": module.linear1.out_features,
        "dropout": module.dropout.p,
        "activation": activation,
        "layer_norm_eps": module.norm1.eps,
        "batch_first": module.self_attn.batch_first,
        "norm_first": module.norm_first,
        "bias": module.linear1.bias is not None,
    }


def _embedding(module: Any) -> dict[str, Any] | None:
    if module.max_norm is not None or module.scale_grad_by_freq or module.sparse:
        return None
    return {
        "num_embeddings": module.num_embeddings,
        "embedding_dim": module.embedding_dim,
        "padding_idx": module.padding_idx,
    }


def _attributes(*names: str, **renamed: str) -> Callable[[Any], dict[str, Any]]:
    def read(module: Any) -> dict[str, Any]:
        values = {name: getattr(module, name) for name in names}
        values.update({param: getattr(module, attribute) for param, attribute in renamed.items()})
        return {k: _compact(v) for k, v in values.items()}

    return read


@functools.cache
def modules() -> dict[type, tuple[str, Callable[[Any], dict[str, Any] | None]]]:
    """nn.Module class -> (node type, params from the module, or None when the type cannot express it)."""
    nn = torch.nn
    reduction = _attributes("reduction")
    return {
        nn.Linear: (
            "Linear",
            lambda m: {
                "in_features": m.in_features,
                "out_features": m.out_features,
                "bias": m.bias is not None,
            },
        ),
        nn.Bilinear: (
            "Bilinear",
            lambda m: {
                "in1_features": m.in1_features,
                "in2_features": m.in2_features,
                "out_features": m.out_features,
                "bias": m.bias is not None,
            },
        ),
        nn.Embedding: ("Embedding", _embedding),
        nn.Conv1d: ("Conv1d", _conv),
        nn.Conv2d: ("Conv2d", _conv),
        nn.ConvTranspose2d: ("ConvTranspose2d", _conv),
        nn.BatchNorm1d: (
            "BatchNorm1d",
            _attributes("num_features", "eps", "momentum", "affine", "track_running_stats"),
        ),
        nn.BatchNorm2d: (
            "BatchNorm2d",
            _attributes("num_features", "eps", "momentum", "affine", "track_running_stats"),
        ),
        nn.LayerNorm: (
            "LayerNorm",
            lambda m: {
                "normalized_shape": m.normalized_shape[0]
                if len(m.normalized_shape) == 1
                else list(m.normalized_shape),
                "eps": m.eps,
                "elementwise_affine": m.elementwise_affine,
                "bias": m.bias is not None or not m.elementwise_affine,
            },
        ),
        nn.GroupNorm: ("GroupNorm", _attributes("num_groups", "num_channels", "eps", "affine")),
        nn.Dropout: ("Dropout", _attributes("p")),
        nn.RNN: ("RNN", _recurrent),
        nn.LSTM: ("LSTM", _recurrent),
        nn.GRU: ("GRU", _recurrent),
        nn.MultiheadAttention: ("MultiheadAttention", _attention),
        nn.TransformerEncoderLayer: ("TransformerEncoderLayer", _encoder),
        nn.ReLU: ("relu", lambda m: {}),
        nn.Sigmoid: ("sigmoid", lambda m: {}),
        nn.Tanh: ("tanh", lambda m: {}),
        nn.LeakyReLU: ("LeakyReLU", _attributes("negative_slope")),
        nn.ELU: ("ELU", _attributes("alpha")),
        nn.SELU: ("SELU", lambda m: {}),
        nn.SiLU: ("SiLU", lambda m: {}),
        nn.Mish: ("Mish", lambda m: {}),
        nn.GELU: ("GELU", _attributes("approximate")),
        nn.Softplus: ("Softplus", _attributes("beta", "threshold")),
        nn.Softmax: ("Softmax", lambda m: None if m.dim is None else {"dim": m.dim}),
        nn.LogSoftmax: ("LogSoftmax", lambda m: None if m.dim is None else {"dim": m.dim}),
        nn.Hardtanh: ("Hardtanh", _attributes("min_val", "max_val")),
        nn.Flatten: ("Flatten", _attributes("start_dim", "end_dim")),
        nn.MaxPool2d: (
            "MaxPool2d",
            lambda m: (
                None
                if m.return_indices
                else _attributes("kernel_size", "stride", "padding", "dilation", "ceil_mode")(m)
            ),
        ),
        nn.AvgPool2d: (
            "AvgPool2d",
            lambda m: (
                None
                if m.divisor_override
                else _attributes("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")(m)
            ),
        ),
        nn.AdaptiveAvgPool2d: ("AdaptiveAvgPool2d", _attributes("output_size")),
        nn.MSELoss: ("MSELoss", reduction),
        nn.L1Loss: ("L1Loss", reduction),
        nn.HuberLoss: ("HuberLoss", _attributes("reduction", "delta")),
        nn.SmoothL1Loss: ("SmoothL1Loss", _attributes("reduction", "beta")),
        nn.BCELoss: ("BCELoss", lambda m: None if m.weight is not None else reduction(m)),
        nn.BCEWithLogitsLoss: (
            "BCEWithLogitsLoss",
            lambda m: None if m.weight is not None or m.pos_weight is not None else reduction(m),
        ),
        nn.CrossEntropyLoss: (
            "CrossEntropyLoss",
            lambda m: (
                None
                if m.weight is not None
                else _attributes("reduction", "ignore_index", "label_smoothing")(m)
            ),
        ),
        nn.NLLLoss: (
            "NLLLoss",
            lambda m: None if m.weight is not None else _attributes("reduction", "ignore_index")(m),
        ),
        nn.KLDivLoss: ("KLDivLoss", _attributes("reduction", "log_target")),
    }


# How a layer's tuple result maps to its ports: (out, h) for RNN and GRU, (out, (h, c)) for an LSTM.
RESULT_PORTS: dict[str, Any] = {
    "RNN": ("out", "h"),
    "GRU": ("out", "h"),
    "LSTM": ("out", ("h", "c")),
    "MultiheadAttention": ("out", "weights"),
    "split": ("out0", "out1"),
    "chunk": ("out0", "out1"),
}
