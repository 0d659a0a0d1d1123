"""The built-in node library. Importing this package registers every family, in this order."""

from nodes import (  # noqa: F401
    activations,
    attention,
    blocks,
    convolution,
    elementwise,
    gradients,
    imported,
    joins,
    layers,
    losses,
    norms,
    recurrent,
    reductions,
    shape_ops,
    sources,
    statistics,
    tensor_ops,
)
