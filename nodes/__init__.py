"""The built-in node library. Importing this package registers every family, in this order."""

from nodes import sources, elementwise, reductions, layers, losses  # noqa: F401
