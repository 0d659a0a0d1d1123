"""Practice mode for mechanical backprop: a question per step, a checker, the chain-rule explanation.

For a step of graphcore.stepping, `Examiner.ask` makes one Question: the value a forward step
computes, the gradient a backward step sends to its first input, or the total a fan-out adds up.
Of a tensor one element is asked, the first that is not zero. The right answer and every number of
the explanation come from the engine: the event's values and gradients, and one column of the node's
local Jacobian from its own JVP (graphcore.derivatives.autodiff). `check` reads what a student typed.
docs/practice.md says how questions are chosen, the tolerance and what an explanation shows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeGuard

from graphcore._torch import torch
from graphcore.derivatives.autodiff import node_jvp, one_hot, weight_jvp
from graphcore.graph import PortRef
from graphcore.program import Instr, Program
from graphcore.runtime import Runtime
from graphcore.stepping import StepEvent

ABSOLUTE_TOLERANCE = 1e-3  # an answer is right within this, or within RELATIVE_TOLERANCE of the value
RELATIVE_TOLERANCE = 1e-2
MAX_TERMS = 4  # terms of a sum written out; the rest are counted
MAX_ANSWER_LENGTH = 64
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
MINUS_SIGNS = str.maketrans({"−": "-", "–": "-", "﹣": "-", "－": "-", "＋": "+"})
EXAMPLE = "type a number such as 0.25, -1e-3 or 1/4"

Kind = Literal["value", "gradient", "total"]
Where = Literal["outputs", "passed", "accumulated", "weights"]


class Naming(Protocol):
    """How values and nodes read in the texts (app.lab.names.Names; PlainNames uses ids)."""

    def node(self, node: str, bracket: bool = False) -> str: ...

    def value(self, value: str, bracket: bool = False) -> str: ...

    def derivative(self, of: str, wrt: str) -> str: ...


class PlainNames:
    """Names by node id: "w" for w.out, "stats.mu" for another output."""

    def node(self, node: str, bracket: bool = False) -> str:
        return node

    def value(self, value: str, bracket: bool = False) -> str:
        node, _, port = value.rpartition(".")
        return node if port == "out" else value

    def derivative(self, of: str, wrt: str) -> str:
        return f"∂{self.value(of)}/∂{self.value(wrt)}"


@dataclass(frozen=True)
class Question:
    """One number a step computes, asked before it is shown."""

    step: int  # the event's index in the pass
    kind: Kind
    where: Where  # the event's dict that holds the asked tensor
    key: str  # its key there
    index: tuple[int, ...]  # the element asked, () for a scalar
    label: str  # what is asked: "t", "∂L/∂z", "∂L/∂fc1.weight[0, 1]"
    answer: float
    explanation: str  # how the engine's numbers give the answer
    badge: str | None  # the node whose canvas badge shows it (None: only the panel does)
    badge_part: Literal["value", "grad"]


@dataclass(frozen=True)
class Verdict:
    correct: bool
    given: float


class AnswerError(ValueError):
    """What was typed is not a finite number; the message says so in one line."""


def parse_answer(text: str) -> float:
    """A typed number: "0.25", "-1e-3", "1/4", "−0.5" (a unicode minus), spaces anywhere."""
    cleaned = "".join(text.split()).translate(MINUS_SIGNS)
    if not cleaned:
        raise AnswerError(f"No answer: {EXAMPLE}")
    if len(cleaned) > MAX_ANSWER_LENGTH:
        raise AnswerError(f"The answer is too long ({len(cleaned)} characters): {EXAMPLE}")
    top, slash, bottom = cleaned.partition("/")
    parts = [top, bottom] if slash else [top]
    if not all(NUMBER.fullmatch(p) for p in parts):
        shown = text.strip()
        if shown.lower().lstrip("+-−") in ("nan", "inf", "infinity"):
            raise AnswerError(f"{shown!r} is not a finite number: {EXAMPLE}")
        raise AnswerError(f"{shown!r} is not a number: {EXAMPLE}")
    numbers = [float(p) for p in parts]
    if slash and numbers[1] == 0:
        raise AnswerError(f"{text.strip()!r} divides by zero: {EXAMPLE}")
    value = numbers[0] / numbers[1] if slash else numbers[0]
    if not math.isfinite(value):
        raise AnswerError(f"{text.strip()!r} is too large to be a finite number: {EXAMPLE}")
    return value


def accepts(given: float, answer: float) -> bool:
    """Right within ABSOLUTE_TOLERANCE, or within RELATIVE_TOLERANCE of the answer's size."""
    return abs(given - answer) <= max(ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE * abs(answer))


def check(text: str, question: Question) -> Verdict:
    """Whether `text` answers `question`; AnswerError when it is not a finite number."""
    given = parse_answer(text)
    return Verdict(accepts(given, question.answer), given)


def number(value: float) -> str:
    return f"{value:.4g}"


