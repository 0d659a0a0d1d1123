"""Objectives: the losses a training section minimises, each with the parameters it updates.

A section names one `loss` (with one `optimizer` and `schedule`), or a list of `objectives`, each
with its own loss, optimizer, schedule and group of parameters: a GAN's discriminator and generator.
Every step runs the objectives in their order, each with a fresh forward pass (so the generator's
step sees the discriminator's updated weights); one with `every: k` updates on the first step and
every k-th after it. The first objective updates on every step: the run's loss is its loss.

`parse_objectives` is pure, as all of the section's checks are; what needs the graph (does the loss
exist, is it a scalar, has a node parameters) is `check_against`, run when a Trainer or an export
is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphcore.training.checks import (
    TrainingConfigError,
    count,
    fail,
    key_name,
    shorten,
    text_value,
)

MAX_OBJECTIVES = 16
MAX_NAME = 40  # characters of an objective's name: it labels a plot legend and a printed column
OBJECTIVE_KEYS = ("name", "loss", "parameters", "optimizer", "schedule", "every")
SINGLE = "loss"  # the name of a single-loss section's one objective


@dataclass(frozen=True)
class Objective:
    name: str
    loss: str  # "node.port" of the scalar it minimises
    parameters: tuple[str, ...] | None  # the nodes whose weights it updates; None: every parameter
    optimizer: dict[str, Any]
    schedule: dict[str, Any]
    every: int = 1  # updates on steps 1, 1 + k, 1 + 2k, ...
    where: str = "loss"  # the key path its problems are named under: "loss", "objectives[1]"

    def key(self, name: str) -> str:
        """The key path of one of its keys: "optimizer" in a single-loss section, else
        "objectives[1].optimizer"."""
        return name if self.where == "loss" else f"{self.where}.{name}"

    def due(self, step: int) -> bool:
        """Whether it updates on the step after `step` steps were taken."""
        return step % self.every == 0


def _name(where: str, value: Any, seen: dict[str, str]) -> str:
    name = text_value(where, value)
    if len(name) > MAX_NAME or not name.isprintable():
        raise fail(
            where, f"must be a short printable name (at most {MAX_NAME} characters), got {shorten(name)}"
        )
    if name in seen:
        raise fail(where, f"{shorten(name)} is already the name of {seen[name]}")
    return name


def _parameters(where: str, value: Any, owners: dict[str, str]) -> tuple[str, ...]:
    """Node ids, each in one group only. Blocks (named groups of nodes) do not exist yet; when they do,
    an entry such as {"block": "generator"} would be read here, beside the plain node ids."""
    if not isinstance(value, list) or not value:
        raise fail(where, f'expected a list of node ids such as ["fc1", "fc2"], got {shorten(value)}')
    for index, node in enumerate(value):
        at = f"{where}[{index}]"
        text_value(at, node)
        if node in owners:
            raise fail(at, f"node {shorten(node)} is already in {owners[node]}'s parameters")
        owners[node] = f"{where.rsplit('.', 1)[0]}"
    return tuple(value)


def parse_objectives(
    section: Mapping[str, Any],
    optimizer: Callable[[str, Any], dict[str, Any]],
    schedule: Callable[[str, Any], dict[str, Any]],
) -> tuple[Objective, ...]:
    """The checked objectives of a section; `optimizer` and `schedule` check those objects at a key path."""
    if "objectives" not in section:
        if "loss" not in section:
            raise fail("loss", "is required (or give a list of objectives)")
        loss = text_value("loss", section["loss"])
        return (
            Objective(
                SINGLE,
                loss,
                None,
                optimizer("optimizer", section.get("optimizer", {"name": "sgd"})),
                schedule("schedule", section.get("schedule", {})),
            ),
        )
    for key in ("loss", "optimizer", "schedule"):
        if key in section:
            raise fail(
                key, f"a section with objectives gives each objective its own {key}: move it into them"
            )
    value = section["objectives"]
    if not isinstance(value, list) or not value:
        raise fail(
            "objectives",
            f'expected a list of objects such as [{{"name": "critic", "loss": "d.out", "parameters": '
            f'["fc"]}}], got {shorten(value)}',
        )
    if len(value) > MAX_OBJECTIVES:
        raise fail("objectives", f"at most {MAX_OBJECTIVES} objectives, got {len(value)}")
    objectives: list[Objective] = []
    names: dict[str, str] = {}
    owners: dict[str, str] = {}
    for index, item in enumerate(value):
        where = f"objectives[{index}]"
        if not isinstance(item, dict):
            raise fail(
                where,
                f'expected an object such as {{"name": "critic", "loss": "d.out"}}, got {shorten(item)}',
            )
        for key in item:
            if key not in OBJECTIVE_KEYS:
                raise fail(
                    f"{where}.{key_name(key)}", f"unknown key (expected one of {', '.join(OBJECTIVE_KEYS)})"
                )
        for key in ("name", "loss") + (("parameters",) if len(value) > 1 else ()):
            if key not in item:
                why = " when there are several objectives" if key == "parameters" else ""
                raise fail(f"{where}.{key}", f"is required{why}")
        name = _name(f"{where}.name", item["name"], names)
        names[name] = where
        every = count(1)(f"{where}.every", item.get("every", 1))
        if index == 0 and every != 1:
            raise fail(
                f"{where}.every",
                f"the first objective updates on every step (its loss is the run's loss), got {every}",
            )
        objectives.append(
            Objective(
                name,
                text_value(f"{where}.loss", item["loss"]),
                _parameters(f"{where}.parameters", item["parameters"], owners)
                if "parameters" in item
                else None,
                optimizer(f"{where}.optimizer", item.get("optimizer", {"name": "sgd"})),
                schedule(f"{where}.schedule", item.get("schedule", {})),
                every,
                where,
            )
        )
    return tuple(objectives)


def check_losses(objectives: tuple[Objective, ...], shapes: Mapping[str, Any]) -> None:
    """Each loss an output of the graph that holds one number; `shapes`: "node.port" -> its inferred
    shape (None where unknown), for every output."""
    for objective in objectives:
        loss, at = objective.loss, objective.key("loss")
        if loss not in shapes:
            raise TrainingConfigError(f"training.{at}: there is no output {loss!r} in the graph")
        shape = shapes[loss]
        if shape is not None and any(size != 1 for size in shape):
            shown = "[" + ", ".join(map(str, shape)) + "]"
            raise TrainingConfigError(
                f"training.{at}: {loss!r} has shape {shown}, but a loss must be one number "
                "(reduce it with mean or sum)"
            )


def check_parameters(objectives: tuple[Objective, ...], weights: Mapping[str, list[str]]) -> None:
    """Each node of a group one with weights, and with several objectives each node with weights in
    a group: one left out would never train, more likely a slip than a way to freeze it.
    `weights` is `parameter_names` of the built module."""
    for objective in objectives:
        for index, node in enumerate(objective.parameters or ()):
            place = f"training.{objective.where}.parameters[{index}]"
            if node not in weights:
                raise TrainingConfigError(f"{place}: there is no node {shorten(node)} in the graph")
            if not weights[node]:
                raise TrainingConfigError(f"{place}: node {node!r} has no parameters to train")
    if len(objectives) == 1 or any(objective.parameters is None for objective in objectives):
        return  # one objective may name a part of the weights to train: the rest stay as they are
    grouped = {node for objective in objectives for node in objective.parameters or ()}
    left = [node for node, names in weights.items() if names and node not in grouped]
    if left:
        raise TrainingConfigError(
            f"training.objectives: no objective updates node {left[0]!r}"
            + (f" (nor {len(left) - 1} more)" if len(left) > 1 else "")
            + ": add it to one objective's parameters"
        )


def parameter_names(module: Any, attributes: Mapping[str, str], nodes: list[str]) -> dict[str, list[str]]:
    """Node id -> the names (as `module.named_parameters()` gives them, in its order) of its weights:
    a Parameter node's one tensor, a layer's weights; [] for a node with none."""
    owner = {attribute: node for node, attribute in attributes.items()}
    found: dict[str, list[str]] = {node: [] for node in nodes}
    for name, _ in module.named_parameters():
        found[owner[name.split(".", 1)[0]]].append(name)
    return found


def selected(objective: Objective, weights: Mapping[str, list[str]]) -> set[str] | None:
    """The parameter names an objective updates (None: all of them)."""
    if objective.parameters is None:
        return None
    return {name for node in objective.parameters for name in weights[node]}
