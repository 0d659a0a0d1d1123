"""The model that input gradients are taken through: the graph's fast-path module in eval mode, on
one sample, with the best weights there are (given by the caller, else saved, else initial).

The sample is row K of the graph's training dataset when it has one (every Input the dataset feeds
gets its row K, the label included), else of the inputs generated from the seed. The model computes
at the dtype and on the device asked for (float64 on the CPU unless told); what is drawn from a seed
(initial weights, generated samples) is float64's at either dtype, so float32 answers the same question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from graphcore._torch import torch
from graphcore.feeds import FeedError, default_inputs, find_input
from graphcore.graph import Graph
from graphcore.input_grads import MAX_SAMPLE
from graphcore.input_grads.unit import InputGradError
from graphcore.program import Program
from graphcore.runtime import Runtime, use_float64_draws

GENERATED_SAMPLES = 4  # rows generated from the seed when the graph has no dataset (as the lab's batch)


class InputModel:
    """`input`'s sample `sample` and a way to compute any value of the graph from a changed input."""

    def __init__(
        self,
        program: Program,
        input_name: str,
        *,
        sample: int = 0,
        state: Mapping[str, Any] | None = None,
        base_dir: Path | str = ".",
        seed: int = 0,
        values: Sequence[str] = (),
        training: Mapping[str, Any] | None = None,
        dtype: str = "float64",
        device: str = "cpu",
    ) -> None:
        """`training`: the graph's training section, whose dataset gives the sample; `device` is
        read by runtime.resolve_device."""
        self.program = program
        try:
            instr = find_input(self.program, input_name)
        except FeedError as error:
            raise InputGradError(f"input {input_name[:60]!r}: {error}") from None
        if instr.params.get("dtype") == "long":
            raise InputGradError(
                f"input {instr.node!r} holds integers (class labels or indices), which have no gradient: "
                "pick a floating-point Input"
            )
        if not 0 <= sample <= MAX_SAMPLE:
            raise InputGradError(f"sample {sample} is out of range (0 or more)")
        self.input = instr.node
        try:
            self.runtime = Runtime(
                self.program, dtype=dtype, device=device, seed=seed, batch=1, outputs=list(values) or None
            )
        except FeedError as error:
            raise InputGradError(str(error)) from None
        use_float64_draws(self.runtime, seed=seed, batch=1)
        self.weights = self._weights(state, seed)
        self.runtime.module.eval()
        self.label: int | None = None
        self.source = self._sample(training, Path(base_dir), sample, seed)

    def _weights(self, state: Mapping[str, Any] | None, seed: int) -> str:
        if state is not None:
            try:
                self.runtime.module.load_state_dict(dict(state))
            except (RuntimeError, KeyError) as error:
                raise InputGradError(f"the weights given do not fit this graph: {error}") from None
            return "trained weights"
        if self.program.weights is not None:
            return "saved weights"
        return f"untrained weights (seed {seed})"

    def _sample(self, training: Mapping[str, Any] | None, base_dir: Path, sample: int, seed: int) -> str:
        """Put row `sample` of the data into the runtime's inputs; say where it came from."""
        from graphcore.training.config import TrainingConfigError, parse
        from graphcore.training.datasets import DatasetError, build

        rows: dict[str, Any] = {}
        source = ""
        try:
            config = parse(training) if training else None
        except TrainingConfigError:
            config = None
        if config is not None and self.input in config.inputs:
            try:
                fields = build(config.dataset, base_dir, config.seed)
            except (DatasetError, OSError) as error:
                raise InputGradError(f"the training dataset cannot be read: {error}") from None
            count = len(next(iter(fields.values())))
            self._check_sample(sample, count, "samples in the dataset")
            rows = {node: fields[name][sample : sample + 1] for node, name in config.inputs.items()}
            source = f"sample {sample} of the dataset {config.dataset.get('name', '')!r}"
            label_node = next((n for n in config.inputs if self._is_label(n)), None)
            if label_node is not None:
                self.label = int(rows[label_node].reshape(-1)[0])
        else:
            self._check_sample(sample, GENERATED_SAMPLES, "generated samples")
            generated = default_inputs(
                self.program, torch.float64, "cpu", batch=GENERATED_SAMPLES, seed=seed, dims={}
            )
            rows = {
                node: t[sample : sample + 1] if self._batched(node) else t for node, t in generated.items()
            }
            source = f"generated sample {sample} (seed {seed})"
        for node, row in rows.items():
            kind = torch.long if self._is_label(node) else self.runtime.dtype
            self.runtime.inputs[node] = torch.as_tensor(row).to(self.runtime.device, kind)
        return source

    def _check_sample(self, sample: int, count: int, what: str) -> None:
        if sample >= count:
            raise InputGradError(
                f"sample {sample} is out of range: there are {count} {what} (0..{count - 1})"
            )

    def _is_label(self, node: str) -> bool:
        return self.program.by_node[node].params.get("dtype") == "long"

    def _batched(self, node: str) -> bool:
        shape = self.program.by_node[node].params.get("shape") or []
        return bool(shape) and isinstance(shape[0], str)

    @property
    def x(self) -> Any:
        """The sample's input as the graph reads it (with its batch dim of 1 when it has one)."""
        return self.runtime.inputs[self.input]

    def per_sample(self, tensor: Any) -> Any:
        """A value of the one-sample run without its batch dim."""
        if self._batched(self.input) and tensor.dim() >= 1 and tensor.shape[0] == 1:
            return tensor[0]
        return tensor

    def value(self, x: Any, value: str) -> Any:
        """`value` of this sample (batch dim dropped) when the input is `x` (one of `values`)."""
        return self.per_sample(self.runtime.forward({self.input: x})[value])

    def shape_of(self, value: str) -> tuple[int, ...]:
        """The shape of `value` for one sample, at the sample's own input."""
        with torch.no_grad():
            return tuple(self.value(self.x, value).shape)


def train_weights(
    graph: Graph, base_dir: Path | str, steps: int, seed: int = 0, device: str = "cpu"
) -> dict[str, Any]:
    """The weights after `steps` steps of the graph's own training (graphcore.training's Trainer, in
    float32 as `graphcore train`, on `device`; deterministic for a seed): the state_dict InputModel takes."""
    from graphcore.training.train import Trainer

    trainer = Trainer(graph, base_dir, {"steps": steps, "seed": seed, "device": device})
    trainer.run()
    return {k: v.detach().clone() for k, v in trainer.module.state_dict().items()}
