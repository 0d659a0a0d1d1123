"""Recurrent layers: RNN, LSTM and GRU over a sequence, with their final hidden state as a port.

x is (L, N, input_size), or (N, L, input_size) with batch_first, or (L, input_size) unbatched. The
outputs are every step's output `out` and the last step's state `h` (and the LSTM's cell state `c`),
shaped (D·num_layers, N, hidden_size) whatever batch_first says, as torch returns them; `dropout`
acts between stacked layers in training, as torch's does. An initial
state may be wired into `h0` (and `c0`): an encoder's final state starting a decoder, say.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from graphcore.registry import (
    Example,
    NodeSpec,
    Param,
    Shape,
    TorchRule,
    expect,
    register,
    same_dim,
    show,
)
from nodes.init import INIT_PARAMS, all_weights_init, module_init


def recurrent_shape(type_: str) -> Any:
    lstm = type_ == "LSTM"

    def rule(
        x: Shape,
        h0: Shape | None = None,
        c0: Shape | None = None,
        *,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        batch_first: bool,
        bidirectional: bool,
        dropout: float = 0.0,
        **_: Any,
    ) -> tuple[Shape, ...]:
        expect(
            dropout == 0 or num_layers > 1,
            f"{type_} dropout={dropout} acts between stacked layers: it needs num_layers > 1",
        )
        layout = "(N, L, input_size)" if batch_first else "(L, N, input_size)"
        expect(len(x) in (2, 3), f"{type_} needs x of shape {layout} or (L, input_size), not {show(x)}")
        expect(same_dim(x[-1], input_size), f"{type_} input_size={input_size} but x has {x[-1]} features")
        directions = 2 if bidirectional else 1
        if len(x) == 3:
            length, batch = (x[1], x[0]) if batch_first else (x[0], x[1])
            features = directions * hidden_size
            out: Shape = (batch, length, features) if batch_first else (length, batch, features)
            state: Shape = (directions * num_layers, batch, hidden_size)
        else:
            out, state = (x[0], directions * hidden_size), (directions * num_layers, hidden_size)
        for name, given in (("h0", h0), ("c0", c0)):
            expect(
                given is None or (len(given) == len(state) and all(map(same_dim, given, state))),
                f"{type_} {name} must have shape {show(state)}, not {show(given or ())}",
            )
        expect(not lstm or (h0 is None) == (c0 is None), "LSTM needs both h0 and c0, or neither")
        return (out, state, state) if lstm else (out, state)

    return rule


def recurrent_params(type_: str) -> tuple[Param, ...]:
    return (
        Param("input_size", "int", 1, "Features of each step of x.", min=1),
        Param("hidden_size", "int", 1, "Features of the hidden state h.", min=1),
        Param("num_layers", "int", 1, "Layers stacked on top of each other.", min=1),
        *(
            (
                Param(
                    "nonlinearity",
                    "str",
                    "tanh",
                    "The activation of the state update.",
                    choices=("tanh", "relu"),
                ),
            )
            if type_ == "RNN"
            else ()
        ),
        Param("bias", "bool", True, "Learn biases b_ih and b_hh."),
        Param(
            "dropout",
            "float",
            0.0,
            "In training, dropout with this probability on each layer's output but the last.",
            min=0.0,
            max=1.0,
        ),
        Param("batch_first", "bool", False, "x and out are (N, L, features) instead of (L, N, features)."),
        Param(
            "bidirectional",
            "bool",
            False,
            "Also run the sequence backwards; out then has 2·hidden_size features.",
        ),
        *INIT_PARAMS,
    )


def recurrent_examples(type_: str) -> Any:
    states = 2 if type_ == "LSTM" else 1

    def draw(r: random.Random) -> list[Example]:
        i, h, length = r.randint(1, 3), r.randint(1, 3), r.randint(2, 4)
        layers, both = r.choice([1, 2]), r.random() < 0.5
        params = {
            "input_size": i,
            "hidden_size": h,
            "num_layers": layers,
            "dropout": r.choice([0.0, 0.3]) if layers > 1 else 0.0,
            "bidirectional": both,
            "weight_init": r.choice(["default", "xavier_uniform"]),
        }
        state = ((2 if both else 1) * layers, "N", h)
        return [
            Example(params, ((length, "N", i), *(None,) * states)),
            Example({**params, "batch_first": True}, (("N", length, i), *(state,) * states)),
            Example({"input_size": 2, "hidden_size": 2}, ((3, 2), *((1, 2),) * states)),
        ]

    return draw


def recurrent_module(nonlinearity: bool) -> Callable[[Any], dict[str, Any] | None]:
    """The params of an nn.RNN, LSTM or GRU; None for projections (an LSTM's proj_size)."""

    def read(module: Any) -> dict[str, Any] | None:
        if getattr(module, "proj_size", 0):
            return None
        params = {
            "input_size": module.input_size,
            "hidden_size": module.hidden_size,
            "num_layers": module.num_layers,
            "bias": module.bias,
            "dropout": float(module.dropout),
            "batch_first": module.batch_first,
            "bidirectional": module.bidirectional,
        }
        if nonlinearity:
            params["nonlinearity"] = module.nonlinearity
        return params

    return read


def recurrent_code(outputs: str, states: tuple[str, ...]) -> Any:
    """`out, h = self.rnn(x)`, passing the initial state only when one is wired in."""
    state = "{h0}" if len(states) == 1 else "({h0}, {c0})"
    return lambda params, connected: (
        f"{outputs} = {{module}}({{x}}" + (f", {state})" if connected & set(states) else ")")
    )


RECURRENT = (
    (
        "RNN",
        ("out", "h"),
        recurrent_code("{out}, {h}", ("h0",)),
        "hₜ = tanh(W_ih xₜ + b_ih + W_hh hₜ₋₁ + b_hh),  "
        "backpropagation through time adds every step's contribution",
        "Elman recurrent network: one hidden state updated at each step. out holds every step's state, h the "
        "last one; h0 may set the first.",
    ),
    (
        "LSTM",
        ("out", "h", "c"),
        recurrent_code("{out}, ({h}, {c})", ("h0", "c0")),
        "hₜ = oₜ⊙tanh(cₜ), cₜ = fₜ⊙cₜ₋₁ + iₜ⊙gₜ,  "
        "iₜ, fₜ, oₜ = σ(W xₜ + U hₜ₋₁ + b), gₜ = tanh(W xₜ + U hₜ₋₁ + b),  "
        "the cell state cₜ carries gradients across many steps",
        "Long short-term memory: gates decide what the cell state c forgets, stores and shows. out holds every "
        "step's output, h and c the last state; h0 and c0 may set the first.",
    ),
    (
        "GRU",
        ("out", "h"),
        recurrent_code("{out}, {h}", ("h0",)),
        "hₜ = (1 − zₜ)⊙nₜ + zₜ⊙hₜ₋₁,  rₜ, zₜ = σ(W xₜ + U hₜ₋₁ + b), nₜ = tanh(W_n xₜ + rₜ⊙(U_n hₜ₋₁)),  "
        "the update gate zₜ lets gradients pass unchanged",
        "Gated recurrent unit: an LSTM with fewer gates and no separate cell state. out holds every step's "
        "state, h the last one; h0 may set the first.",
    ),
)

for type_, outputs, code, formula, doc in RECURRENT:
    params = recurrent_params(type_)
    keywords = [
        "num_layers",
        *(["nonlinearity"] if type_ == "RNN" else []),
        "bias",
        "dropout",
        "batch_first",
        "bidirectional",
    ]
    states = ("h0", "c0") if type_ == "LSTM" else ("h0",)
    register(
        NodeSpec(
            type_,
            "recurrent",
            ("x", *states),
            outputs,
            recurrent_shape(type_),
            kind="layer",
            optional_inputs=states,
            init=module_init(type_, params, ["input_size", "hidden_size"], keywords),
            post_init=all_weights_init,
            code=code,
            params=params,
            doc=doc,
            formula=formula,
            examples=recurrent_examples(type_),
            no_jvp_reason=f"in training with dropout > 0 between layers, each run draws new masks, and forward "
            f"mode runs the {type_} again, so its tangent would use other masks than the forward pass did; use "
            "reverse mode (in evaluation, or with dropout = 0, forward mode works).",
            no_jvp_reason_applies=lambda params, training: (
                training and params["dropout"] > 0 and params["num_layers"] > 1
            ),
            aliases=("recurrent", "sequence", type_.lower()),
            torch_rules=(TorchRule(module=f"torch.nn.{type_}", read=recurrent_module(type_ == "RNN")),),
            torch_result=("out", ("h", "c")) if type_ == "LSTM" else ("out", "h"),
        )
    )
