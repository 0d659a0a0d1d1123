"""Practice mode's questions, checker and explanations (graphcore.practice), against torch autograd."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from graphcore.files.fileformat import load
from graphcore.practice import (
    ABSOLUTE_TOLERANCE,
    AnswerError,
    Examiner,
    Question,
    accepts,
    check,
    factor,
    parse_answer,
)
from graphcore.program import lower
from graphcore.registry import load_library
from graphcore.runtime import Runtime
from graphcore.stepping import Stepper

load_library()
EXAMPLES = Path(__file__).parents[2] / "examples"


def questions(name: str) -> list[Question]:
    """Every question of the first forward and backward pass of an example."""
    graph = load(EXAMPLES / f"{name}.json")
    program = lower(graph)
    torch.manual_seed(0)
    runtime = Runtime(program, dtype="float64", device="cpu")
    objectives = graph.training.get("objectives") or [graph.training]
    stepper = Stepper(runtime, of=objectives[0].get("loss"))  # the loss, as the app's stepper takes it
    examiner = Examiner(program, runtime, stepper.of)
    found, forward = [], {}
    for event in stepper.events():
        if event.phase == "forward":
            forward[event.node] = event
        question = examiner.ask(event, forward.get(event.node))
        if question is not None:
            found.append(question)
    return found


def by_label(name: str) -> dict[str, Question]:
    return {q.label: q for q in questions(name)}


def neuron_autograd(l2: bool = False) -> dict[str, torch.Tensor]:
    """L = ½(y − σ(wx + b))² (+ λw²) with the example's numbers, each intermediate's value and ∂L/∂ it."""
    w = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-0.3, dtype=torch.float64, requires_grad=True)
    x, y = torch.tensor(1.5, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)
    wx = w * x
    z = wx + b
    t = torch.sigmoid(z)
    r = y - t
    sq = r**2
    L = 0.5 * sq + (0.1 * w**2 if l2 else 0)
    kept = {"wx": wx, "z": z, "t": t, "r": r, "sq": sq}
    for v in kept.values():
        v.retain_grad()
    L.backward()
    found = {f"value {k}": v.detach() for k, v in kept.items()}
    found.update({f"grad {k}": v.grad for k, v in kept.items()})
    found.update({"L": L.detach(), "grad w": w.grad, "grad b": b.grad})
    return found


def test_the_neurons_questions_are_autograds_numbers():
    reference = neuron_autograd()
    asked = by_label("sigmoid_neuron")
    for name in ("wx", "z", "t", "r", "sq"):
        assert asked[name].kind == "value"
        assert asked[name].answer == pytest.approx(float(reference[f"value {name}"]), abs=1e-12)
        assert asked[f"∂L/∂{name}"].answer == pytest.approx(float(reference[f"grad {name}"]), abs=1e-12)
    assert asked["L"].answer == pytest.approx(float(reference["L"]), abs=1e-12)
    assert asked["∂L/∂w"].answer == pytest.approx(float(reference["grad w"]), abs=1e-12)


def test_a_backward_explanation_is_upstream_times_local_in_numbers():
    reference = neuron_autograd()
    question = by_label("sigmoid_neuron")["∂L/∂z"]
    upstream = float(reference["grad t"])
    local = float(reference["value t"] * (1 - reference["value t"]))  # σ′(z), for the check only
    assert upstream * local == pytest.approx(question.answer)
    assert question.explanation == (
        f"∂L/∂z = upstream × local = ∂L/∂t × ∂t/∂z = ({upstream:.4g}) × {local:.4g} = {question.answer:.4g}"
    )
    assert question.badge == "z" and question.where == "passed" and question.key == "t.x"


def test_a_forward_explanation_applies_the_formula_to_the_inputs():
    question = by_label("sigmoid_neuron")["wx"]
    assert question.explanation == "wx = mul a · b with a = w = 0.5, b = x = 1.5: 0.75"
    assert question.badge == "wx" and question.badge_part == "value"


def test_sources_are_not_asked_and_a_gradient_goes_on_before_a_constants():
    labels = [q.label for q in questions("sigmoid_neuron")]
    assert not {"w", "x", "b", "y", "half"} & set(labels)
    assert "∂L/∂sq" in labels and "∂L/∂half" not in labels


def test_the_l2_neurons_fan_out_at_w_sums_to_autograds_gradient():
    total = by_label("sigmoid_neuron_l2")["∂L/∂w"]
    assert total.kind == "total" and total.where == "accumulated"
    assert total.answer == pytest.approx(float(neuron_autograd(l2=True)["grad w"]), abs=1e-12)
    data_part = float(neuron_autograd()["grad w"])
    penalty_part = 2 * 0.1 * 0.5
    assert f"= ({data_part:.4g}) (through wx) + {penalty_part:.4g} (through w2) = " in total.explanation


def g_plus_gh() -> tuple[float, float, float]:
    """f = g + g·h, g = x², h = eˣ at the example's x: df/dx, df/dg and df/dh by autograd."""
    x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    g, h = x**2, torch.exp(x)
    g.retain_grad()
    h.retain_grad()
    (g + g * h).backward()
    return float(x.grad), float(g.grad), float(h.grad)


