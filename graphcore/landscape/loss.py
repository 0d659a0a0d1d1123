"""The loss a landscape draws, as a function of the graph's weights.

With a training section it is the training loss (the lead objective's) on a fixed batch: the whole
training set when it has at most FULL_SET samples, else the first batch of a shuffle seeded by the
section's seed. Without one it is the graph's one scalar output on the lab's inputs (seed 0,
batch 4). The module runs in eval mode (no dropout noise, batch norm on its running statistics),
at the dtype and on the device asked for (float64 on the CPU unless told; the weights and inputs
drawn from a seed are float64's at either dtype, runtime.use_float64_draws), and random nodes
(randn) draw the same numbers at every evaluation (torch's generator is reseeded with NOISE_SEED
before each), so the same weights always give the same loss and the surface is as smooth as the
function. `compute` restores the generator afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graphcore._torch import torch
from graphcore.graph import Graph
from graphcore.program import NodeError, lower
from graphcore.runtime import Runtime, use_float64_draws
from graphcore.validate import validate

FULL_SET = 1024  # training sets up to this size are used whole
NOISE_SEED = 0


class LandscapeError(ValueError):
    """A request the landscape cannot answer, as one line for the user."""


class LossFunction:
    """loss(weights): the graph's loss with some weights replaced (torch.func.functional_call), so
    autograd and vmap see through it."""

    def __init__(
        self, graph: Graph, base_dir: Path | str = ".", dtype: str = "float64", device: str = "cpu"
    ) -> None:
        report = validate(graph)
        self.shapes = report.shapes
        if not report.ok:
            raise LandscapeError(f"the graph has problems: {report.diagnostics[0]}")
        if graph.training:
            self.runtime, self.loss, batch, self.data = _training_loss(graph, Path(base_dir), dtype, device)
        else:
            program = lower(graph)
            scalars = [v for v in program.sinks if tuple(report.shapes.get(v, (None,))) == ()]
            if len(scalars) != 1:
                raise LandscapeError(
                    "the graph has no loss: give it a training section, or exactly one scalar output"
                )
            self.runtime = Runtime(program, dtype=dtype, device=device, seed=0, batch=4)
            use_float64_draws(self.runtime, seed=0, batch=4)
            self.loss, batch = scalars[0], {}
            self.data = "the graph's inputs (seed 0, batch 4)"
        self.module = self.runtime.module.eval()
        generated = self.runtime.generated
        if self.loss not in generated.outputs:
            raise LandscapeError(f"the loss {self.loss} is not an output of the graph")
        self.index = generated.outputs.index(self.loss)
        inputs = {**self.runtime.inputs, **batch}
        self.args = tuple(inputs[node] for node in generated.inputs)
        self.weights = {name: p.detach().clone() for name, p in self.module.named_parameters()}
        self.owners = {attribute: node for node, attribute in generated.attributes.items()}
        self.dtype, self.device = self.runtime.dtype, self.runtime.device

    def __call__(self, weights: Mapping[str, Any]) -> Any:
        """The loss (a 0-dim tensor) with `weights` (parameter name -> tensor) in place of the
        module's own; the others keep their values."""
        torch.manual_seed(NOISE_SEED)
        try:
            result = torch.func.functional_call(self.module, dict(weights), self.args)
        except Exception as error:  # torch's errors, named by the node whose line raised them
            instr = self.runtime.failing_node(error)
            if instr is None:
                raise
            raise NodeError(instr, error) from error
        outputs = result if len(self.runtime.generated.outputs) > 1 else (result,)
        return outputs[self.index].reshape(())

    def node_of(self, name: str) -> str:
        """The node a parameter name ("fc1.weight", "w") belongs to."""
        return self.owners.get(name.split(".", 1)[0], name)


def _training_loss(
    graph: Graph, base_dir: Path, dtype: str, device: str
) -> tuple[Runtime, str, dict[str, Any], str]:
    from graphcore.training.train import Trainer

    trainer = Trainer(graph, base_dir, {"device": device}, dtype=dtype)
    use_float64_draws(trainer.runtime, seed=trainer.config.seed, batch=4)
    n, size = trainer.n_train, trainer.config.batch_size
    if n <= FULL_SET:
        return trainer.runtime, trainer.config.loss, dict(trainer.train_data), f"all {n} training samples"
    generator = torch.Generator().manual_seed(trainer.config.seed)
    index = torch.randperm(n, generator=generator)[:size]
    batch = {node: tensor[index.to(tensor.device)] for node, tensor in trainer.train_data.items()}
    seed = trainer.config.seed
    return trainer.runtime, trainer.config.loss, batch, f"one batch of {size} of {n} samples (seed {seed})"