def factor(value: float) -> str:
    """A number inside a product: bracketed when negative, so "× (-0.5)" reads as one factor."""
    return f"({number(value)})" if value < 0 else number(value)


def element(index: tuple[int, ...]) -> str:
    return f"[{', '.join(map(str, index))}]" if index else ""


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index = []
    for size in reversed(shape):
        flat, rest = divmod(flat, size)
        index.append(rest)
    return tuple(reversed(index))


def _askable(value: Any) -> TypeGuard[Any]:
    """A finite floating-point tensor with elements: something a student can work out."""
    return (
        isinstance(value, torch.Tensor)
        and value.is_floating_point()
        and value.numel() > 0
        and bool(torch.isfinite(value).all())
    )


def _first_nonzero(value: Any) -> int:
    found = torch.nonzero(value.detach().reshape(-1))
    return int(found[0, 0]) if len(found) else 0


class Examiner:
    """Questions on the steps of one pass over `program`, differentiating `of`."""

    def __init__(self, program: Program, runtime: Runtime, of: str, names: Naming | None = None) -> None:
        self.program, self.runtime, self.of = program, runtime, of
        self.names: Naming = names if names is not None else PlainNames()

    def ask(self, event: StepEvent, forward: StepEvent | None = None) -> Question | None:
        """The question for `event` (None where there is nothing to work out: a source's value, a
        step with no finite floating-point result). `forward`: the node's forward step, needed
        for a backward one (its inputs are where the local derivatives are taken)."""
        if event.phase == "forward":
            return self._value(event)
        if event.phase == "accumulate":
            return self._total(event)
        if forward is None:
            return None
        # the gradient backprop goes on with first; a layer's weights before data and constants
        return (
            self._passed(event, forward, sources=False)
            or self._weight(event, forward)
            or self._passed(event, forward, sources=True)
        )

    # --- forward --------------------------------------------------------------------------------------

    def _value(self, event: StepEvent) -> Question | None:
        instr = self.program.by_node[event.node]
        out = instr.outs[0]
        value = event.outputs.get(out)
        if instr.spec.is_source or not _askable(value):
            return None
        index = _unravel(_first_nonzero(value), tuple(value.shape))
        answer = float(value.reshape(-1)[_first_nonzero(value)])
        label = self.names.value(out) + element(index)
        given = []
        for port, arg in zip(instr.spec.inputs, instr.args):
            if arg and arg in event.inputs:
                name = self.names.value(arg)
                port_name = port if name == port else f"{port} = {name}"
                given.append(f"{port_name} = {self._input_text(event.inputs[arg], value, index)}")
        formula = instr.spec.formula.split(",  ")[0]  # the forward rule, without the derivatives
        inputs = " with " + ", ".join(given) if given else ""
        explanation = f"{label} = {instr.spec.type} {formula}{inputs}: {number(answer)}"
        return Question(
            event.index, "value", "outputs", out, index, label, answer, explanation, event.node, "value"
        )

    def _input_text(self, arg: Any, out: Any, index: tuple[int, ...]) -> str:
        """An input as the forward explanation shows it: a number, the element at the asked index
        when shaped as the output, else its shape."""
        if not isinstance(arg, torch.Tensor):
            return str(arg)
        if arg.numel() == 1:
            return number(float(arg.reshape(())))
        if arg.shape == out.shape:
            return f"{number(float(arg[index]))} at {element(index)}"
        return f"a {'×'.join(map(str, arg.shape))} tensor"

    # --- backward -------------------------------------------------------------------------------------

    def _passed(self, event: StepEvent, forward: StepEvent, sources: bool) -> Question | None:
        """The gradient sent to the first input that comes from a computed value (`sources`: from
        an Input, Parameter or Constant instead)."""
        instr = self.program.by_node[event.node]
        for port, arg in zip(instr.spec.inputs, instr.args):
            key = f"{event.node}.{port}"
            grad = event.passed.get(key)
            if not arg or not _askable(grad):
                continue
            if self.program.by_node[PortRef.parse(arg).node].spec.is_source != sources:
                continue
            flat = _first_nonzero(grad)
            index = _unravel(flat, tuple(grad.shape))
            through = len(self.program.consumers.get(arg, ())) > 1
            label = self.names.derivative(self.of, arg) + element(index)
            if through:
                label += f" (the part through {self.names.node(event.node)})"
            answer = float(grad.reshape(-1)[flat])
            args = self._args(instr, forward)
            slot = instr.spec.inputs.index(port)
            wrt = self.names.value(arg, bracket=True) + element(index)
            try:
                tangents = tuple(one_hot(a, flat) if i == slot else None for i, a in enumerate(args))
                column = node_jvp(instr, self.runtime.module_of(instr), args, tangents)
                explanation = self._chain(instr, event, label, wrt, column, answer)
            except (NotImplementedError, ValueError) as error:
                explanation = f"{label} = upstream × local = {number(answer)} (torch's VJP; {error})"
            badge = PortRef.parse(arg).node
            return Question(
                event.index, "gradient", "passed", key, index, label, answer, explanation, badge, "grad"
            )
        return None

    def _weight(self, event: StepEvent, forward: StepEvent) -> Question | None:
        """A layer whose inputs need no gradient: its first weight's gradient is asked."""
        instr = self.program.by_node[event.node]
        module = self.runtime.module_of(instr)
        for name, grad in event.weights.items():
            if not _askable(grad) or module is None:
                continue
            flat = _first_nonzero(grad)
            index = _unravel(flat, tuple(grad.shape))
            label = f"∂{self.names.value(self.of, bracket=True)}/∂{self.names.node(event.node)}.{name}"
            label += element(index)
            answer = float(grad.reshape(-1)[flat])
            weight = dict(module.named_parameters())[name]
            try:
                column = weight_jvp(instr, module, self._args(instr, forward), name, one_hot(weight, flat))
                explanation = self._chain(
                    instr,
                    event,
                    label,
                    f"{self.names.node(event.node)}.{name}{element(index)}",
                    column,
                    answer,
                )
            except (NotImplementedError, ValueError) as error:
                explanation = f"{label} = upstream × local = {number(answer)} (torch's VJP; {error})"
            return Question(
                event.index, "gradient", "weights", name, index, label, answer, explanation, None, "grad"
            )
        return None

    def _args(self, instr: Instr, forward: StepEvent) -> tuple[Any, ...]:
        return tuple(forward.inputs.get(a) if a else None for a in instr.args)

    def _chain(
        self, instr: Instr, event: StepEvent, label: str, wrt: str, column: tuple[Any, ...], answer: float
    ) -> str:
        """label = Σ upstream × local over the node's output elements the asked one moves,
        with the numbers: one product for scalars."""
        upstream = self._upstream(instr, event)
        terms = []
        for out, tangent in zip(instr.outs, column):
            up = upstream.get(out)
            if up is None or tangent is None:
                continue
            local, up = tangent.detach().reshape(-1), up.detach().reshape(-1)
            for j in torch.nonzero(local).reshape(-1).tolist():
                terms.append((out, _unravel(j, tuple(tangent.shape)), float(up[j]), float(local[j])))
        if not terms:
            return f"{label}: nothing this step computes moves with {wrt}, so upstream × local = {number(answer)}"
        if len(terms) == 1:
            out, index, up_value, local_value = terms[0]
            out_name = self.names.value(out, bracket=True) + element(index)
            return (
                f"{label} = upstream × local = ∂{self.names.value(self.of, bracket=True)}/∂{out_name}"
                f" × ∂{out_name}/∂{wrt} = {factor(up_value)} × {factor(local_value)} = {number(answer)}"
            )
        shown = " + ".join(f"{factor(u)} × {factor(c)}" for _, _, u, c in terms[:MAX_TERMS])
        more = f" + … ({len(terms)} terms)" if len(terms) > MAX_TERMS else ""
        outs = " and ".join(self.names.value(o, bracket=True) for o in dict.fromkeys(t[0] for t in terms))
        return (
            f"{label} = Σ upstream × local over the elements j of {outs} that move with {wrt}: "
            f"Σ ∂{self.names.value(self.of, bracket=True)}/∂{outs}[j] × ∂{outs}[j]/∂{wrt} = "
            f"{shown}{more} = {number(answer)}"
        )

    def _upstream(self, instr: Instr, event: StepEvent) -> Mapping[str, Any]:
        """The gradient that reached each of the node's outputs (the keys name readers or values)."""
        found: dict[str, Any] = {}
        for ref in event.step.read_refs:
            if str(ref) in event.upstream and ref.value in instr.outs:
                found[ref.value] = event.upstream[str(ref)]
        return found

    # --- fan-out --------------------------------------------------------------------------------------

    def _total(self, event: StepEvent) -> Question | None:
        value, total = next(iter(event.accumulated.items()), (None, None))
        if value is None or not _askable(total):
            return None
        flat = _first_nonzero(total)
        index = _unravel(flat, tuple(total.shape))
        label = self.names.derivative(self.of, value) + element(index)
        answer = float(total.reshape(-1)[flat])
        parts = []
        for port, grad in event.upstream.items():
            part = float(grad.reshape(-1)[flat]) if isinstance(grad, torch.Tensor) else float("nan")
            node = PortRef.parse(port).node
            parts.append(f"{factor(part)} (through {self.names.node(node)})")
        explanation = (
            f"{label} = the sum of the gradients arriving through each consumer = "
            f"{' + '.join(parts)} = {number(answer)}"
        )
        badge = PortRef.parse(value).node
        return Question(
            event.index, "total", "accumulated", value, index, label, answer, explanation, badge, "grad"
        )
