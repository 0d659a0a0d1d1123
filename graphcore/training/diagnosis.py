"""Which node a failed or non-finite training step came from, found by replaying its batch through
the stepping engine (graphcore.stepping), one node at a time, when the fast path cannot say."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphcore._torch import torch
from graphcore.program import Instr, NodeError
from graphcore.runtime import Runtime
from graphcore.training.records import NonFinite, StepError


def node_error(
    runtime: Runtime, error: Exception, batch: Mapping[str, Any], loss: str, step: int
) -> ValueError:
    """What step `step` + 1 raised (on the pass to `loss`), as one line naming the node: the node
    whose line of the generated module raised it, else (an error in autograd's backward pass) the
    node where a replay of the batch through the stepping engine raises."""
    runtime.module.zero_grad(set_to_none=True)  # free the gradients before looking further
    if runtime.device.type == "cuda":
        torch.cuda.empty_cache()
    if isinstance(error, NodeError):  # Runtime.forward named it
        return error
    instr = runtime.failing_node(error)
    if instr is None:
        instr = _replay_failure(runtime, batch, loss)
    if instr is None:
        return StepError(f"training step {step + 1}: {NodeError.describe(error)}")
    return NodeError(instr, error)


def _replay_failure(runtime: Runtime, batch: Mapping[str, Any], loss: str) -> Instr | None:
    from graphcore.stepping import Stepper

    runtime.inputs.update(batch)
    try:
        for _ in Stepper(runtime, of=loss).events():
            pass
    except NodeError as found:
        return runtime.program.by_node[found.node]
    except Exception:  # noqa: BLE001 - the replay itself failed outside any node: nothing to name
        return None
    return None


def locate_nonfinite(runtime: Runtime, batch: Mapping[str, Any], loss: str, step: int) -> NonFinite | None:
    """Replay the batch node by node and name the first value, then gradient, that is not finite
    on the pass to `loss` (at step `step`)."""
    from graphcore.stepping import Stepper

    runtime.inputs.update(batch)
    stepper = Stepper(runtime, of=loss)
    for event in stepper.events():
        produced = {
            **event.outputs,
            **event.passed,
            **event.accumulated,
            **{f"{event.node}.{k}": v for k, v in event.weights.items()},
        }
        for name, tensor in produced.items():
            if tensor is not None and tensor.is_floating_point() and not torch.isfinite(tensor).all():
                return NonFinite(event.node, event.phase, name, step)
    return None