def test_f_equals_g_plus_gh_adds_two_fan_outs_as_autograd_does():
    dx, dg, dh = g_plus_gh()
    asked = {q.label: q for q in questions("practice_g_plus_gh") if q.kind == "total"}
    assert set(asked) == {"∂f/∂g", "∂f/∂x"}
    assert asked["∂f/∂g"].answer == pytest.approx(dg, abs=1e-12)
    assert asked["∂f/∂x"].answer == pytest.approx(dx, abs=1e-12)
    through_g = dg * 2 * 0.5
    through_h = dh * math.exp(0.5)
    assert asked["∂f/∂x"].explanation == (
        f"∂f/∂x = the sum of the gradients arriving through each consumer = "
        f"{through_g:.4g} (through g) + {through_h:.4g} (through h) = {dx:.4g}"
    )


def test_a_partial_gradient_at_a_fan_out_says_which_path():
    asked = by_label("practice_g_plus_gh")
    assert asked["∂f/∂g (the part through gh)"].answer == pytest.approx(math.exp(0.5))


def test_a_tensor_asks_one_element_and_sums_its_terms():
    """xor: fc1 takes the data, so its weight gradient is asked, one element, as autograd has it."""
    program = lower(load(EXAMPLES / "xor.json"))
    runtime = Runtime(program, dtype="float64", device="cpu")
    asked = by_label("xor")
    question = asked["∂loss/∂fc1.weight[0, 0]"]
    assert question.where == "weights" and question.index == (0, 0) and question.badge is None
    fc1, fc2 = (runtime.module_of(program.by_node[n]) for n in ("fc1", "fc2"))
    x, y = (runtime.source_value(program.by_node[n]).detach() for n in ("x", "y"))
    hidden = fc1(x)  # xor is x → fc1 → tanh → fc2 → σ → MSE against y
    hidden.retain_grad()
    torch.nn.functional.mse_loss(torch.sigmoid(fc2(torch.tanh(hidden))), y).backward()
    assert question.answer == pytest.approx(float(fc1.weight.grad[0, 0]), abs=1e-12)
    # ∂loss/∂W[0, 0] = Σ over the batch of ∂loss/∂fc1[n, 0] × x[n, 0]
    upstream, x = hidden.grad[:, 0].tolist(), x[:, 0].tolist()
    terms = " + ".join(f"{factor(u)} × {factor(v)}" for u, v in zip(upstream, x) if v != 0)
    assert question.explanation.endswith(f"= {terms} = {question.answer:.4g}")


def test_nothing_asked_where_no_number_is_finite():
    assert all(math.isfinite(q.answer) for q in questions("sigmoid_neuron"))


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.json")))
def test_every_examples_questions_accept_the_engines_answer_and_reject_a_wrong_one(name):
    found = questions(name)
    assert found, f"{name} asks nothing"
    for question in found:
        assert check(repr(question.answer), question).correct, question.label
        assert check(f"{question.answer:.4g}", question).correct, question.label
        wrong = question.answer + max(1.0, 2 * abs(question.answer))
        assert not check(repr(wrong), question).correct, question.label
        assert question.explanation.endswith(f"{question.answer:.4g}") or "VJP" in question.explanation


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.25", 0.25),
        ("-1e-3", -1e-3),
        ("1/4", 0.25),
        ("−0.5", -0.5),
        (" - 1 / 4 ", -0.25),
        ("+.5", 0.5),
        ("3E2", 300.0),
        ("７", None),
    ],
)
def test_typed_numbers_are_read(text, value):
    if value is None:  # a full-width digit is not one of the digits the box takes
        with pytest.raises(AnswerError, match="is not a number"):
            parse_answer(text)
    else:
        assert parse_answer(text) == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "No answer"),
        ("   ", "No answer"),
        ("abc", "'abc' is not a number"),
        ("nan", "'nan' is not a finite number"),
        ("-inf", "'-inf' is not a finite number"),
        ("1e999", "too large"),
        ("1/0", "divides by zero"),
        ("1/2/3", "is not a number"),
        ("0x10", "is not a number"),
        ("1_000", "is not a number"),
        ("½", "is not a number"),
        ("9" * 100, "too long"),
        ("1,5", "is not a number"),
    ],
)
def test_garbage_gets_one_line_that_says_what_is_wrong(text, says):
    with pytest.raises(AnswerError) as caught:
        parse_answer(text)
    message = str(caught.value)
    assert says in message and "\n" not in message and "0.25, -1e-3 or 1/4" in message


def test_the_tolerance_is_absolute_near_zero_and_relative_for_large_values():
    assert accepts(0.0, ABSOLUTE_TOLERANCE) and not accepts(0.0, 2 * ABSOLUTE_TOLERANCE)
    assert accepts(1009.0, 1000.0) and not accepts(1011.0, 1000.0)
    assert accepts(-0.0926, -0.09257) and not accepts(0.09257, -0.09257)
