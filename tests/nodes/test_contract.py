"""Every registered node type, checked against torch: adding a type adds its tests.

For each type's declared examples: the shape rule against torch's shapes, the generated module against
the node's own code, the stepping engine's VJP against torch.autograd, gradcheck in float64, forward
mode against reverse mode, diagnostics for bad params and bad shapes, and the !r rule of templates.
"""

from __future__ import annotations

import re
import string

import pytest
import torch
from node_cases import NODE, OPERATIONS, TYPES, Case, cases, concrete, examples_of, make_case
from torch.autograd.gradcheck import GradcheckError

from graphcore.blocks import MAX_REPEAT
from graphcore.derivatives.autodiff import call_with_pullback, node_jvp
from graphcore.graph import BLOCK_TYPE
from graphcore.nodedocs import CATEGORIES
from graphcore.registry import REGISTRY, Example, Param


def close(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    torch.testing.assert_close(actual, expected, rtol=1e-7, atol=1e-9, msg=lambda m: f"{what}: {m}")


def modes(case: Case) -> list[str]:
    """Layers are checked in training and in evaluation mode (BatchNorm, Dropout and RNNs differ)."""
    return ["train", "eval"] if case.module is not None else ["train"]


def set_mode(case: Case, mode: str) -> None:
    case.runtime.module.train(mode == "train")


@pytest.mark.parametrize("type_", TYPES)
def test_declaration_is_complete(type_):
    spec = REGISTRY[type_]
    assert spec.category in CATEGORIES
    assert spec.doc.strip() and spec.formula.strip(), f"{type_} needs a doc line and a formula"
    assert spec.examples is not None and examples_of(spec), f"{type_} declares no examples"
    assert set(spec.optional_inputs) <= set(spec.inputs)
    assert len({p.name for p in spec.params}) == len(spec.params)
    for param in spec.params:
        assert param.problem(param.default) is None, f"{type_}.{param.name}: bad default {param.default!r}"
    if spec.kind == "layer":
        assert spec.init and "{module}" in spec.template(spec.defaults())
    for case in cases(type_):
        assert case.report.ok, f"{type_} example {case.example} does not validate: {case.report.diagnostics}"


@pytest.mark.parametrize("type_", TYPES)
def test_shape_rule_matches_torch(type_):
    for case in cases(type_):
        expected = case.expected_shapes()
        if case.spec.inputs:  # the rule gives the same sizes when the batch is known
            known = tuple(None if s is None else concrete(s, case.batch) for s in case.example.shapes)
            exact = make_case(case.spec, case.example, case.batch, shapes=known)
            assert exact.report.ok, exact.report.diagnostics
            assert [exact.report.shapes[o] for o in case.instr.outs] == expected, "differs at a known batch"
        torch.manual_seed(0)
        fast = case.runtime.forward()
        got = [tuple(fast[o].shape) for o in case.instr.outs]
        assert got == expected, f"{type_} {dict(case.example.params)}: rule {expected}, torch {got}"
        if not case.spec.is_source:  # the generated module and the node's own code compute the same
            for out, value in zip(case.instr.outs, case.call(), strict=True):
                close(value, fast[out], f"{type_} {out}")


@pytest.mark.parametrize("type_", OPERATIONS)
def test_backward_step_matches_autograd(type_):
    for case in cases(type_):
        for mode in modes(case):
            set_mode(case, mode)
            module, slots = case.module, case.float_slots
            torch.manual_seed(0)
            node = call_with_pullback(case.instr, module, case.args)
            cotangents = tuple(torch.randn_like(o) for o in node.outputs)
            arg_grads, weight_grads = node.pullback(cotangents)

            leaves = [
                a.detach().clone().requires_grad_(i in slots) if a is not None else None
                for i, a in enumerate(case.args)
            ]
            weights = dict(module.named_parameters()) if module is not None else {}
            outputs = case.call(*leaves)
            for got, want in zip(node.outputs, outputs, strict=True):
                close(got, want.detach(), f"{type_} ({mode}) output")
            wrt = [leaves[i] for i in slots] + list(weights.values())
            expected = [None] * len(wrt)
            if any(o.requires_grad for o in outputs):  # randn and *_like do not depend on their input
                expected = torch.autograd.grad(outputs, wrt, cotangents, allow_unused=True)
            got = [arg_grads[i] for i in slots] + [weight_grads[name] for name in weights]
            names = [*(f"input {i}" for i in slots), *weights]
            for name, g, e in zip(names, got, expected, strict=True):
                close(g, e if e is not None else torch.zeros_like(g), f"{type_} ({mode}) gradient of {name}")


def gradcheck_case(case: Case) -> bool:
    """gradcheck over the float inputs and the layer's weights, the global RNG seeded on every call."""
    slots = case.float_slots
    names = [name for name, _ in case.module.named_parameters()] if case.module is not None else []
    inputs = tuple(case.args[i].detach().clone().requires_grad_() for i in slots)
    inputs += tuple(w.detach().clone().requires_grad_() for w in (case.module.parameters() if names else ()))
    if not inputs:
        return True

    def f(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        args = list(case.args)
        for slot, value in zip(slots, tensors, strict=False):
            args[slot] = value
        weights = {f"layer.{name}": w for name, w in zip(names, tensors[len(slots) :], strict=True)}
        return case.with_weights(tuple(args), weights)

    fast = sum(t.numel() for t in inputs) > 40
    return torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=fast)


# Their value is their input but their gradient is zero by declaration (stop-gradient): finite
# differences must disagree with it (tests/nodes/test_gradients.py checks what they promise).
STOP_GRADIENT = {"detach"}


@pytest.mark.parametrize("type_", OPERATIONS)
def test_gradcheck_in_float64(type_):
    for case in cases(type_, draws=1):
        if type_ in STOP_GRADIENT:
            with pytest.raises(GradcheckError, match="expected to be zero"):
                gradcheck_case(case)
            continue
        assert gradcheck_case(case), f"{type_} {dict(case.example.params)}"


@pytest.mark.parametrize("type_", OPERATIONS)
def test_forward_mode_matches_reverse_mode(type_):
    spec = REGISTRY[type_]
    for case in cases(type_, draws=1):
        for mode in modes(case):
            set_mode(case, mode)
            slots, module = case.float_slots, case.module
            tangents = tuple(torch.randn_like(a) if i in slots else None for i, a in enumerate(case.args))
            if not slots:  # nothing to push a tangent through (an Embedding's indices)
                continue
            if spec.jvp_refusal(case.instr.params, training=mode == "train"):
                with pytest.raises(NotImplementedError, match="forward mode is not available"):
                    node_jvp(case.instr, module, case.args, tangents)
                continue
            torch.manual_seed(0)
            node = call_with_pullback(case.instr, module, case.args)
            cotangents = tuple(torch.randn_like(o) for o in node.outputs)
            arg_grads, _ = node.pullback(cotangents)
            buffers = {k: b.clone() for k, b in module.named_buffers()} if module is not None else {}
            torch.manual_seed(0)
            out_tangents = node_jvp(case.instr, module, case.args, tangents)
            forward = sum((c * t).sum() for c, t in zip(cotangents, out_tangents, strict=True))
            reverse = sum((arg_grads[i] * tangents[i]).sum() for i in slots)
            close(forward, reverse, f"{type_} ({mode}): <c, J t> vs <Jᵀc, t>")
            for name, buffer in module.named_buffers() if module is not None else []:
                assert torch.equal(buffer, buffers[name]), f"{type_}: forward mode changed buffer {name}"


def bad_values(param: Param) -> list[object]:
    """Values that `param` must reject."""
    wrong_kind = {
        "int": ["three", 1.5, True],
        "float": ["x", float("nan"), True],
        "bool": [1, "yes"],
        "str": [3],
        "ints": ["x", [], [1.5], True],
        "dims": ["x", [0.5]],
        "shape": ["x", [-1]],
        "value": ["x", [[1.0], [1.0, 2.0]]],
        "list": ["x", {"a": 1}, [float("nan")], [{"not a name": 1}]],
        "object": ["x", [1], {"1st": 1}, {"a": float("inf")}],
    }[param.kind]
    values = list(wrong_kind)
    if param.choices:
        values.append("not-a-choice" if param.kind == "str" else 99)
    if param.min is not None:
        values.append(int(param.min) - 1 if param.kind in ("int", "ints") else param.min - 1)
    if param.max is not None:
        values.append(int(param.max) + 1 if param.kind in ("int", "ints") else param.max + 1)
    if not param.optional:
        values.append(None)
    return values


def with_params(example: Example, **params: object) -> Example:
    return Example({**example.params, **params}, example.shapes, example.values)


@pytest.mark.parametrize("type_", TYPES)
def test_bad_params_give_diagnostics(type_):
    spec = REGISTRY[type_]
    example = examples_of(spec, draws=1)[0]
    for param in spec.params:
        for value in bad_values(param):
            report = make_case(spec, with_params(example, **{param.name: value}), 2).report
            blamed = {(d.node, d.port) for d in report.diagnostics}
            assert (NODE, param.name) in blamed, f"{type_}.{param.name}={value!r} gives {report.diagnostics}"
    report = make_case(spec, with_params(example, no_such_param=1), 2).report
    assert any(d.port == "no_such_param" for d in report.diagnostics)


def perturbed(shape: tuple[int, ...] | None) -> list[tuple[int, ...]]:
    """Wrong-looking variants of a shape: a dimension more or less, a size changed, a scalar."""
    if shape is None:
        return []
    variants = [(), (2, *shape), shape[1:]]
    if shape:
        variants += [(*shape[:-1], shape[-1] + 1), (*shape[:-1], 1)]
    return [v for v in variants if v != shape]


def runs_as_the_rule_says(case: Case, what: str, excused=lambda error: False) -> None:
    """Where the shape rule refuses the case, it says why (a diagnostic, not a crash); where it
    accepts, torch runs it and gives the shapes the rule promised. `excused(error)` names torch
    errors the rule cannot foresee."""
    if not case.report.ok:
        crashed = [d for d in case.report.diagnostics if d.message.startswith("cannot infer")]
        assert not crashed, f"{what}: the shape rule crashed: {crashed}"
        return
    try:
        outputs = case.call()
    except Exception as error:
        if isinstance(error, RuntimeError) and excused(error):
            return
        raise AssertionError(f"{what} validates, but torch says: {error}") from error
    assert [tuple(o.shape) for o in outputs] == case.expected_shapes(), what


@pytest.mark.parametrize("type_", OPERATIONS)
def test_bad_shapes_give_diagnostics_not_exceptions(type_):
    """Where the rule accepts a shape, torch must run and agree; where it refuses, it says why."""
    spec = REGISTRY[type_]
    for example in examples_of(spec, draws=1):
        known = tuple(None if s is None else concrete(s, 2) for s in example.shapes)  # rules see every size
        for index, shape in enumerate(known):
            for variant in perturbed(shape):
                shapes = tuple(variant if i == index else s for i, s in enumerate(known))
                case = make_case(spec, example, 2, shapes=shapes, zero_labels=True)
                # rules see shapes, not dtypes: torch may refuse float labels where indices go
                runs_as_the_rule_says(case, f"{type_} {shapes}", lambda e: "dtype" in str(e))


@pytest.mark.parametrize("type_", TYPES)
def test_templates_write_params_with_repr(type_):
    """Every template field naming a param uses !r: a param's value reaches code only as a literal."""
    spec = REGISTRY[type_]
    names = {p.name for p in spec.params}
    for example in examples_of(spec):
        params = spec.with_defaults(example.params)
        allowed = {*spec.inputs, *spec.outputs_for(params), "module"}
        connected = {p for p, shape in zip(spec.inputs, example.shapes, strict=True) if shape is not None}
        templates = [spec.template(params, connected), spec.post_init_template(params)]
        if isinstance(spec.init, str):
            templates.append(spec.init)
        for template in templates:
            for _, field, _, conversion in string.Formatter().parse(template):
                if field is None:
                    continue
                field = re.split(r"[.\[]", field)[0]  # {args[1]!r} indexes into the param args
                assert field in names | allowed, f"{type_}: unknown field {{{field}}} in {template!r}"
                if field in names:
                    assert conversion == "r", f"{type_}: write param {{{field}}} as {{{field}!r}}"


def test_types_without_forward_mode_say_why():
    declared = [spec for spec in REGISTRY.values() if spec.no_jvp_reason]
    assert declared, "the check below would prove nothing"
    for spec in declared:
        assert spec.no_jvp_reason.endswith(".") and len(spec.no_jvp_reason.split()) >= 5, spec.type


def other_values(param: Param) -> list[object]:
    """Acceptable values other than the default: what a user may try in the inspector."""
    candidates: list[object] = {
        "int": [1, 2, 3, 7, -1],
        "float": [0.0, 0.5, 2.0, -1.0],
        "bool": [True, False],
        "str": list(param.choices),
        "ints": [1, 2, [1, 2], [2, 2, 2], [2, 1]],
        "dims": [0, -1, [0, 1], 5],
        "shape": [],
        "value": [],
        "list": [],
        "object": [],
    }[param.kind]
    if param.optional:
        candidates.append(None)
    return [v for v in candidates if v != param.default and param.problem(v) is None]


EDITABLE = [t for t in OPERATIONS if REGISTRY[t].editable]


@pytest.mark.parametrize("type_", EDITABLE)
def test_param_changes_either_run_as_the_rule_says_or_give_a_reason(type_):
    """The shape rule never accepts params torch refuses, and never crashes on ones it refuses itself.

    Types that are not editable (an imported Opaque call) record their params rather than offer them,
    so no user changes them; their rule is checked against torch by the tests above."""
    spec = REGISTRY[type_]
    for example, param in ((e, p) for e in examples_of(spec, draws=1) for p in spec.params):
        known = tuple(None if s is None else concrete(s, 2) for s in example.shapes)
        for value in other_values(param):
            changed = with_params(example, **{param.name: value})
            case = make_case(spec, changed, 2, shapes=known, zero_labels=True)
            runs_as_the_rule_says(case, f"{type_}.{param.name}={value!r}")


def test_the_block_type_is_declared_as_an_instance_of_a_definition():
    """Block is left out of TYPES (it computes nothing itself); its declaration still says what it is,
    its params have checked defaults and bounds, and bad ones are refused at the param."""
    spec = REGISTRY[BLOCK_TYPE]
    assert spec.category == "blocks" and spec.doc.strip() and spec.formula.strip()
    assert spec.inputs == () and spec.outputs == (), "its ports are its definition's, which the graph answers"
    assert [p.name for p in spec.params] == ["block", "repeat"]
    repeat = next(p for p in spec.params if p.name == "repeat")
    assert repeat.problem(1) is None and repeat.problem(MAX_REPEAT) is None
    for value in (0, -1, MAX_REPEAT + 1, 1.5, "3", True, None):
        assert repeat.problem(value), f"repeat={value!r} is accepted"
    assert dict(spec.param_problems({"block": "Res", "repeat": 0})).keys() == {"repeat"}
