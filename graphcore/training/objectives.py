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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphcore.blocks import SEPARATOR
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
    parameters: tuple[str, ...] | None  # nodes and blocks whose weights it updates; None: every parameter
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
    """Group entries, each in one group only: a node id, a block instance ("res1", or one copy of a
    repeat, "res1/2"), an inlined node ("res1/2/fc") or a block definition (every instance of it)."""
    if not isinstance(value, list) or not value:
        raise fail(
            where, f'expected a list of node ids or block names such as ["fc1", "res1"], got {shorten(value)}'
        )
    for index, entry in enumerate(value):
        at = f"{where}[{index}]"
        text_value(at, entry)
        if "." in entry or entry.startswith(SEPARATOR) or entry.endswith(SEPARATOR) or SEPARATOR * 2 in entry:
            raise fail(at, f"expected a node or block name such as fc1 or res1, got {shorten(entry)}")
        if entry in owners:
            raise fail(at, f"node {shorten(entry)} is already in {owners[entry]}'s parameters")
        owners[entry] = f"{where.rsplit('.', 1)[0]}"
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


Blocks = Mapping[str, Sequence[str]]  # block name -> its instances' flat id prefixes (blocks.instance_paths)


def members(entry: str, weights: Mapping[str, list[str]], blocks: Blocks) -> tuple[str, list[str]]:
    """What a group entry names, as (what, the flat nodes it takes): a node ("node fc1"), an
    instance or copy of one by the prefix of its inlined ids ("block instance res1"), or a block
    definition, all its instances ("block Res"). ("", []) when it names nothing; ValueError when
    it names two things."""
    if entry in weights:
        return f"node {entry!r}", [entry]
    inside = [node for node in weights if node.startswith(entry + SEPARATOR)]
    if entry in blocks:
        if inside:
            raise ValueError(f"{entry!r} names both block {entry} and the nodes inlined from {entry}")
        prefixes = tuple(path + SEPARATOR for path in blocks[entry])
        return f"block {entry}", [node for node in weights if node.startswith(prefixes)]
    return (f"block instance {entry}", inside) if inside else ("", [])


def group(objective: Objective, weights: Mapping[str, list[str]], blocks: Blocks) -> dict[str, str]:
    """Flat node -> the key path of the entry of the objective's parameters that takes it."""
    taken: dict[str, str] = {}
    for index, entry in enumerate(objective.parameters or ()):
        place = f"training.{objective.where}.parameters[{index}]"
        try:
            what, nodes = members(entry, weights, blocks)
        except ValueError as error:
            raise TrainingConfigError(f"{place}: {error}") from None
        if not what:
            raise TrainingConfigError(
                f"{place}: there is no node {shorten(entry)} in the graph, nor a block in use of that name"
            )
        if not any(weights[node] for node in nodes):
            raise TrainingConfigError(f"{place}: {what} has no parameters to train")
        for node in nodes:
            taken.setdefault(node, place)
    return taken


def check_parameters(
    objectives: tuple[Objective, ...], weights: Mapping[str, list[str]], blocks: Blocks | None = None
) -> None:
    """Each entry of a group one with weights, no node with weights in two groups, and with several
    objectives each node with weights in a group: one left out would never train, more likely a slip
    than a way to freeze it. `weights` is `parameter_names` of the built module (flat ids); `blocks`
    lets an entry name a block definition."""
    owner: dict[str, str] = {}
    for objective in objectives:
        for node, place in group(objective, weights, blocks or {}).items():
            if weights[node] and node in owner:
                raise TrainingConfigError(
                    f"{place}: node {node!r} is already in {owner[node].removeprefix('training.')}'s group"
                )
            owner[node] = place
    if len(objectives) == 1 or any(objective.parameters is None for objective in objectives):
        return  # one objective may name a part of the weights to train: the rest stay as they are
    left = [node for node, names in weights.items() if names and node not in owner]
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


def selected(
    objective: Objective, weights: Mapping[str, list[str]], blocks: Blocks | None = None
) -> set[str] | None:
    """The parameter names an objective updates (None: all of them)."""
    if objective.parameters is None:
        return None
    return {name for node in group(objective, weights, blocks or {}) for name in weights[node]}
