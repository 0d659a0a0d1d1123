"""From a graph and its training section to what a Trainer trains: the section checked against the
graph, the lowered program's Runtime on the device, and the dataset split and put there.

Every problem is found here, before the first step: a loss or prediction the graph lacks, an input
bound to no Input node or to a field the dataset lacks, a precision or compiler the device cannot
run, parameters no node has."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphcore._torch import torch
from graphcore.blocks import flatten_with_ports, instance_paths, instances, rewired_training
from graphcore.graph import Graph
from graphcore.memory import Workload, optimizer_slots
from graphcore.program import Program, lower
from graphcore.runtime import Runtime
from graphcore.training import datasets
from graphcore.training.config import TrainingConfig, TrainingConfigError, parse
from graphcore.training.objectives import check_losses, check_parameters, parameter_names
from graphcore.training.performance import check_compiler, check_precision
from graphcore.validate import check


@dataclass
class TrainingSetup:
    config: TrainingConfig
    program: Program
    runtime: Runtime
    weights: dict[str, list[str]]  # node -> the module's parameters it owns (objectives.parameter_names)
    blocks: dict[str, list[str]]  # training groups may name a block: all its instances
    exposed: dict[str, str]  # block ports the section may name -> the inlined values
    train_data: dict[str, Any]  # Input node -> its field of the training split, on the device
    validation_data: dict[str, Any]  # the same of the validation split ({} without one)


def read_section(section: dict[str, Any], exposed: Mapping[str, str]) -> TrainingConfig:
    """The section as the inlined graph reads it: a block's port ("res2.out") as its inner value."""
    return parse(rewired_training(section, exposed) if exposed else section)


def build(graph: Graph, base_dir: Path, overrides: Mapping[str, Any] | None, dtype: str) -> TrainingSetup:
    """The graph's `training` section, `overrides` replacing its keys, checked and made ready."""
    exposed: dict[str, str] = {}
    report = None
    if instances(graph):
        report = check(graph)  # a graph whose blocks cannot be inlined is refused as check says
        exposed = flatten_with_ports(graph)[1]
    blocks = instance_paths(graph)
    config = read_section({**graph.training, **(overrides or {})}, exposed)
    shapes = (report or check(graph)).shapes
    program = lower(graph)
    check_losses(config.objectives, {value: shapes.get(value) for value in program.consumers})
    if config.predict is not None and config.predict not in program.consumers:
        raise TrainingConfigError(f"training: there is no output {config.predict!r} in the graph")
    fields = datasets.build(config.dataset, base_dir, config.seed)
    for node, field_name in config.inputs.items():
        if node not in program.by_node or program.by_node[node].spec.kind != "input":
            raise TrainingConfigError(f"training.inputs.{node}: there is no Input node {node!r}")
        if field_name not in fields:
            raise TrainingConfigError(
                f"training.inputs.{node}: the dataset has no field {field_name!r} "
                f"(fields: {', '.join(fields)})"
            )
    inputs = {instr.node: instr.params for instr in program if instr.spec.kind == "input"}
    datasets.check_inputs(fields, config.inputs, inputs, config.batch_size)
    outputs = list(
        dict.fromkeys([o.loss for o in config.objectives] + ([config.predict] if config.predict else []))
    )
    data = {
        node: (fields[name].shape, fields[name].itemsize if fields[name].dtype.kind == "i" else None)
        for node, name in config.inputs.items()
    }  # what _on_device will put on the device
    slots = max(optimizer_slots(o.optimizer) for o in config.objectives)
    workload = Workload(config.batch_size, slots, data)
    runtime = Runtime(
        program, dtype=dtype, device=config.device, seed=config.seed, outputs=outputs, workload=workload
    )
    check_precision(config.precision, runtime.device, runtime.dtype)
    if config.compile:
        check_compiler(runtime.device)  # said now, not at the first step
    nodes = [instr.node for instr in program]
    weights = parameter_names(runtime.module, runtime.generated.attributes, nodes)
    check_parameters(config.objectives, weights, blocks)
    train, validation = datasets.split(fields, config.validation, config.seed)
    return TrainingSetup(
        config,
        program,
        runtime,
        weights,
        blocks,
        exposed,
        _on_device(train, config.inputs, runtime),
        _on_device(validation, config.inputs, runtime) if config.validation else {},
    )


def _on_device(fields: Mapping[str, Any], inputs: Mapping[str, str], runtime: Runtime) -> dict[str, Any]:
    """Each bound Input's field as a tensor on the device: integers kept, floats in the run's dtype."""
    return {
        node: torch.as_tensor(fields[name]).to(
            runtime.device, dtype=None if fields[name].dtype.kind == "i" else runtime.dtype
        )
        for node, name in inputs.items()
    }
