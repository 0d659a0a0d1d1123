"""One landscape request, answered whole: the plane, the grid of losses and every optimizer's path.

The CLI (`graphcore landscape`) and the app's dock both call `compute`; the app calls it in its
worker thread, with a `progress` that raises once the user cancels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from graphcore._torch import torch
from graphcore.graph import Graph
from graphcore.landscape.grid import Grid, Progress, compute_grid
from graphcore.landscape.loss import LossFunction
from graphcore.landscape.paths import OptimizerSpec, Path, run_path
from graphcore.landscape.plane import Plane, parameter_plane, random_plane
from graphcore.runtime import resolve_device


@dataclass(frozen=True)
class Request:
    """What to draw: `params` names two scalar Parameters (None: random directions from `seed`);
    the grid spans `span` either side of the start, unless `x_range` / `y_range` say otherwise.
    The loss is computed at `dtype` on `device` (runtime.resolve_device reads it)."""

    specs: tuple[OptimizerSpec, ...]
    steps: int = 100
    params: tuple[str, str] | None = None
    seed: int = 0
    span: float = 1.0
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    resolution: int = 41
    dtype: str = "float64"
    device: str = "cpu"


@dataclass
class Landscape:
    loss: str  # the value minimised, "node.port"
    data: str  # which samples it is computed on
    plane: Plane
    grid: Grid
    paths: list[Path]
    dtype: str  # what it was computed in: "float64", "float32"
    device: str  # where: "cpu", "cuda", "cuda:1"

    def as_dict(self) -> dict[str, Any]:
        """The JSON the CLI prints (docs/landscape.md describes it)."""
        return {
            "loss": self.loss,
            "data": self.data,
            "dtype": self.dtype,
            "device": self.device,
            "mode": "random-directions" if self.plane.random else "params",
            "axes": list(self.plane.axes),
            "start": list(self.plane.start),
            "grid": {"x": self.grid.xs, "y": self.grid.ys, "values": self.grid.values},
            "paths": [
                {
                    "optimizer": path.label,
                    "hyperparameters": path.optimizer,
                    "points": [list(point) for point in path.points],
                    "losses": path.losses,
                    "diverged": path.diverged,
                }
                for path in self.paths
            ],
        }


def make_plane(loss: LossFunction, request: Request) -> Plane:
    if request.params is None:
        return random_plane(loss, request.seed)
    return parameter_plane(loss, *request.params)


def compute(
    graph: Graph, request: Request, base_dir: FilePath | str = ".", progress: Progress | None = None
) -> Landscape:
    """The grid (progress per row) then each path (progress per path), out of one total; torch's
    random generators (the CPU's, and the GPU's computed on) are as they were before, afterwards."""
    with torch.random.fork_rng(devices=_gpus(resolve_device(request.device))):
        return _compute(graph, request, base_dir, progress)


def _gpus(device: Any) -> list[int]:
    """The GPU whose random generator a computation on `device` draws from (none on the CPU)."""
    if device.type != "cuda":
        return []
    return [torch.cuda.current_device() if device.index is None else device.index]


def _compute(
    graph: Graph, request: Request, base_dir: FilePath | str, progress: Progress | None
) -> Landscape:
    loss = LossFunction(graph, base_dir, request.dtype, request.device)
    plane = make_plane(loss, request)
    (x0, y0), span = plane.start, request.span
    x_range = request.x_range or (x0 - span, x0 + span)
    y_range = request.y_range or (y0 - span, y0 + span)
    total = request.resolution + len(request.specs)

    def rows(done: int, _: int) -> None:
        if progress is not None:
            progress(done, total)

    def loss_at(theta: Any) -> Any:
        return loss(plane.weights(theta))

    grid = compute_grid(loss, plane, x_range, y_range, request.resolution, rows)
    paths = []
    for index, spec in enumerate(request.specs):
        paths.append(run_path(loss_at, plane.start, spec, request.steps, loss.dtype, loss.device))
        rows(request.resolution + index + 1, total)
    dtype = str(loss.dtype).removeprefix("torch.")
    return Landscape(loss.loss, loss.data, plane, grid, paths, dtype, str(loss.device))
